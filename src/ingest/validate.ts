/**
 * Validation of ingested records against their entity's schema. Each problem
 * names the record's line (NDJSON) or position (JSON array), the field and
 * the reason; a batch with any problem is rejected whole.
 */
import { allFields, type EntityDef, type FieldDef } from './entities.ts';

export interface RecordError {
  readonly line: number;
  readonly field: string | null;
  readonly reason: string;
}

/** A validated record: column → value, ready for the upsert (ids and times as text). */
export type Row = Record<string, string | number | boolean | string[] | object | null>;

export interface Validated {
  readonly line: number;
  readonly row: Row;
  /** Ids this record refers to, by field. */
  readonly refs: readonly { field: FieldDef; ids: readonly string[] }[];
  /** agents.teamIds, kept apart from the row. */
  readonly teamIds?: readonly string[];
}

/** Per request to the ingest API; files of any size go through `care-reports import`. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
export const MAX_RECORDS = 10_000;

/** How far in the future a time may be (clock skew between the source and this service). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
const MAX_TEXT = 100_000;
const MAX_ID = 9223372036854775807n;

export function validateRecords(entity: EntityDef, records: readonly { line: number; value: unknown }[], now = Date.now()): { ok: Validated[]; errors: RecordError[] } {
  const fields = allFields(entity);
  const byName = new Map(fields.map((f) => [f.name, f]));
  const ok: Validated[] = [];
  const errors: RecordError[] = [];
  for (const { line, value } of records) {
    const err = (field: string | null, reason: string) => errors.push({ line, field, reason });
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      err(null, `a record must be a JSON object with the fields of ${entity.name}`);
      continue;
    }
    const rec = value as Record<string, unknown>;
    const before = errors.length;
    for (const k of Object.keys(rec)) {
      if (!byName.has(k)) err(k, `unknown field; ${entity.name} records have ${fields.map((f) => f.name).join(', ')}`);
    }
    const row: Row = {};
    const refs: { field: FieldDef; ids: string[] }[] = [];
    let teamIds: string[] | undefined;
    for (const f of fields) {
      const v = rec[f.name];
      if (v === undefined || v === null) {
        if (f.required) err(f.name, entity.key.includes(f.name) ? 'missing id' : 'required');
        else if (f.column) row[f.column] = null;
        continue;
      }
      const parsed = parseField(f, v, now);
      if ('error' in parsed) {
        err(f.name, parsed.error);
        continue;
      }
      if (f.name === 'teamIds') teamIds = parsed.value as string[];
      else row[f.column] = parsed.value;
      if (f.ref) refs.push({ field: f, ids: Array.isArray(parsed.value) ? (parsed.value as string[]) : [parsed.value as string] });
    }
    if (entity.name === 'agent-states' && typeof row['started_at'] === 'string' && typeof row['ended_at'] === 'string' && Date.parse(row['ended_at']) <= Date.parse(row['started_at'])) {
      err('endedAt', 'must be after startedAt');
    }
    if (errors.length === before) ok.push({ line, row, refs, ...(teamIds ? { teamIds } : {}) });
  }
  return { ok, errors };
}

function parseField(f: FieldDef, v: unknown, now: number): { value: Row[string] } | { error: string } {
  switch (f.type) {
    case 'id':
      return parseId(v);
    case 'text':
      if (typeof v !== 'string') return { error: `must be a string, not ${typeof v}` };
      if (f.required && v.trim() === '') return { error: 'must not be empty' };
      if (v.length > MAX_TEXT) return { error: `is ${v.length} characters; at most ${MAX_TEXT}` };
      return { value: v };
    case 'integer': {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return { error: `must be a whole number, not ${JSON.stringify(v)}` };
      if (f.min !== undefined && v < f.min) return { error: `${v} is below the minimum ${f.min}` };
      if (f.max !== undefined && v > f.max) return { error: `${v} is above the maximum ${f.max}` };
      return { value: v };
    }
    case 'boolean':
      return typeof v === 'boolean' ? { value: v } : { error: `must be true or false, not ${JSON.stringify(v)}` };
    case 'time': {
      let ms: number;
      if (typeof v === 'number' && Number.isSafeInteger(v)) ms = v;
      else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) ms = Date.parse(v);
      else return { error: `must be an ISO 8601 time with offset (2019-03-01T12:00:00Z) or epoch milliseconds, not ${JSON.stringify(v)}` };
      if (!Number.isFinite(ms) || ms < 0) return { error: `${JSON.stringify(v)} is not a valid time` };
      if (!f.future && ms > now + FUTURE_TOLERANCE_MS) return { error: `${new Date(ms).toISOString()} is in the future` };
      return { value: new Date(ms).toISOString() };
    }
    case 'enum':
      return typeof v === 'string' && f.values!.includes(v) ? { value: v } : { error: `${JSON.stringify(v)} is not one of ${f.values!.join(', ')}` };
    case 'text[]': {
      if (!Array.isArray(v)) return { error: 'must be a list' };
      if (f.ref) {
        const ids: string[] = [];
        for (const x of v) {
          const p = parseId(x);
          if ('error' in p) return { error: `item ${JSON.stringify(x)}: ${p.error}` };
          ids.push(p.value);
        }
        return { value: ids };
      }
      return v.every((x) => typeof x === 'string') ? { value: v } : { error: 'must be a list of strings' };
    }
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) return { error: 'must be a JSON object' };
      const problem = f.check?.(v as Record<string, unknown>);
      return problem ? { error: problem } : { value: v as object };
    }
    case 'uuid':
      return typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? { value: v.toLowerCase() } : { error: 'must be a UUID' };
  }
}

function parseId(v: unknown): { value: string } | { error: string } {
  const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' ? v : undefined;
  if (s === undefined || !/^\d{1,19}$/.test(s) || BigInt(s) < 1n || BigInt(s) > MAX_ID) {
    return { error: `must be a positive whole-number id, not ${JSON.stringify(v)}` };
  }
  return { value: String(BigInt(s)) };
}
