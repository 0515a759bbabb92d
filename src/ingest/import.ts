/**
 * Bulk import of a file of records (NDJSON, or CSV with the field names as
 * header) of any size, with the ingest API's rules (newest updatedAt wins,
 * within the file too; unknown references reported). Records are validated
 * in chunks as they stream. A chunk of new records (no key the company
 * already has, none twice) is copied straight into the care table with
 * `COPY`; any other chunk is copied into a staging table and merged by one
 * set-based upsert. The server writes one chunk while this process reads the
 * next. The file goes in whole or not at all: it is one transaction.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as csvParse } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction } from '../db/database.ts';
import { allFields, type EntityDef, type FieldDef } from './entities.ts';
import { idRange, keyColumns, MAX_UNKNOWN_LISTED, recordColumns, References, sqlType, upsertSql, writeBatch, type IngestResult, type UnknownReference } from './store.ts';
import { validatorOf, type RecordError, type Row, type Validated } from './validate.ts';

/** An import's outcome is a batch's: the same counts and unknown references. */
export type ImportResult = IngestResult;

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
  /** Read, check and write the whole file as usual, then roll it all back: what the import would do. */
  readonly dryRun?: boolean;
  /** Called as the file is read: records so far, bytes read, file size (0 when unknown: standard input). */
  readonly onProgress?: (records: number, bytes: number, size: number) => void;
}

/** Records validated and written together; the next chunk is read while the server writes this one. */
const CHUNK = 50_000;
const FIRST_CHUNK = 2_000;
const MAX_REPORTED = 1000;

/**
 * Imports a file: `-` is standard input, and a name ending in `.gz` is
 * decompressed as it is read (`posts.ndjson.gz`, `agents.csv.gz`).
 */
export async function importFile(pool: pg.Pool, companyId: string, entity: EntityDef, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const gzip = file.endsWith('.gz');
  const name = gzip ? file.slice(0, -3) : file;
  const format = opts.format ?? (name.endsWith('.csv') ? 'csv' : 'ndjson');
  const stdin = file === '-';
  const size = stdin ? 0 : fs.statSync(file).size;
  const onDisk = stdin ? undefined : fs.createReadStream(file);
  const input: Readable = onDisk ?? process.stdin;
  const text = gzip ? input.pipe(zlib.createGunzip()) : input;
  if (gzip) input.on('error', (e: Error) => text.destroy(e));
  const records = format === 'csv' ? csvRecords(text, entity) : ndjsonRecords(text);
  try {
    return await inTransaction(
      pool,
      (client) => importRecords(client, companyId, entity, records, { onChunk: (n) => opts.onProgress?.(n, onDisk?.bytesRead ?? 0, size) }),
      { dryRun: opts.dryRun ?? false },
    );
  } catch (e) {
    // A chunk checked as new met a key that another writer stored after the check.
    if ((e as { code?: string }).code === '23505') {
      throw new Error(`another writer stored some of these ${entity.name} while the import ran, so nothing was imported; run the import again (it applies each record once)`, { cause: e });
    }
    throw e;
  } finally {
    onDisk?.destroy();
    if (text !== input) text.destroy();
  }
}

/**
 * Imports records on `client`, inside the caller's transaction (which the
 * caller rolls back on ImportRejected). The demo generator loads through here.
 * Each record is checked and turned into its COPY line as it is read, so a
 * chunk holds text, keys and references, not parsed records.
 */
export async function importRecords(
  client: pg.ClientBase,
  companyId: string,
  entity: EntityDef,
  records: AsyncIterable<readonly SourceRecord[]> | Iterable<SourceRecord>,
  opts: { onChunk?: (received: number) => void; chunkSize?: number } = {},
): Promise<ImportResult> {
  const chunkSize = opts.chunkSize ?? CHUNK;
  const check = validatorOf(entity);
  const errors: RecordError[] = [];
  let errorCount = 0;
  let received = 0;
  let now = Date.now();
  const found: RecordError[] = [];
  const reject = (e: RecordError) => {
    errorCount++;
    if (errors.length < MAX_REPORTED) errors.push(e);
  };
  const batched: Validated[] = [];
  const writer = new ChunkWriter(client, companyId, entity, chunkSize);
  /** Takes one record; true when the writer's chunk is full. */
  const take = (r: SourceRecord): boolean => {
    received++;
    if (received % chunkSize === 0) {
      opts.onChunk?.(received);
      now = Date.now();
    }
    if (r.invalid !== undefined) {
      reject({ line: r.line, field: null, reason: r.invalid });
      return false;
    }
    const v = check(r.line, r.value, now, found);
    if (!v) {
      for (const e of found) reject(e);
      found.length = 0;
      return false;
    }
    if (errorCount > 0) return false; // the import will be rejected: stop writing, keep validating
    if (entity.membershipsField === undefined) return writer.add(v);
    batched.push(v);
    return false;
  };
  if (Symbol.asyncIterator in records) {
    for await (const batch of records) for (const r of batch) if (take(r)) await writer.flush();
  } else {
    for (const r of records) if (take(r)) await writer.flush();
  }
  await writer.finish();
  opts.onChunk?.(received);
  if (errorCount > 0) throw new ImportRejected(errors, errorCount);
  if (entity.membershipsField !== undefined) {
    // Memberships are replaced record by record; such entities (agents) are few, so they take the ingest API's path.
    return writeBatch(client, companyId, entity, batched);
  }
  const t = writer.totals;
  return {
    received,
    inserted: t.inserted,
    updated: t.applied - t.inserted,
    unchanged: received - t.applied,
    unknownReferenceCount: t.unknownReferenceCount,
    unknownReferences: t.unknownReferences,
  };
}

/**
 * One chunk of validated records: their COPY text (company first), kept off
 * the JavaScript heap as buffers, and each one's key and references.
 */
interface Chunk {
  readonly text: Buffer[];
  count: number;
  /** Per key column, each record's value. */
  readonly keys: string[][];
  readonly refs: References;
}

/** COPY text is gathered in strings of about this many characters, then encoded to a buffer. */
const TEXT_PIECE = 1 << 18;
/**
 * Writes the chunks of one entity for one company, on one connection, in
 * order. The server writes one chunk while the caller reads the next.
 */
class ChunkWriter {
  readonly totals = { inserted: 0, applied: 0, unknownReferenceCount: 0, unknownReferences: [] as UnknownReference[] };
  private readonly client: pg.ClientBase;
  private readonly companyId: string;
  private readonly entity: EntityDef;
  private readonly size: number;
  /** The first chunks are small, so that the server starts writing early; they double up to `size`. */
  private target: number;
  private readonly cols: readonly FieldDef[];
  private readonly keyFields: readonly FieldDef[];
  private readonly keyCols: readonly string[];
  private readonly serializeRow: (row: Row) => string;
  private chunk: Chunk;
  private pending = '';
  private writing: Promise<void> = Promise.resolve();
  private staged = false;

  constructor(client: pg.ClientBase, companyId: string, entity: EntityDef, size: number) {
    this.client = client;
    this.companyId = companyId;
    this.entity = entity;
    this.size = size;
    this.target = Math.min(size, FIRST_CHUNK);
    this.cols = allFields(entity).filter((f) => f.column);
    this.keyCols = keyColumns(entity);
    this.keyFields = this.keyCols.map((col) => this.cols.find((f) => f.column === col)!);
    this.serializeRow = rowSerializer(this.cols);
    this.chunk = this.empty();
  }

  /** Adds a record; true when the chunk is full and should be flushed. */
  add(v: Validated): boolean {
    const c = this.chunk;
    this.pending += `${this.companyId},${this.serializeRow(v.row)}\n`;
    if (this.pending.length >= TEXT_PIECE) {
      c.text.push(Buffer.from(this.pending));
      this.pending = '';
    }
    c.count++;
    for (let i = 0; i < this.keyCols.length; i++) c.keys[i]!.push(v.row[this.keyCols[i]!] as string);
    c.refs.add(v);
    return c.count >= this.target;
  }

  /** Hands the chunk to the server once it has written the previous one. */
  async flush(): Promise<void> {
    const c = this.chunk;
    if (this.pending !== '') c.text.push(Buffer.from(this.pending));
    this.pending = '';
    this.chunk = this.empty();
    this.target = Math.min(this.size, this.target * 2);
    await this.writing;
    if (c.count === 0) return;
    this.writing = this.write(c);
    this.writing.catch(() => undefined); // awaited by the next flush or finish; this only keeps an early failure from going unhandled
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.writing;
  }

  private empty(): Chunk {
    return { text: [], count: 0, keys: this.keyCols.map(() => []), refs: new References(this.entity) };
  }

  private async write(c: Chunk): Promise<void> {
    if (await this.allNew(c)) {
      await this.copy(`COPY ${this.entity.table} (company_id, ${this.cols.map((f) => f.column).join(', ')}) FROM STDIN WITH (FORMAT csv)`, c);
      this.totals.inserted += c.count;
      this.totals.applied += c.count;
    } else {
      await this.merge(c);
    }
    const unknown = await c.refs.missing(this.client, this.companyId, MAX_UNKNOWN_LISTED - this.totals.unknownReferences.length);
    this.totals.unknownReferenceCount += unknown.count;
    this.totals.unknownReferences.push(...unknown.first);
  }

  /**
   * True when no key of the chunk is there twice and none is stored yet, so
   * that plain COPY into the table is the same as the upsert. Ids of a
   * source mostly grow, so one probe of the chunk's id range usually
   * answers; otherwise the keys are looked up one by one.
   */
  private async allNew(c: Chunk): Promise<boolean> {
    const { keys } = c;
    const seen = new Set<string>();
    for (let i = 0; i < c.count; i++) {
      const k = keys.length === 1 ? keys[0]![i]! : keys.map((col) => col[i]).join('\u0000');
      if (seen.has(k)) return false;
      seen.add(k);
    }
    const table = this.entity.table;
    if (this.keyFields.length === 1 && this.keyFields[0]!.type === 'id') {
      const [lo, hi] = idRange(keys[0]!);
      const range = await this.client.query(`SELECT 1 FROM ${table} WHERE company_id = $1 AND ${this.keyCols[0]} BETWEEN $2 AND $3 LIMIT 1`, [this.companyId, lo, hi]);
      if (range.rowCount === 0) return true;
    }
    const types = this.keyFields.map(sqlType);
    const stored = await this.client.query(
      `SELECT 1 FROM unnest(${types.map((t, i) => `$${i + 2}::${t}[]`).join(', ')}) AS k(${this.keyCols.join(', ')})
        WHERE EXISTS (SELECT 1 FROM ${table} t WHERE t.company_id = $1 AND ${this.keyCols.map((col) => `t.${col} = k.${col}`).join(' AND ')})
        LIMIT 1`,
      [this.companyId, ...keys],
    );
    return stored.rowCount === 0;
  }

  /**
   * Stages the chunk and upserts it: the newest version of each key wins (the
   * later record on a tie, numbered by `seq` in file order), and only over an
   * older stored one.
   */
  private async merge(c: Chunk): Promise<void> {
    const cols = this.cols.map((f) => f.column).join(', ');
    if (!this.staged) {
      await this.client.query('DROP TABLE IF EXISTS care_stage');
      await this.client.query(`CREATE TEMP TABLE care_stage (company_id bigint, ${recordColumns(this.entity)}, seq bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DROP`);
      await this.client.query(`SET LOCAL work_mem = '256MB'`);
      this.staged = true;
    }
    await this.copy(`COPY care_stage (company_id, ${cols}) FROM STDIN WITH (FORMAT csv)`, c);
    const keys = this.keyCols.join(', ');
    const merged = await this.client.query<{ inserted: number; applied: number }>(
      `WITH m AS (
         ${upsertSql(this.entity, `(SELECT DISTINCT ON (${keys}) * FROM care_stage ORDER BY ${keys}, updated_at DESC, seq DESC) r`)}
         RETURNING (xmax = 0) AS inserted)
       SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*)::int AS applied FROM m`,
      [this.companyId],
    );
    await this.client.query('TRUNCATE care_stage');
    this.totals.inserted += merged.rows[0]!.inserted;
    this.totals.applied += merged.rows[0]!.applied;
  }

  /** COPY of the chunk's text. */
  private async copy(sql: string, c: Chunk): Promise<void> {
    const stream = this.client.query(copyFrom(sql));
    await pipeline(Readable.from(c.text), stream);
  }
}

/**
 * A row's columns as CSV cells for COPY. Validated ids, numbers, times,
 * enums and UUIDs hold no comma, quote or line break, so they are written as
 * they are; text is always quoted (an empty string is not NULL).
 */
function rowSerializer(cols: readonly FieldDef[]): (row: Row) => string {
  const plain = (v: Row[string]) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
  const cells = cols.map((f) => (f.type === 'text' || f.type === 'text[]' || f.type === 'object' ? csvCell : plain));
  const names = cols.map((f) => f.column);
  return (row) => {
    let line = cells[0]!(row[names[0]!] ?? null);
    for (let i = 1; i < names.length; i++) line += `,${cells[i]!(row[names[i]!] ?? null)}`;
    return line;
  };
}

/** A record as read from a source, by line; `invalid` when the line could not be read as JSON. */
export type SourceRecord = { line: number; value: unknown; invalid?: string };

/** A value as a CSV cell for COPY: empty for null, quoted text, PostgreSQL array literals for lists, JSON for objects. */
export function csvCell(v: string | number | boolean | string[] | object | null): string {
  if (v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const text = Array.isArray(v) ? `{${v.map((x) => `"${String(x).replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}` : typeof v === 'string' ? v : JSON.stringify(v);
  return `"${text.includes('"') ? text.replaceAll('"', '""') : text}"`;
}

/** NDJSON records by line number, a batch per piece read; blank lines are skipped, a line that is not JSON is marked invalid. */
async function* ndjsonRecords(input: Readable): AsyncGenerator<SourceRecord[]> {
  let line = 0;
  try {
    for await (const texts of lines(input)) {
      const batch: SourceRecord[] = [];
      for (const text of texts) {
        line++;
        if (text.trim() === '') continue;
        try {
          batch.push({ line, value: JSON.parse(text) as unknown });
        } catch (e) {
          batch.push({ line, value: undefined, invalid: `not valid JSON (${(e as Error).message})` });
        }
      }
      yield batch;
    }
  } catch (e) {
    if (!(e instanceof SourceProblem)) throw e;
    // The rest of the file cannot be read as lines: the import stops here, and is refused.
    yield [{ line: line + 1, value: undefined, invalid: e.message }];
  }
}

/** A file that cannot be read on from some point: bytes that are not UTF-8, or a line too long to be a record. */
class SourceProblem extends Error {}

/** Longer than any valid record (its texts are at most 100,000 characters each); stops a file with no line breaks from filling memory. */
const MAX_LINE = 16 * 1024 * 1024;

/**
 * The text of a UTF-8 stream, refusing bytes that are not UTF-8 (a leading
 * byte-order mark is dropped). Before refusing, it hands on the text up to
 * the first bad byte, so that the line it is on gets the blame.
 */
async function* utf8(input: Readable): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const refuse = (bytes: Buffer) => {
    const text = new TextDecoder('utf-8').decode(bytes);
    return { before: text.slice(0, Math.max(0, text.indexOf('\ufffd'))), problem: new SourceProblem('not valid UTF-8; save the file as UTF-8') };
  };
  for await (const bytes of gzipChecked(input)) {
    let text: string;
    try {
      text = decoder.decode(bytes, { stream: true });
    } catch {
      const { before, problem } = refuse(bytes);
      yield before;
      throw problem;
    }
    yield text;
  }
  try {
    const end = decoder.decode();
    if (end !== '') yield end;
  } catch {
    throw new SourceProblem('not valid UTF-8 (the file ends inside a character); save the file as UTF-8');
  }
}

/** The bytes of a stream; a gzip stream that is not gzip is a SourceProblem, not a crash. */
async function* gzipChecked(input: Readable): AsyncGenerator<Buffer> {
  try {
    for await (const bytes of input as AsyncIterable<Buffer>) yield bytes;
  } catch (e) {
    if (typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('Z_')) {
      throw new SourceProblem(`not a valid gzip file (${(e as Error).message})`);
    }
    throw e;
  }
}

/** The lines of a UTF-8 stream (LF or CRLF), a batch per piece read. */
async function* lines(input: Readable): AsyncGenerator<string[]> {
  let rest = '';
  for await (const piece of utf8(input)) {
    const text = rest + piece;
    const batch: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      batch.push(text.charCodeAt(nl - 1) === 13 && nl > start ? text.slice(start, nl - 1) : text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
    if (rest.length > MAX_LINE) throw new SourceProblem(`a line longer than ${MAX_LINE.toLocaleString('en')} characters; records are one per line`);
    yield batch;
  }
  if (rest !== '') yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest];
}

/** CSV with the record's field names as header; cells are read as the field's type (empty = absent). */
async function* csvRecords(input: Readable, entity: EntityDef): AsyncGenerator<SourceRecord[]> {
  const fields = new Map(allFields(entity).map((f) => [f.name, f]));
  const parser = csvParse({ columns: true, info: true, skip_empty_lines: true, max_record_size: MAX_LINE });
  const text = Readable.from(utf8(input));
  text.on('error', (e) => parser.destroy(e));
  text.pipe(parser);
  let batch: SourceRecord[] = [];
  let line = 1;
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      const value: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rec.record)) {
        if (v === '') continue;
        value[k] = cell(fields.get(k), v);
      }
      line = rec.info.lines;
      batch.push({ line, value });
      if (batch.length === 1000) {
        yield batch;
        batch = [];
      }
    }
  } catch (e) {
    const csvError = (e as { code?: string }).code?.startsWith('CSV_') === true;
    if (!csvError && !(e instanceof SourceProblem)) throw e;
    // csv-parse names the line it stopped at; the rest of the file cannot be read as records.
    const at = (e as { lines?: number }).lines;
    batch.push({ line: csvError && at ? at : line + 1, value: undefined, invalid: csvError ? `not valid CSV (${(e as Error).message})` : (e as Error).message });
  }
  yield batch;
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
