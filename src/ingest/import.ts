/**
 * Bulk import of a file of records (NDJSON, or CSV with the field names as
 * header) of any size: records are validated as they stream, copied chunk by
 * chunk into a staging table with `COPY`, and each chunk merged into the care
 * table by one set-based upsert with the same rules as the ingest API (newest
 * updatedAt wins, within the file too; unknown references reported). The
 * server merges one chunk while this process reads the next. The file goes in
 * whole or not at all: it is one transaction.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as csvParse } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction } from '../db/database.ts';
import { allFields, ENTITIES, type EntityDef, type FieldDef } from './entities.ts';
import { keyColumns, recordColumns, upsertSql, writeBatch } from './store.ts';
import { validateRecords, type RecordError, type Validated } from './validate.ts';

export interface ImportResult {
  readonly received: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  /** How many references name ids the company does not have, and the first of them. */
  readonly unknownReferenceCount: number;
  readonly unknownReferences: readonly { line: number; field: string; id: string; entity: string }[];
}

export class ImportRejected extends Error {
  override name = 'ImportRejected';
  readonly errors: readonly RecordError[];
  readonly errorCount: number;
  constructor(errors: readonly RecordError[], errorCount: number) {
    const f = errors[0]!;
    super(`${errorCount} problem${errorCount === 1 ? '' : 's'} in the file, nothing was written; first: line ${f.line}${f.field ? `, ${f.field}` : ''}: ${f.reason}`);
    this.errors = errors;
    this.errorCount = errorCount;
  }
}

export interface ImportOptions {
  readonly format?: 'ndjson' | 'csv';
  /** Called as the file is read: records so far, bytes read, file size. */
  readonly onProgress?: (records: number, bytes: number, size: number) => void;
}

/** Records validated, staged and merged together; the next chunk is read while the server merges this one. */
const CHUNK = 50_000;
const MAX_REPORTED = 1000;

export async function importFile(pool: pg.Pool, companyId: string, entity: EntityDef, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const format = opts.format ?? (file.endsWith('.csv') ? 'csv' : 'ndjson');
  const size = fs.statSync(file).size;
  const input = fs.createReadStream(file);
  const records = format === 'csv' ? csvRecords(input, entity) : ndjsonRecords(input);
  try {
    return await inTransaction(pool, (client) => importRecords(client, companyId, entity, records, { onChunk: (n) => opts.onProgress?.(n, input.bytesRead, size) }));
  } finally {
    input.destroy();
  }
}

/**
 * Imports records on `client`, inside the caller's transaction (which the
 * caller rolls back on ImportRejected). The demo generator loads through here.
 */
export async function importRecords(
  client: pg.ClientBase,
  companyId: string,
  entity: EntityDef,
  records: AsyncIterable<SourceRecord> | Iterable<SourceRecord>,
  opts: { onChunk?: (received: number) => void } = {},
): Promise<ImportResult> {
  const errors: RecordError[] = [];
  let errorCount = 0;
  let received = 0;
  // Typed staging: PostgreSQL parses each value once, straight into its column.
  const cols = allFields(entity).filter((f) => f.column);
  await client.query('DROP TABLE IF EXISTS care_stage');
  await client.query(`CREATE TEMP TABLE care_stage (line bigint NOT NULL, ${recordColumns(entity)}) ON COMMIT DROP`);
  await client.query(`SET LOCAL work_mem = '256MB'`);
  const keyCols = keyColumns(entity);
  const mergeSql = `WITH m AS (
       ${upsertSql(entity, `(SELECT DISTINCT ON (${keyCols.join(', ')}) * FROM care_stage ORDER BY ${keyCols.join(', ')}, updated_at DESC, line DESC) r`)}
       RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*)::int AS applied FROM m`;
  const totals = { inserted: 0, applied: 0, unknownReferenceCount: 0, unknownReferences: [] as ImportResult['unknownReferences'][number][] };
  /** Stages one chunk and merges it; the merge runs in the server while the next chunk is read and validated. */
  const stageAndMerge = async (text: string) => {
    await pipeline(Readable.from([text]), client.query(copyFrom(`COPY care_stage (line, ${cols.map((f) => f.column).join(', ')}) FROM STDIN WITH (FORMAT csv)`)));
    const merged = (await client.query<{ inserted: number; applied: number }>(mergeSql, [companyId])).rows[0]!;
    const unknown = await unknownReferences(client, companyId, entity);
    await client.query('TRUNCATE care_stage');
    totals.inserted += merged.inserted;
    totals.applied += merged.applied;
    totals.unknownReferenceCount += unknown.unknownReferenceCount;
    totals.unknownReferences.push(...unknown.unknownReferences.slice(0, 100 - totals.unknownReferences.length));
  };
  // Versions of one key in different chunks meet the same rule as versions across requests: the newest wins.
  let merging: Promise<void> = Promise.resolve();
  const agents: Validated[] = [];
  let chunk: SourceRecord[] = [];
  const flush = async () => {
    const unreadable: RecordError[] = chunk.filter((r) => r.invalid).map((r) => ({ line: r.line, field: null, reason: r.invalid! }));
    const { ok, errors: invalid } = validateRecords(entity, chunk.filter((r) => !r.invalid));
    const bad = [...unreadable, ...invalid].sort((a, b) => a.line - b.line);
    errorCount += bad.length;
    for (const e of bad) if (errors.length < MAX_REPORTED) errors.push(e);
    chunk = [];
    if (errorCount > 0) return; // the import will be rejected: stop writing, keep validating
    if (entity.name === 'agents') {
      agents.push(...ok);
      return;
    }
    const text = ok.map((r) => `${r.line},${cols.map((f) => csvCell(r.row[f.column] ?? null)).join(',')}\n`).join('');
    await merging;
    merging = stageAndMerge(text);
    merging.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
  };
  for await (const r of records) {
    chunk.push(r);
    received++;
    if (chunk.length >= CHUNK) {
      await flush();
      opts.onChunk?.(received);
    }
  }
  await flush();
  await merging;
  opts.onChunk?.(received);
  if (errorCount > 0) throw new ImportRejected(errors, errorCount);
  if (entity.name === 'agents') {
    // Agents carry their team memberships; they are few, so they take the ingest API's path.
    const r = await writeBatch(client, companyId, entity, agents);
    return { ...r, unknownReferenceCount: r.unknownReferences.length, unknownReferences: r.unknownReferences.slice(0, 100) };
  }
  return {
    received,
    inserted: totals.inserted,
    updated: totals.applied - totals.inserted,
    unchanged: received - totals.applied,
    unknownReferenceCount: totals.unknownReferenceCount,
    unknownReferences: totals.unknownReferences.sort((a, b) => a.line - b.line),
  };
}

/** Staged references to ids the company does not have: a count, and the first 100 with their lines. */
async function unknownReferences(client: pg.ClientBase, companyId: string, entity: EntityDef): Promise<Pick<ImportResult, 'unknownReferenceCount' | 'unknownReferences'>> {
  let count = 0;
  const first: ImportResult['unknownReferences'][number][] = [];
  for (const f of allFields(entity).filter((x): x is FieldDef & { ref: NonNullable<FieldDef['ref']> } => x.ref !== undefined && x.type === 'id')) {
    const target = ENTITIES.find((e) => e.name === f.ref)!;
    const targetKey = keyColumns(target)[0]!;
    const r = await client.query<{ line: string; id: string; n: number }>(
      `SELECT s.line::text, s.${f.column}::text AS id, count(*) OVER ()::int AS n
         FROM care_stage s
        WHERE s.${f.column} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM ${target.table} x WHERE x.company_id = $1 AND x.${targetKey} = s.${f.column})
        ORDER BY s.line LIMIT 100`,
      [companyId],
    );
    count += r.rows[0]?.n ?? 0;
    for (const x of r.rows) first.push({ line: Number(x.line), field: f.name, id: x.id, entity: target.name });
  }
  return { unknownReferenceCount: count, unknownReferences: first.sort((a, b) => a.line - b.line).slice(0, 100) };
}

/** A record as read from a source, by line; `invalid` when the line could not be read as JSON. */
export type SourceRecord = { line: number; value: unknown; invalid?: string };

/** A value as a CSV cell for COPY: empty for null, quoted text, PostgreSQL array literals for lists, JSON for objects. */
export function csvCell(v: string | number | boolean | string[] | object | null): string {
  if (v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const text = Array.isArray(v) ? `{${v.map((x) => `"${String(x).replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}` : typeof v === 'string' ? v : JSON.stringify(v);
  return `"${text.replace(/"/g, '""')}"`;
}

async function* ndjsonRecords(input: fs.ReadStream): AsyncGenerator<SourceRecord> {
  let line = 0;
  for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) as unknown };
    } catch (e) {
      yield { line, value: undefined, invalid: `not valid JSON (${(e as Error).message})` };
    }
  }
}

/** CSV with the record's field names as header; cells are read as the field's type (empty = absent). */
async function* csvRecords(input: fs.ReadStream, entity: EntityDef): AsyncGenerator<SourceRecord> {
  const fields = new Map(allFields(entity).map((f) => [f.name, f]));
  const parser = input.pipe(csvParse({ columns: true, info: true, skip_empty_lines: true, bom: true }));
  for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const value: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec.record)) {
      if (v === '') continue;
      value[k] = cell(fields.get(k), v);
    }
    yield { line: rec.info.lines, value };
  }
}

function cell(f: FieldDef | undefined, v: string): unknown {
  switch (f?.type) {
    case 'integer':
      return /^-?\d+$/.test(v) ? Number(v) : v;
    case 'boolean':
      return v === 'true' ? true : v === 'false' ? false : v;
    case 'text[]':
      return v.startsWith('[') ? safeJson(v) : v.split(',').map((s) => s.trim());
    case 'object':
      return safeJson(v);
    default:
      return v;
  }
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
