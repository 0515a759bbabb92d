/**
 * A COPY's output stream (`COPY … TO STDOUT`) over a pg client: pg-copy-streams'
 * stream, which takes the connection over for the COPY and hands it back
 * after, with the messages read by CopyOutDecoder. The library's own reader
 * made a Buffer object for each row's message before copying the rows into
 * a zero-filled buffer: in the worker, those objects outlived the young
 * generation and were the most of what its full collections freed. Reading
 * the rows straight into one buffer per chunk, this process spends 0.9-1.1 s
 * of user CPU on a 1M-row export in 2 slices instead of 1.25-1.5 s.
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

const COPY_DATA = 0x64; // d
const ERROR_RESPONSE = 0x45; // E
/** Messages that come before or amid the rows without ending them (the COPY's start, and what the protocol's "COPY Operations" allows amid); any other ends them. */
const AMID_ROWS = new Set([0x48 /* CopyOutResponse */, COPY_DATA, 0x53 /* ParameterStatus */, 0x4e /* NoticeResponse */, 0x41 /* NotificationResponse */]);
/** A message's type byte and its length (which counts itself). */
const HEADER = 5;

/** What one chunk of the connection's bytes held. */
export interface Decoded {
  /** The rows' bytes in it, joined (empty when none). */
  readonly data: Buffer;
  /**
   * When the rows have ended: `done` after the message that ends them, `error`
   * at an ErrorResponse; `rest` is every byte from there on, which the
   * connection's own reader must read (an error included).
   */
  readonly end?: { readonly kind: 'done' | 'error'; readonly rest: Buffer };
}

/**
 * Reads the backend's messages of a COPY TO: the CopyData contents are the
 * file's bytes; the others are skipped until the one that ends the rows.
 * Chunks may split anywhere, a header included.
 */
export class CopyOutDecoder {
  /** A header cut short at the end of the last chunk. */
  private partial: Buffer | undefined;
  private type = 0;
  /** Bytes of the current message's content still to come. */
  private remaining = 0;
  private ended = false;

  /** Whether the rows have ended (what follows is the connection's to read). */
  get done(): boolean {
    return this.ended;
  }

  decode(input: Buffer): Decoded {
    if (this.ended) throw new Error('the COPY has ended; its connection reads the rest');
    const chunk = this.partial ? Buffer.concat([this.partial, input]) : input;
    this.partial = undefined;
    // Rows are at most the chunk: one buffer per chunk, written once.
    const out = Buffer.allocUnsafe(chunk.length);
    let written = 0;
    let i = 0;
    for (;;) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        if (this.type === COPY_DATA) written += chunk.copy(out, written, i, i + n);
        i += n;
        this.remaining -= n;
        if (this.remaining > 0) break;
        if (!AMID_ROWS.has(this.type)) return this.end(out, written, 'done', chunk.subarray(i));
      }
      if (chunk.length - i < HEADER) {
        if (i < chunk.length) this.partial = Buffer.from(chunk.subarray(i));
        break;
      }
      const type = chunk[i]!;
      if (type === ERROR_RESPONSE) return this.end(out, written, 'error', chunk.subarray(i));
      this.type = type;
      this.remaining = chunk.readUInt32BE(i + 1) - 4;
      i += HEADER;
      if (this.remaining === 0 && !AMID_ROWS.has(type)) return this.end(out, written, 'done', chunk.subarray(i));
    }
    return { data: out.subarray(0, written) };
  }

  private end(out: Buffer, written: number, kind: 'done' | 'error', rest: Buffer): Decoded {
    this.ended = true;
    return { data: out.subarray(0, written), end: { kind, rest } };
  }
}

/** What this module uses of pg-copy-streams' stream (7.x), beyond a Readable's. */
interface LibraryCopyStream extends ReturnType<typeof copyTo> {
  /** The bytes it hands the connection's reader when it detaches (null once cleaned up). */
  _buffer: { push(chunk: Buffer): void };
  /** Reads the connection's pending bytes into `_parse`. */
  _forward(): void;
  _detach(): void;
  _cleanup(): void;
}

/** The library's class, which it exports only through its factory. */
const LibraryCopyTo = (Object.getPrototypeOf(copyTo('')) as { constructor: new (text: string) => LibraryCopyStream }).constructor;
for (const method of ['_parse', '_forward', '_detach', '_cleanup'] as const) {
  // Its internals, which a version of the library other than the one pinned may not have.
  if (typeof (LibraryCopyTo.prototype as Record<string, unknown>)[method] !== 'function') throw new Error(`pg-copy-streams has no ${method}: this module reads its 7.x internals`);
}

/** pg-copy-streams' COPY TO stream, reading the messages with CopyOutDecoder. */
class CopyToStream extends LibraryCopyTo {
  private readonly decoder = new CopyOutDecoder();

  /** Once the rows have ended, the connection's bytes are its own reader's, even should this stream be read again. */
  override _forward(): void {
    if (!this.decoder.done) super._forward();
  }

  /** Called by the library with each chunk of the connection's bytes; whether to read on now. */
  _parse(chunk: Buffer): boolean {
    const { data, end } = this.decoder.decode(chunk);
    const wanted = data.length > 0 ? this.push(data) : true;
    if (!end) return wanted;
    // The connection's reader takes what follows: the command's completion and readiness, or the error, which it
    // reports to this query (and so to this stream). Nothing more is read from the connection here (see _forward).
    this._buffer.push(end.rest);
    this._detach();
    if (end.kind === 'done') {
      this.push(null);
      this._cleanup();
    }
    return false;
  }
}

/** The output of `COPY … TO STDOUT` run on `client`, as a stream. */
export function copyOut(client: pg.PoolClient, sql: string): LibraryCopyStream {
  return client.query(new CopyToStream(sql));
}
