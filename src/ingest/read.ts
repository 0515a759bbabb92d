/**
 * Reading a source of records: a file, gzip or not, or standard input, as
 * NDJSON or CSV. Files may be larger than memory, so records come in batches
 * as the bytes arrive, and bytes are decoded as UTF-8 across read boundaries
 * (a character may be split between two reads). A source that cannot be read
 * on from some point (bad bytes, broken gzip or CSV, an endless line) ends in
 * a problem naming the line, so that the import refuses it like any other bad
 * record instead of crashing. The ingest API reads NDJSON bodies with the same
 * reader, so that a line means the same in a request and in a file.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { parse as csvParse } from 'csv-parse';
import { allFields, type EntityDef, type FieldDef } from './entities.ts';
import type { RecordError } from './rejection.ts';

export type Format = 'ndjson' | 'csv';

/** A record as read from a source, numbered by line (NDJSON, CSV) or position (a JSON array). */
export type SourceRecord = { readonly line: number; readonly value: unknown };
/** What a reader hands on for each record: the record, or why its line could not be read. */
export type ReadRecord = SourceRecord | RecordError;

/** A source opened for reading; `close` releases it whether or not it was read to the end. */
export interface Source {
  readonly records: AsyncIterable<ReadRecord[]>;
  /** The file's size in bytes, 0 when unknown (standard input). */
  readonly size: number;
  /** Bytes of the file read so far (compressed bytes for gzip), for progress. */
  bytesRead(): number;
  close(): void;
}

/**
 * Opens a file of records: `-` is standard input, and a name ending in `.gz`
 * is decompressed as it is read (`posts.ndjson.gz`, `agents.csv.gz`). The
 * format is the one given, or else the name's (`.csv`, anything else NDJSON).
 */
export function openSource(file: string, entity: EntityDef, format?: Format, standardInput: Readable = process.stdin): Source {
  const gzip = file.endsWith('.gz');
  const name = gzip ? file.slice(0, -3) : file;
  const stdin = file === '-';
  const size = stdin ? 0 : fs.statSync(file).size;
  const onDisk = stdin ? undefined : fs.createReadStream(file);
  const input: Readable = onDisk ?? standardInput;
  const bytes = gzip ? input.pipe(zlib.createGunzip()) : input;
  if (gzip) input.on('error', (e: Error) => bytes.destroy(e));
  // A broken file can fail before anyone reads (the reader starts after the transaction does): the error is kept
  // on the stream and thrown to the reader, never raised as an unhandled event.
  bytes.on('error', () => {});
  const text = utf8(bytes);
  const records = (format ?? (name.endsWith('.csv') ? 'csv' : 'ndjson')) === 'csv' ? csvRecords(text, entity) : ndjsonRecords(text);
  return {
    records,
    size,
    bytesRead: () => onDisk?.bytesRead ?? 0,
    close: () => {
      onDisk?.destroy();
      if (bytes !== input) bytes.destroy();
    },
  };
}

/**
 * NDJSON records by line number, a batch per piece of text; blank lines are
 * skipped, a line that is not JSON is a problem. The pieces may split lines
 * anywhere: a request body is one piece, a file many.
 */
export async function* ndjsonRecords(text: AsyncIterable<string> | Iterable<string>): AsyncGenerator<ReadRecord[]> {
  let line = 0;
  try {
    for await (const texts of lines(text)) {
      const batch: ReadRecord[] = [];
      for (const text of texts) {
        line++;
        if (text.trim() === '') continue;
        try {
          batch.push({ line, value: JSON.parse(text) as unknown });
        } catch (e) {
          batch.push({ line, field: null, reason: `not valid JSON (${(e as Error).message})` });
        }
      }
      yield batch;
    }
  } catch (e) {
    if (!(e instanceof SourceProblem)) throw e;
    // The rest of the file cannot be read as lines: the import stops here, and is refused.
    yield [{ line: line + 1, field: null, reason: e.message }];
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

/**
 * The lines of a text (LF or CRLF), a batch per piece. A line that spans
 * pieces is kept as its parts and joined once it ends, so a long line costs
 * its length once rather than once per piece.
 */
async function* lines(text: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string[]> {
  let parts: string[] = [];
  let pending = 0;
  const line = (tail: string) => {
    const whole = parts.length === 0 ? tail : parts.join('') + tail;
    parts = [];
    pending = 0;
    return whole.endsWith('\r') ? whole.slice(0, -1) : whole;
  };
  for await (const piece of text) {
    const batch: string[] = [];
    let start = 0;
    for (let nl = piece.indexOf('\n'); nl !== -1; nl = piece.indexOf('\n', start)) {
      batch.push(line(piece.slice(start, nl)));
      start = nl + 1;
    }
    if (start < piece.length) {
      parts.push(piece.slice(start));
      pending += piece.length - start;
    }
    if (pending > MAX_LINE) throw new SourceProblem(`a line longer than ${MAX_LINE.toLocaleString('en')} characters; records are one per line`);
    yield batch;
  }
  if (pending > 0) yield [line('')];
}

/** CSV with the record's field names as header; cells are read as the field's type (empty = absent). */
async function* csvRecords(text: AsyncIterable<string>, entity: EntityDef): AsyncGenerator<ReadRecord[]> {
  const fields = new Map(allFields(entity).map((f) => [f.name, f]));
  const parser = csvParse({ columns: true, info: true, skip_empty_lines: true, max_record_size: MAX_LINE });
  const input = Readable.from(text);
  input.on('error', (e) => parser.destroy(e));
  input.pipe(parser);
  let batch: ReadRecord[] = [];
  let line = 1;
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      // No prototype: a column named `__proto__` is a field like any other (and refused as unknown), not dropped.
      const value = Object.create(null) as Record<string, unknown>;
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
    batch.push({ line: csvError && at ? at : line + 1, field: null, reason: csvError ? `not valid CSV (${(e as Error).message})` : (e as Error).message });
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
