/**
 * The export pipeline: PostgreSQL writes the bytes (`COPY … TO STDOUT`), this
 * process only counts rows and frames JSON on the way to the file, or, for
 * xlsx, turns typed rows into sheet cells (./sheet.ts). Memory is bounded by
 * stream buffers whatever the row count, and backpressure flows from the file
 * back to the database socket through `pipeline`.
 *
 * A large CSV or JSON export is copied in parallel slices: ordered ranges of
 * its leading sort key, each over a connection of its own, all reading the
 * one snapshot the counting transaction exported. The first slice streams
 * straight into the file; the others are spooled to unlinked temporary files
 * (nothing is left behind, even by a killed process) and joined after it in
 * order, so the file is byte for byte what one COPY at that instant writes.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { sqlText } from './sql.ts';
import type { ReportFormat } from './catalog/formats.ts';
import type { ExportQuery } from './query.ts';
import { openSheetWriter } from './sheet.ts';
import { sessionTimeZone, type Zone } from './time-style.ts';

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
  readonly slices?: SliceOptions;
  /** Explicit slice boundaries (key values as text), instead of sampled ones: for tests of edge cases. */
  readonly boundaries?: readonly string[];
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
  private total: number | undefined;

  private constructor(connections: Connections, first: pg.PoolClient, timeZone: string) {
    this.connections = connections;
    this.clients = [first];
    this.timeZone = timeZone;
  }

  static async open(connections: Connections, zone: Zone | undefined): Promise<ExportRead> {
    const client = await connections.connect();
    const read = new ExportRead(connections, client, zone ? sessionTimeZone(zone) : 'UTC');
    try {
      await read.begin(client);
    } catch (e) {
      await read.release(true);
      throw e;
    }
    return read;
  }

  /** The export's rows in this read's snapshot. */
  async count(query: ExportQuery): Promise<number> {
    this.total = Number((await this.clients[0]!.query<{ n: string }>(query.count)).rows[0]?.n ?? 0);
    return this.total;
  }

  /** Streams the export into `out` (ending it) and commits; the rows written and the slices used. */
  async write(query: ExportQuery, out: Writable, opts: WriteOptions): Promise<Written> {
    const first = this.clients[0]!;
    const options = opts.signal ? { signal: opts.signal } : {};
    if (opts.format === 'xlsx') {
      // The workbook writer ends `out` itself, once the zip is complete.
      const sheet = await openSheetWriter(out, query.sheet, { onRows: opts.onRows });
      await pipeline(copyStream(first, lines(query.sheet.rows)), sheet, options);
      await first.query('COMMIT');
      return { rows: sheet.rows, slices: 1 };
    }
    const bounds = opts.boundaries ?? (await this.boundaries(query, opts.slices ?? NO_SLICES));
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
    const rows = await copyParts(this.clients, parts, opts.format, out, opts);
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
    await client.query(`SELECT set_config('TimeZone', $1, true)`, [this.timeZone]);
  }

  /** Boundaries of up to `max` slices from a sample of the rows, or none when one COPY is the better choice. */
  private async boundaries(query: ExportQuery, slices: SliceOptions): Promise<string[]> {
    if (!query.slicing || slices.max < 2 || this.total === undefined || this.total < Math.max(slices.minRows, 2)) return [];
    const fraction = Math.min(1, SAMPLE_ROWS / this.total);
    const r = await this.clients[0]!.query<{ bounds: string[] | null }>(query.slicing.boundaries(Math.min(slices.max, this.total), fraction));
    // Equal quantiles would only make empty slices.
    return [...new Set((r.rows[0]?.bounds ?? []).filter((b) => b !== null))];
  }
}

/**
 * A COPY's output stream. Its connection reports a server-side end (the
 * process terminated after the export failed) as an error on the stream even
 * after the pipeline has let go of it: that error has nothing left to stop.
 */
function copyStream(client: pg.PoolClient, sql: string): ReturnType<typeof copyTo> {
  return client.query(copyTo(sql)).on('error', () => undefined);
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
 * Copies the parts, one per connection and all at once: the first into the
 * file as it arrives, the others into spool files read back after it, in
 * order. CSV has its header from the first part only; JSON rows come each
 * with a trailing comma, and only the array's ends are added around all of them.
 */
async function copyParts(
  clients: readonly pg.PoolClient[],
  parts: readonly { rows: string; jsonRows: string }[],
  format: 'csv' | 'json',
  out: Writable,
  opts: { onRows?: ((n: number) => void) | undefined; signal?: AbortSignal | undefined },
): Promise<number> {
  const failed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;
  const counted = parts.map(() => 0);
  const progress = () => opts.onRows?.(counted.reduce((a, b) => a + b, 0));
  const copy = (i: number) => {
    const sql = format === 'csv' ? `COPY (${parts[i]!.rows}) TO STDOUT WITH (FORMAT csv, HEADER ${i === 0})` : lines(parts[i]!.jsonRows);
    const rows = format === 'csv' ? new CsvRowCounter(i === 0) : new LineCounter();
    rows.on('rows', (n: number) => {
      counted[i] = n;
      progress();
    });
    return { source: copyStream(clients[i]!, sql), rows };
  };

  const opened = await Promise.allSettled(parts.slice(1).map(() => Spool.open(os.tmpdir())));
  const spools = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    await Promise.all(spools.map((s) => s.close()));
    throw refused.reason;
  }
  try {
    const spooled = spools.map((spool, j) => {
      const { source, rows } = copy(j + 1);
      const done = pipeline(source, rows, spool.writable(), { signal });
      // The first failure stops every slice, and is what the export fails with.
      done.catch((e: unknown) => failed.abort(e));
      return done;
    });
    const { source, rows } = copy(0);
    try {
      await pipeline(
        source,
        rows,
        async function* (first: AsyncIterable<Buffer>) {
          yield* first;
          for (const [j, spool] of spools.entries()) {
            await spooled[j];
            yield* spool.readable();
          }
        },
        format === 'json' ? new JsonArrayEnds() : new Transform({ transform: (chunk, _e, done) => done(null, chunk) }),
        out,
        { signal },
      );
    } catch (e) {
      throw failed.signal.aborted ? failed.signal.reason : e;
    }
    return counted.reduce((a, b) => a + b, 0);
  } finally {
    // Each spool is stopped before its file is closed; a copy still writing would write to a closed descriptor.
    failed.abort(new Error('export finished'));
    await Promise.all(spools.map((s) => s.close()));
  }
}

/** A temporary file unlinked as soon as it is open: written once, read back once, gone with its descriptor. */
class Spool {
  private readonly file: fsp.FileHandle;
  private writer: ReturnType<fsp.FileHandle['createWriteStream']> | undefined;

  private constructor(file: fsp.FileHandle) {
    this.file = file;
  }

  static async open(dir: string): Promise<Spool> {
    const name = path.join(dir, `care-reports-slice-${process.pid}-${randomBytes(6).toString('hex')}`);
    const file = await fsp.open(name, 'wx+', 0o600);
    try {
      await fsp.unlink(name);
    } catch (e) {
      await file.close();
      await fsp.rm(name, { force: true });
      throw e;
    }
    return new Spool(file);
  }

  writable(): Writable {
    this.writer = this.file.createWriteStream({ autoClose: false, start: 0 });
    return this.writer;
  }

  readable(): AsyncIterable<Buffer> {
    return this.file.createReadStream({ autoClose: false, start: 0, highWaterMark: 256 * 1024 });
  }

  async close(): Promise<void> {
    if (this.writer && !this.writer.closed) this.writer.destroy();
    await this.file.close().catch(() => undefined);
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

/**
 * Makes rows that each end in `,\n` one array: `[\n` before the first, the
 * last one's comma dropped, `\n]\n` after it; `[]\n` when there is none. The
 * rows pass untouched but for the last two bytes, which wait for the next chunk.
 */
class JsonArrayEnds extends Transform {
  private started = false;
  private held: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) return done();
    if (!this.started) {
      this.started = true;
      this.push(Buffer.from('[\n'));
    }
    if (chunk.length < 2) {
      const joined = Buffer.concat([this.held, chunk]);
      const keep = Math.max(0, joined.length - 2);
      this.held = joined.subarray(keep);
      return done(null, joined.subarray(0, keep));
    }
    if (this.held.length > 0) this.push(this.held);
    this.held = chunk.subarray(chunk.length - 2);
    done(null, chunk.subarray(0, chunk.length - 2));
  }

  override _flush(done: TransformCallback): void {
    // What is held is the last row's `,\n`.
    done(null, Buffer.from(this.started ? '\n]\n' : '[]\n'));
  }
}
