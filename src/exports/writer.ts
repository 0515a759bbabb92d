/**
 * The export pipeline: PostgreSQL writes the bytes (`COPY … TO STDOUT`), this
 * process only counts rows and frames JSON on the way to the file, or, for
 * xlsx, turns typed rows into sheet cells (./sheet.ts). Memory is bounded by
 * stream buffers whatever the row count, and backpressure flows from the file
 * back to the database socket through `pipeline`.
 *
 * A large CSV or JSON export is copied in parallel slices: ordered ranges of
 * its leading sort key, each over a connection of its own, all reading the
 * one snapshot the counting transaction exported. Each slice writes one
 * section of the file, which the store joins in order (../storage/sections.ts),
 * so the file is byte for byte what one COPY at that instant writes.
 */
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { copyOut } from './copy-out.ts';
import { sqlText } from './sql.ts';
import type { ReportFormat } from './catalog/formats.ts';
import type { ExportQuery, Slicing } from './query.ts';
import { openSheetWriter } from './sheet.ts';
import { sessionTimeZone, type Zone } from './time-style.ts';
import { sectioned, type Sectioned, type Sections } from '../storage/sections.ts';

/** Where an export's bytes go: a stream (sections joined through spool files), or a store's upload, which joins sections its own way. */
export type Destination = Writable | Sectioned;

/** Where an export's connections come from: a pool of the primary or of a replica, made by createPool (whose error handler takes what a connection ended by the server reports). */
export interface Connections {
  connect(): Promise<pg.PoolClient>;
}

/** When an export is copied in slices, and in how many. */
export interface SliceOptions {
  /** Slices at most; 1 copies every export in one piece. */
  readonly max: number;
  /** Exports with fewer rows are copied in one piece (a slice costs a connection and a spool file). */
  readonly minRows: number;
}

export const NO_SLICES: SliceOptions = { max: 1, minRows: Number.MAX_SAFE_INTEGER };

export interface WriteOptions {
  readonly format: ReportFormat;
  /** Called with the running row count as rows pass (cheap; called per chunk). */
  readonly onRows?: (rows: number) => void;
  readonly signal?: AbortSignal;
  /** Explicit slice boundaries (key values as text), instead of sampled ones: for tests of edge cases. */
  readonly boundaries?: readonly string[];
}

/** How an export is read. */
export interface ReadSettings {
  /**
   * Memory each sort and hash of the export's queries may use before it spills
   * to temporary files (PostgreSQL's `work_mem`, in MB); the server's default when absent.
   */
  readonly workMemMb?: number | undefined;
  /** When a CSV or JSON export is copied in slices; in one COPY when absent. */
  readonly slices?: SliceOptions | undefined;
}

/** About one written export. */
export interface Written {
  readonly rows: number;
  /** How many slices copied it (1: one COPY). */
  readonly slices: number;
}

/** The isolation every connection of an export reads with. */
const BEGIN = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';
/** Each JSON row (an object, or the sheet's array of cells) is one text with no raw newline; CSV mode with control characters as quote and delimiter passes it through byte for byte. */
const lines = (sql: string) => `COPY (${sql}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`;
/** Rows a boundary sample aims at: enough for even slices, few enough to sort in milliseconds. */
const SAMPLE_ROWS = 20_000;
/** Rows the planner must expect for the count to take the boundary sample in its pass: a sample of a tenth of them at most. */
export const ONE_PASS_ROWS = SAMPLE_ROWS * 10;

/**
 * One export's read of the database: a read-only repeatable-read transaction
 * in the request's zone, so the count and every slice see the same rows.
 * `release(failed)` must follow; after a failure the connections are
 * destroyed rather than pooled (a COPY cut short leaves them mid-protocol)
 * and their queries stopped in the server.
 */
export class ExportRead {
  private readonly clients: pg.PoolClient[];
  private readonly connections: Connections;
  private readonly timeZone: string;
  /** `work_mem` as PostgreSQL reads it, or null for the server's. */
  private readonly workMem: string | null;
  private total: number | undefined;
  private readonly slices: SliceOptions;
  /** Boundaries the count sampled, of the rows of `slicing`. */
  private sampled: { readonly slicing: Slicing; readonly bounds: string[] } | undefined;

  private constructor(connections: Connections, first: pg.PoolClient, timeZone: string, settings: ReadSettings) {
    this.connections = connections;
    this.clients = [first];
    this.timeZone = timeZone;
    this.workMem = settings.workMemMb === undefined ? null : `${settings.workMemMb}MB`;
    this.slices = settings.slices ?? NO_SLICES;
  }

  static async open(connections: Connections, zone: Zone | undefined, settings: ReadSettings = {}): Promise<ExportRead> {
    const client = await connections.connect();
    const read = new ExportRead(connections, client, zone ? sessionTimeZone(zone) : 'UTC', settings);
    try {
      await read.begin(client);
    } catch (e) {
      await read.release(true);
      throw e;
    }
    return read;
  }

  /**
   * The export's rows in this read's snapshot. When they may be copied in
   * slices and the planner expects many rows (at least ONE_PASS_ROWS), the
   * same pass over them samples the slices' boundaries, which write() then
   * uses: a 1M-row export starts copying after about 110 ms, where the count
   * took 120-170 ms and the sample 70-120 ms more. The sample takes a tenth of
   * the expected rows at most, so a planner that expected too few costs a
   * sort of a tenth of the rows, not of all of them.
   */
  async count(query: ExportQuery, format: ReportFormat): Promise<number> {
    const client = this.clients[0]!;
    const slicing = this.slicingOf(query, format);
    this.sampled = undefined;
    if (slicing) {
      const expected = await plannedRows(client, query);
      if (expected >= Math.max(ONE_PASS_ROWS, this.slices.minRows / 2)) {
        const fraction = SAMPLE_ROWS / expected;
        const { n, bounds } = await this.sample(slicing, fraction);
        this.total = n;
        // A sample far smaller than one sized on the count (the planner expected many more rows) would place the
        // boundaries poorly: write() samples again.
        if (n * fraction >= Math.min(n, SAMPLE_ROWS) / 4) this.sampled = { slicing, bounds };
        return n;
      }
    }
    this.total = Number((await client.query<{ n: string }>(query.count)).rows[0]?.n ?? 0);
    return this.total;
  }

  /** Streams the export into `out` (ending it) and commits; the rows written and the slices used. */
  async write(query: ExportQuery, destination: Destination, opts: WriteOptions): Promise<Written> {
    const out = destination instanceof Writable ? sectioned(destination) : destination;
    const first = this.clients[0]!;
    const options = opts.signal ? { signal: opts.signal } : {};
    if (opts.format === 'xlsx') {
      // The workbook writer ends the stream itself, once the zip is complete.
      const sheet = await openSheetWriter(out.stream, query.sheet, { onRows: opts.onRows });
      await pipeline(copyStream(first, lines(query.sheet.rows)), sheet, options);
      await first.query('COMMIT');
      return { rows: sheet.rows, slices: 1 };
    }
    const bounds = opts.boundaries ?? (await this.boundaries(query, opts.format));
    const slicing = query.slicing;
    const parts = bounds.length > 0 && slicing ? partsOf(slicing, bounds) : [{ rows: query.rows, jsonRows: query.jsonRows }];
    if (parts.length > 1) {
      const [{ snapshot }] = (await first.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot')).rows as [{ snapshot: string }];
      for (let i = 1; i < parts.length; i++) {
        const client = await this.connections.connect();
        this.clients.push(client);
        await this.begin(client, snapshot);
      }
    }
    const rows = await copyParts(this.clients, parts, opts.format, await out.sections(parts.length), opts);
    // The other transactions first: the first one's snapshot is the one they imported.
    for (const client of this.clients.slice(1)) await client.query('COMMIT');
    await first.query('COMMIT');
    return { rows, slices: parts.length };
  }

  /**
   * Gives the connections back. After a failure they are destroyed instead,
   * and their server processes ended: a COPY whose reader is gone would
   * otherwise run on to its last row. Call once.
   */
  async release(failed: boolean): Promise<void> {
    const clients = this.clients.splice(0);
    if (!failed) {
      for (const client of clients) client.release();
      return;
    }
    const pids = clients.map((c) => (c as { processID?: number }).processID).filter((p): p is number => typeof p === 'number');
    // What the server says as it ends them reaches the pool's error handler (createPool's).
    for (const client of clients) client.release(true);
    if (pids.length === 0) return;
    const other = await this.connections.connect().catch(() => undefined);
    if (!other) return;
    try {
      await other.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
      other.release();
    } catch {
      other.release(true);
    }
  }

  private async begin(client: pg.PoolClient, snapshot?: string): Promise<void> {
    await client.query(BEGIN);
    if (snapshot) await client.query(`SET TRANSACTION SNAPSHOT ${sqlText(snapshot)}`);
    await client.query(`SELECT set_config('TimeZone', $1, true), set_config('work_mem', coalesce($2, current_setting('work_mem')), true)`, [this.timeZone, this.workMem]);
  }

  /** How the rows split into slices, when they may be: a CSV or JSON export that has a slice key, read with slices allowed. */
  private slicingOf(query: ExportQuery, format: ReportFormat): Slicing | undefined {
    return format !== 'xlsx' && this.slices.max >= 2 ? query.slicing : undefined;
  }

  /** Boundaries of up to `max` slices from a sample of the rows (the count's, when it took one), or none when one COPY is the better choice. */
  private async boundaries(query: ExportQuery, format: ReportFormat): Promise<string[]> {
    const slicing = this.slicingOf(query, format);
    if (!slicing || this.total === undefined || this.total < Math.max(this.slices.minRows, 2)) return [];
    if (this.sampled?.slicing === slicing) return this.sampled.bounds;
    return (await this.sample(slicing, Math.min(1, SAMPLE_ROWS / this.total))).bounds;
  }

  /** The rows counted, and the boundaries of up to `max` slices from a sample of them. */
  private async sample(slicing: Slicing, fraction: number): Promise<{ n: number; bounds: string[] }> {
    const r = await this.clients[0]!.query<{ n: string; bounds: string[] | null }>(slicing.sample(this.slices.max, fraction));
    // Equal quantiles would only make empty slices.
    return { n: Number(r.rows[0]?.n ?? 0), bounds: [...new Set((r.rows[0]?.bounds ?? []).filter((b) => b !== null))] };
  }
}

/** The planner's estimate of the export's rows (no row is read). */
export async function plannedRows(db: pg.Pool | pg.PoolClient, query: ExportQuery): Promise<number> {
  const plan = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`EXPLAIN (FORMAT JSON) ${query.estimate}`);
  return plan.rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0;
}

/**
 * A COPY's output stream. Its connection reports a server-side end (the
 * process terminated after the export failed) as an error on the stream even
 * after the pipeline has let go of it: that error has nothing left to stop.
 */
function copyStream(client: pg.PoolClient, sql: string): ReturnType<typeof copyOut> {
  return copyOut(client, sql).on('error', () => undefined);
}

/** The parts between consecutive boundaries: below the first, …, from the last on (where the key's nulls sort). */
function partsOf(slicing: NonNullable<ExportQuery['slicing']>, bounds: readonly string[]): { rows: string; jsonRows: string }[] {
  const k = slicing.key;
  const b = bounds.map(sqlText);
  return [
    slicing.part(`${k} < ${b[0]}`),
    ...b.slice(1).map((upper, i) => slicing.part(`${k} >= ${b[i]} AND ${k} < ${upper}`)),
    slicing.part(`(${k} >= ${b[b.length - 1]} OR ${k} IS NULL)`),
  ];
}

/**
 * Copies the parts, one per connection and all at once, each into its
 * section of the file. CSV has its header from the first part only. JSON rows
 * come each with a trailing comma: every section keeps its last two bytes
 * back until all parts are done, then the last section with rows ends the
 * array instead of its comma, and the first one opens it.
 */
async function copyParts(
  clients: readonly pg.PoolClient[],
  parts: readonly { rows: string; jsonRows: string }[],
  format: 'csv' | 'json',
  sections: Sections,
  opts: { onRows?: ((n: number) => void) | undefined; signal?: AbortSignal | undefined },
): Promise<number> {
  const failed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;
  const counted = parts.map(() => 0);
  const progress = () => opts.onRows?.(counted.reduce((a, b) => a + b, 0));
  // JSON only: CSV passes as COPY writes it.
  const held = format === 'json' ? parts.map((_, i) => new JsonSectionEnd(i === 0)) : [];
  const copies = parts.map(async (part, i) => {
    const sql = format === 'csv' ? `COPY (${part.rows}) TO STDOUT WITH (FORMAT csv, HEADER ${i === 0})` : lines(part.jsonRows);
    const rows = format === 'csv' ? new CsvRowCounter(i === 0) : new LineCounter();
    rows.on('rows', (n: number) => {
      counted[i] = n;
      progress();
    });
    // The section stays open: its last bytes are written once every part is done.
    await pipeline([copyStream(clients[i]!, sql), rows, new Batches(), ...(held[i] ? [held[i]] : []), sections.writers[i]!], { signal, end: false });
  });
  // The first failure stops every part, and is what the export fails with: a part's, or the file's (a section that
  // could not be stored, even after its part ended).
  for (const c of copies) c.catch((e: unknown) => failed.abort(e));
  sections.done.catch((e: unknown) => failed.abort(e));
  // A cancel, or a failure, also stops what is still being stored once every part has ended.
  const stop = () => sections.stop(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
  signal.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(copies);
    const last = held.findLastIndex((h) => h.passed);
    const ends = held.map((h, i) => {
      const open = i === 0 && !h.passed ? (last >= 0 ? JSON_OPEN : JSON_EMPTY) : EMPTY;
      return Buffer.concat([open, i === last ? JSON_CLOSE : i < last ? h.held : EMPTY]);
    });
    await Promise.all(sections.writers.map((w, i) => finished(ends[i]?.length ? w.end(ends[i]) : w.end())));
    await sections.done;
  } catch (e) {
    if (!failed.signal.aborted) failed.abort(e);
    await Promise.allSettled([...copies, sections.done]);
    throw failed.signal.reason;
  } finally {
    signal.removeEventListener('abort', stop);
  }
  return counted.reduce((a, b) => a + b, 0);
}

const EMPTY = Buffer.alloc(0);
const JSON_OPEN = Buffer.from('[\n');
const JSON_EMPTY = Buffer.from('[]\n');
/** What ends a JSON array after its last row (whose comma and newline are dropped). */
const JSON_CLOSE = Buffer.from('\n]\n');

/** The bytes a JSON row ends with, and which the last row of the file loses: its comma and newline. */
const ROW_END = 2;

/**
 * Passes a section's JSON rows on but for the last row's `,\n`, which it
 * holds (`held`) for whoever ends the section; the first section opens the
 * array before its first byte.
 */
class JsonSectionEnd extends Transform {
  held: Buffer = EMPTY;
  /** Whether any byte came through. */
  passed = false;
  private readonly first: boolean;

  constructor(first: boolean) {
    super();
    this.first = first;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) return done();
    if (!this.passed && this.first) this.push(JSON_OPEN);
    this.passed = true;
    if (chunk.length < ROW_END) {
      const all = Buffer.concat([this.held, chunk]);
      const cut = Math.max(0, all.length - ROW_END);
      this.held = all.subarray(cut);
      return done(null, all.subarray(0, cut));
    }
    if (this.held.length > 0) this.push(this.held);
    // A copy: the chunk itself is handed on, and may be reused by whoever takes it.
    this.held = Buffer.from(chunk.subarray(chunk.length - ROW_END));
    done(null, chunk.subarray(0, chunk.length - ROW_END));
  }
}

/** Bytes a batch holds at least (but the last). */
const BATCH_BYTES = 256 * 1024;

/**
 * Joins a COPY's chunks into batches of at least BATCH_BYTES. The server
 * flushes its output every 8 KB, and each chunk would cost every later stage
 * a call and the file a write through the thread pool: in a 1M-row export in
 * 2 slices, batches took this process from 8.8 to about 4.5 s of CPU (JSON)
 * and 3.2 to 1.8 s (CSV), and the export from 15.6 to 13.1-14.2 s and 8.7 to
 * 7.9-8.0 s. (Batches of 1 MiB measured the same.) A part holds about four
 * batches at most, one per stage: 1 MiB a slice. Rows are counted before, so
 * progress does not wait for a batch.
 */
class Batches extends Transform {
  private parts: Buffer[] = [];
  private size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size < BATCH_BYTES) return done();
    done(null, this.joined());
  }

  override _flush(done: TransformCallback): void {
    done(null, this.size > 0 ? this.joined() : undefined);
  }

  private joined(): Buffer {
    const batch = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return batch;
  }
}

const NL = 0x0a;
const QUOTE = 0x22;

/** Passes CSV through, counting records (newlines outside quoted fields, less the header); emits `rows` per chunk. */
class CsvRowCounter extends Transform {
  private lines = 0;
  private inQuotes = false;
  private readonly header: boolean;

  constructor(header: boolean) {
    super();
    this.header = header;
  }

  get rows(): number {
    return Math.max(0, this.lines - (this.header ? 1 : 0));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.inQuotes) {
        const q = chunk.indexOf(QUOTE, i);
        if (q < 0) break;
        this.inQuotes = false;
        i = q + 1;
      } else {
        const q = chunk.indexOf(QUOTE, i);
        let n = chunk.indexOf(NL, i);
        while (n >= 0 && (q < 0 || n < q)) {
          this.lines++;
          n = chunk.indexOf(NL, n + 1);
        }
        if (q < 0) break;
        this.inQuotes = true;
        i = q + 1;
      }
    }
    this.emit('rows', this.rows);
    done(null, chunk);
  }
}

/** Passes JSON rows (one per line) through, counting them; emits `rows` per chunk. */
class LineCounter extends Transform {
  private count = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, nl + 1)) this.count++;
    this.emit('rows', this.count);
    done(null, chunk);
  }
}
