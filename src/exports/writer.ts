/**
 * The export pipeline: PostgreSQL writes the bytes (`COPY … TO STDOUT`), this
 * process only counts rows and frames JSON on the way to the file, or, for
 * xlsx, turns typed rows into sheet cells (./sheet.ts). Memory is bounded by
 * stream buffers whatever the row count, and backpressure flows from the file
 * back to the database socket through `pipeline`.
 */
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ReportFormat } from './catalog/formats.ts';
import type { ExportQuery } from './query.ts';
import { openSheetWriter } from './sheet.ts';
import { sessionTimeZone, type Zone } from './time-style.ts';

export interface WriteOptions {
  readonly format: ReportFormat;
  readonly zone: Zone | undefined;
  /** Called with the running row count as rows pass (cheap; called per chunk). */
  readonly onRows?: (rows: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * Streams the export into `out` on `client`, inside a read-only transaction
 * with the requested zone. Returns the number of rows written. After a
 * failure the connection must be discarded, not returned to a pool.
 */
export async function writeExport(client: pg.ClientBase, query: ExportQuery, out: Writable, opts: WriteOptions): Promise<number> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let copying = false;
  try {
    await client.query(`SELECT set_config('TimeZone', $1, true)`, [opts.zone ? sessionTimeZone(opts.zone) : 'UTC']);
    // Each JSON row (an object, or the sheet's array of cells) is one text with no raw newline;
    // CSV mode with control characters as quote and delimiter passes it through byte for byte.
    const lines = (sql: string) => `COPY (${sql}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`;
    const options = opts.signal ? { signal: opts.signal } : {};
    let written: number;
    if (opts.format === 'xlsx') {
      // The workbook writer ends `out` itself, once the zip is complete.
      const sheet = await openSheetWriter(out, query.sheet, { onRows: opts.onRows });
      const source = client.query(copyTo(lines(query.sheet.rows)));
      copying = true;
      await pipeline(source, sheet, options);
      written = sheet.rows;
    } else {
      const counter = opts.format === 'csv' ? new CsvRowCounter(opts.onRows) : new JsonArrayFramer(opts.onRows);
      const source = client.query(copyTo(opts.format === 'csv' ? `COPY (${query.rows}) TO STDOUT WITH (FORMAT csv, HEADER true)` : lines(query.jsonRows)));
      copying = true;
      await pipeline(source, counter, out, options);
      written = counter.rows;
    }
    copying = false;
    await client.query('COMMIT');
    return written;
  } catch (e) {
    // A COPY cut short leaves the connection mid-protocol: a ROLLBACK would queue behind it forever.
    // The caller must then destroy the connection (release(true)), which ends the query server-side.
    if (!copying) await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

const NL = 0x0a;
const QUOTE = 0x22;

/** Passes CSV through, counting records: newlines outside quoted fields, less the header. */
class CsvRowCounter extends Transform {
  lines = 0;
  private inQuotes = false;
  private readonly onRows: ((n: number) => void) | undefined;

  constructor(onRows?: (n: number) => void) {
    super();
    this.onRows = onRows;
  }

  get rows(): number {
    return Math.max(0, this.lines - 1);
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
    this.onRows?.(this.rows);
    done(null, chunk);
  }
}

/** Frames one JSON object per line as a single JSON array: `[\n{…},\n{…}\n]\n`. */
class JsonArrayFramer extends Transform {
  rows = 0;
  private started = false;
  private pendingSeparator = false;
  private readonly onRows: ((n: number) => void) | undefined;

  constructor(onRows?: (n: number) => void) {
    super();
    this.onRows = onRows;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const parts: Buffer[] = [];
    if (!this.started && chunk.length > 0) {
      this.started = true;
      parts.push(Buffer.from('[\n'));
    }
    let start = 0;
    while (start < chunk.length) {
      if (this.pendingSeparator) {
        parts.push(Buffer.from(',\n'));
        this.pendingSeparator = false;
      }
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) {
        parts.push(chunk.subarray(start));
        break;
      }
      parts.push(chunk.subarray(start, nl));
      this.rows++;
      this.pendingSeparator = true;
      start = nl + 1;
    }
    this.onRows?.(this.rows);
    done(null, Buffer.concat(parts));
  }

  override _flush(done: TransformCallback): void {
    done(null, Buffer.from(this.started ? '\n]\n' : '[]\n'));
  }
}
