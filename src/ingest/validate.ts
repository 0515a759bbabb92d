/**
 * Validation of ingested records against their entity's schema. Each problem
 * names the record's line (NDJSON, CSV) or position (JSON array), the field
 * and the reason; a batch or file with any problem is rejected whole.
 */
import { allFields, type EntityDef, type FieldDef } from './entities.ts';
import type { SourceRecord, ReadRecord } from './read.ts';
import { Problems } from './rejection.ts';

/** A validated record: column → value, ready for the upsert (ids and times as text). */
export type Row = Record<string, string | number | boolean | string[] | object | null>;

export interface Validated {
  readonly line: number;
  readonly row: Row;
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

/**
 * A batch checked: its valid records, and its problems, every one counted but
 * only the first MAX_PROBLEMS_LISTED kept, however many the batch has.
 */
export function validateRecords(entity: EntityDef, records: readonly SourceRecord[], now = Date.now()): { ok: Validated[]; problems: Problems } {
  const check = validatorOf(entity);
  const ok: Validated[] = [];
  const problems = new Problems();
  for (const { line, value } of records) {
    const v = check(line, value, now, problems);
    if (v) ok.push(v);
  }
  return { ok, problems };
}

/**
 * The check of a source read record by record, for files too large to
 * validate as one batch: each record is validated as it arrives, and every
 * problem, a line the reader could not read included, is counted in `problems`.
 */
export class SourceCheck {
  readonly problems = new Problems();
  private readonly check: Check;

  constructor(entity: EntityDef) {
    this.check = validatorOf(entity);
  }

  /** The record validated, or undefined when it has problems. */
  take(r: ReadRecord, now: number): Validated | undefined {
    if ('reason' in r) {
      this.problems.add(r);
      return undefined;
    }
    return this.check(r.line, r.value, now, this.problems);
  }
}

/** Checks one record: the validated record, or undefined with its problems added to `problems`. */
export type Check = (line: number, value: unknown, now: number, problems: Problems) => Validated | undefined;
const validators = new Map<EntityDef, Check>();

/** One entity's record check, built once: it runs for every record of a bulk import. */
export function validatorOf(entity: EntityDef): Check {
  const cached = validators.get(entity);
  if (cached) return cached;
  const fields = allFields(entity);
  const names = new Set(fields.map((f) => f.name));
  const unknownField = `unknown field; ${entity.name} records have ${fields.map((f) => f.name).join(', ')}`;
  const notObject = `a record must be a JSON object with the fields of ${entity.name}`;
  const check: Check = (line, value, now, problems) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.add({ line, field: null, reason: notObject });
      return undefined;
    }
    const rec = value as Record<string, unknown>;
    const before = problems.count;
    for (const k of Object.keys(rec)) if (!names.has(k)) problems.add({ line, field: k, reason: unknownField });
    const row: Row = {};
    let teamIds: string[] | undefined;
    for (const f of fields) {
      const v = rec[f.name];
      if (v === undefined || v === null) {
        if (f.required) problems.add({ line, field: f.name, reason: entity.key.includes(f.name) ? 'missing id' : 'required' });
        else if (f.column) row[f.column] = f.default ?? null;
        continue;
      }
      const parsed = parseField(f, v, now);
      if (parsed instanceof Problem) problems.add({ line, field: f.name, reason: parsed.reason });
      else if (f.name === 'teamIds') teamIds = parsed as string[];
      else row[f.column] = parsed;
    }
    if (entity.name === 'agent-states' && typeof row['started_at'] === 'string' && typeof row['ended_at'] === 'string' && Date.parse(row['ended_at']) <= Date.parse(row['started_at'])) {
      problems.add({ line, field: 'endedAt', reason: 'must be after startedAt' });
    }
    if (problems.count !== before) return undefined;
    return teamIds ? { line, row, teamIds } : { line, row };
  };
  validators.set(entity, check);
  return check;
}

/** Why a value is invalid; returned (not thrown) so that a file of bad values stays cheap to check. */
class Problem {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGITS = /^\d{1,19}$/;
/** Text PostgreSQL cannot store: U+0000, and UTF-16 that is not Unicode (JSON may escape half a surrogate pair). */
function textProblem(s: string): Problem | undefined {
  if (s.includes('\u0000')) return new Problem('must not contain the character U+0000');
  if (!s.isWellFormed()) return new Problem('must be valid Unicode (it holds a lone surrogate)');
  return undefined;
}

/** Longest a value is shown in a reason, so that a reason stays short whatever the record holds. */
const SHOWN_MAX = 60;

/**
 * A value as JSON for a reason, cut after SHOWN_MAX characters: the work is as
 * small as the text, however long or deeply nested the value (JSON.stringify
 * of a list nested a million deep overflows the stack).
 */
function shown(v: unknown): string {
  let out = '';
  const put = (x: unknown): void => {
    if (out.length > SHOWN_MAX) return;
    if (typeof x === 'string') out += JSON.stringify(x.length > SHOWN_MAX ? x.slice(0, SHOWN_MAX) : x);
    else if (Array.isArray(x)) {
      out += '[';
      for (let i = 0; i < x.length && out.length <= SHOWN_MAX; i++) {
        if (i > 0) out += ',';
        put(x[i]);
      }
      out += ']';
    } else if (typeof x === 'object' && x !== null) {
      out += '{';
      let first = true;
      for (const k of Object.keys(x)) {
        if (out.length > SHOWN_MAX) break;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k.slice(0, SHOWN_MAX))}:`;
        put((x as Record<string, unknown>)[k]);
      }
      out += '}';
    } else out += String(JSON.stringify(x));
  };
  put(v);
  return out.length > SHOWN_MAX ? `${out.slice(0, SHOWN_MAX)}…` : out;
}

const MAX_DEPTH = 32;

/** The first textProblem of any key or string within a JSON value, or its being nested too deep to handle. */
function textIn(v: unknown, depth = 0): Problem | undefined {
  if (typeof v === 'string') return textProblem(v);
  if (typeof v !== 'object' || v === null) return undefined;
  if (depth >= MAX_DEPTH) return new Problem(`is nested deeper than ${MAX_DEPTH} levels`);
  for (const [k, x] of Object.entries(v)) {
    const p = (Array.isArray(v) ? undefined : textProblem(k)) ?? textIn(x, depth + 1);
    if (p) return p;
  }
  return undefined;
}

function parseField(f: FieldDef, v: unknown, now: number): Row[string] | Problem {
  switch (f.type) {
    case 'id':
      return parseId(v);
    case 'text':
      if (typeof v !== 'string') return new Problem(`must be a string, not ${typeof v}`);
      if (f.required && v.trim() === '') return new Problem('must not be empty');
      if (v.length > MAX_TEXT) return new Problem(`is ${v.length} characters; at most ${MAX_TEXT}`);
      return textProblem(v) ?? v;
    case 'integer': {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return new Problem(`must be a whole number, not ${shown(v)}`);
      if (f.min !== undefined && v < f.min) return new Problem(`${v} is below the minimum ${f.min}`);
      if (f.max !== undefined && v > f.max) return new Problem(`${v} is above the maximum ${f.max}`);
      return v;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : new Problem(`must be true or false, not ${shown(v)}`);
    case 'time':
      return parseTime(f, v, now);
    case 'enum':
      return typeof v === 'string' && f.values!.includes(v) ? v : new Problem(`${shown(v)} is not one of ${f.values!.join(', ')}`);
    case 'text[]': {
      if (!Array.isArray(v)) return new Problem('must be a list');
      if (f.ref) {
        const ids: string[] = [];
        for (const x of v) {
          const p = parseId(x);
          if (p instanceof Problem) return new Problem(`item ${shown(x)}: ${p.reason}`);
          ids.push(p);
        }
        return ids;
      }
      if (!v.every((x) => typeof x === 'string')) return new Problem('must be a list of strings');
      for (const x of v) {
        const p = textProblem(x);
        if (p) return p;
      }
      return v;
    }
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) return new Problem('must be a JSON object');
      const text = textIn(v);
      if (text) return text;
      const problem = f.check?.(v as Record<string, unknown>);
      return problem ? new Problem(problem) : (v);
    }
    case 'uuid':
      return typeof v === 'string' && UUID.test(v) ? v.toLowerCase() : new Problem('must be a UUID');
  }
}

/**
 * A time as text PostgreSQL reads exactly: a UTC ISO time as given (keeping
 * its microseconds), anything else (an offset, epoch milliseconds) in UTC.
 */
function parseTime(f: FieldDef, v: unknown, now: number): string | Problem {
  let ms: number;
  let utc = false;
  if (typeof v === 'number' && Number.isSafeInteger(v)) ms = v;
  else if (typeof v === 'string' && TIME.test(v)) {
    ms = Date.parse(v);
    // Date.parse rolls 2019-02-30 over to March; PostgreSQL would refuse it.
    if (!isCalendarDay(v)) ms = NaN;
    utc = v.endsWith('Z');
  } else return new Problem(`must be an ISO 8601 time with offset (2019-03-01T12:00:00Z) or epoch milliseconds, not ${shown(v)}`);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) return new Problem(`${shown(v)} is not a valid time`);
  if (!f.future && ms > now + FUTURE_TOLERANCE_MS) return new Problem(`${new Date(ms).toISOString()} is in the future`);
  return utc && (v as string).length >= 20 ? (v as string) : new Date(ms).toISOString();
}

/** The end of year 9999, the last a four-digit ISO time can name. */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function isCalendarDay(s: string): boolean {
  const year = Number(s.slice(0, 4));
  const month = Number(s.slice(5, 7));
  const day = Number(s.slice(8, 10));
  if (month < 1 || month > 12 || day < 1 || day > DAYS[month - 1]!) return false;
  return month !== 2 || day < 29 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

function parseId(v: unknown): string | Problem {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 1) return String(v);
  } else if (typeof v === 'string' && DIGITS.test(v)) {
    // Up to 18 digits without a leading zero is always in range; the rest takes the exact check.
    if (v.length < 19 && v.charCodeAt(0) !== 48) return v;
    const n = BigInt(v);
    if (n >= 1n && n <= MAX_ID) return String(n);
  }
  return new Problem(`must be a positive whole-number id, not ${shown(v)}`);
}
