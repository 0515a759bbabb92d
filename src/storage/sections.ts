/**
 * A file written as ordered sections at once: a large export's parallel
 * slices each write one, and the file is their bytes in order. How the
 * sections become one file is the store's business. On local disk (and for
 * any plain stream) the first section streams straight through and the others
 * wait in spool files, appended in order once every section has ended; object
 * storage uploads each section into its own range of parts (./s3-store.ts).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';

/** The sections of one file, in order. End each one; `done` settles once the whole file has been handed on (or has failed). */
export interface Sections {
  readonly writers: readonly Writable[];
  readonly done: Promise<void>;
  /** Stops writing the file, even after every section has ended (while the last bytes are still being stored): `done` fails with `reason`. */
  stop(reason: Error): void;
}

/** Something that takes a file in sections: a store's upload, which may join them its own way. */
export interface Sectioned {
  /** The whole file as one stream, for what cannot be written in sections: end it, then publish. */
  readonly stream: Writable;
  /**
   * The file as `count` ordered sections written at once (an export's
   * parallel slices), instead of `stream`: end every one, then publish.
   */
  sections(count: number): Promise<Sections>;
}

/** A stream taking a file in sections, joined through spool files. */
export function sectioned(out: Writable): Sectioned {
  return { stream: out, sections: (count) => spooledSections(out, count) };
}

/**
 * Sections joined into `out`, which is ended after the last: the first passes
 * straight through, the others are spooled to temporary files (unlinked at
 * once, so even a killed process leaves nothing) and read back in order after
 * it. A failed section, or a failing `out`, fails `done` and destroys `out`.
 */
export async function spooledSections(out: Writable, count: number): Promise<Sections> {
  const spools = await openSpools(count - 1);
  const first = new PassThrough({ highWaterMark: 256 * 1024 });
  const later = spools.map((s) => s.writable());
  // Watched from the start, so that a section destroyed with an error before its turn is no uncaught 'error'.
  const ended = later.map((w) => finished(w));
  for (const e of ended) e.catch(() => undefined);
  const stop = (e: Error) => {
    out.destroy(e);
    for (const w of [first, ...later]) w.destroy(e);
  };
  // What `out` fails with (a full disk, say) is what the sections fail with, rather than the pipeline's own abort.
  out.once('error', stop);
  const done = pipeline(
    async function* () {
      yield* first;
      for (const [j, spool] of spools.entries()) {
        await ended[j];
        yield* spool.readable();
      }
    },
    out,
  ).finally(async () => {
    first.destroy();
    await Promise.all(spools.map((s) => s.close()));
  });
  // Seen by whoever awaits `done`; not an unhandled rejection meanwhile.
  done.catch(() => undefined);
  return { writers: [first, ...later], done, stop };
}

/** `count` spools, or none and the first failure. */
export async function openSpools(count: number): Promise<Spool[]> {
  const opened = await Promise.allSettled(Array.from({ length: count }, () => Spool.open()));
  const spools = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    await Promise.all(spools.map((s) => s.close()));
    throw refused.reason;
  }
  return spools;
}

/** A temporary file unlinked as soon as it is open: written once, read back once, gone with its descriptor. */
export class Spool {
  private readonly file: fsp.FileHandle;
  private writer: ReturnType<fsp.FileHandle['createWriteStream']> | undefined;

  private constructor(file: fsp.FileHandle) {
    this.file = file;
  }

  /** Under TMPDIR. */
  static async open(): Promise<Spool> {
    const name = path.join(os.tmpdir(), `care-reports-section-${process.pid}-${randomBytes(6).toString('hex')}`);
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
    this.writer = this.file.createWriteStream({ autoClose: false, start: 0, highWaterMark: 256 * 1024 });
    return this.writer;
  }

  readable(): AsyncIterable<Buffer> {
    return this.file.createReadStream({ autoClose: false, start: 0, highWaterMark: 256 * 1024 });
  }

  /** Stops its writer first: a section still writing would write to a closed descriptor. */
  async close(): Promise<void> {
    if (this.writer && !this.writer.closed) this.writer.destroy();
    await this.file.close().catch(() => undefined);
  }
}
