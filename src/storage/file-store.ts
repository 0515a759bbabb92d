/**
 * Export files on local disk (or any shared mount), the default store. A
 * file is written under `tmp/` and moved into place with rename(2) once
 * complete and synced, so a reader sees either no file or the whole file.
 * Links point at this service's `/files/` route, signed with the service's
 * key.
 */
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { fileRoutes } from './file-routes.ts';
import { sectioned } from './sections.ts';
import type { UrlSigner } from './signed-url.ts';
import { Measure, type ExportStore, type PublishedFile, type StoreUpload } from './store.ts';

export interface FileStoreOptions {
  /** Signs the links; absent in a process that serves no API (it hands out no links). */
  readonly signer?: UrlSigner | undefined;
  /** Base of the links, e.g. http://localhost:8080. */
  readonly publicUrl: string;
}

export class FileStore implements ExportStore {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly opts: FileStoreOptions;

  constructor(root: string, opts: FileStoreOptions) {
    this.root = path.resolve(root);
    this.tmpDir = path.join(this.root, 'tmp');
    this.opts = opts;
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.tmpDir, { recursive: true });
  }

  async begin(key: string, label: string, started: (handle: string) => Promise<void>): Promise<StoreUpload> {
    const dest = this.resolve(key);
    const name = `${label}.${randomBytes(6).toString('hex')}.part`;
    await started(name);
    const temp = path.join(this.tmpDir, name);
    const fh = await fsp.open(temp, 'wx', 0o600);
    const flush = new Flush(fh);
    const measure = new Measure((bytes) => flush.written(bytes));
    const out = fh.createWriteStream({ autoClose: false });
    const written = pipeline(measure, out);
    // Seen by publish or abort; not an unhandled rejection meanwhile.
    written.catch(() => undefined);
    const closed = async () => {
      await written.catch(() => undefined);
      await flush.idle();
      // Destroying the stream closes the handle (a stream made from a handle holds it until then); close() makes sure.
      out.destroy();
      await fh.close().catch(() => undefined);
    };
    return {
      ...sectioned(measure),
      publish: async () => {
        try {
          await written;
          await flush.idle(true);
          await fh.sync();
        } finally {
          await closed();
        }
        const file: PublishedFile = measure.result();
        await fsp.mkdir(path.dirname(dest), { recursive: true });
        await fsp.rename(temp, dest);
        await syncDir(path.dirname(dest));
        return file;
      },
      abort: async () => {
        measure.destroy();
        await closed();
        await fsp.rm(temp, { force: true });
      },
    };
  }

  /** The handle is the temporary file's name. */
  async discard(handle: string): Promise<void> {
    await fsp.rm(path.join(this.tmpDir, path.basename(handle)), { force: true });
  }

  /** Deletes a published file and its run's directory; absent is fine. */
  async remove(key: string): Promise<void> {
    const p = this.resolve(key);
    await fsp.rm(p, { force: true });
    await fsp.rmdir(path.dirname(p)).catch(() => undefined);
  }

  /** Deletes temporary files older than `ageMs` (left by a killed process); returns how many. */
  async removeStale(ageMs: number): Promise<number> {
    let removed = 0;
    for (const name of await fsp.readdir(this.tmpDir).catch(() => [] as string[])) {
      const p = path.join(this.tmpDir, name);
      const st = await fsp.stat(p).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > ageMs) {
        await fsp.rm(p, { force: true });
        removed++;
      }
    }
    return removed;
  }

  downloadUrl(key: string, ttlSeconds: number): Promise<string> {
    if (!this.opts.signer) return Promise.reject(new Error('this process serves no API and signs no links'));
    return Promise.resolve(`${this.opts.publicUrl}${this.opts.signer.sign(key, Date.now() + ttlSeconds * 1000)}`);
  }

  routes(app: FastifyInstance): void {
    if (!this.opts.signer) throw new Error('the /files/ route needs the link signer');
    app.register(fastifyStatic, { root: this.root, serve: false });
    fileRoutes(app, { signer: this.opts.signer, store: this });
  }

  /**
   * Whether `key` names a published file that may be served: a regular file
   * (not a link, not a directory) whose real path lies inside the store, so a
   * symlink planted under the root can never hand out a file outside it.
   */
  async servable(key: string): Promise<boolean> {
    let p: string;
    try {
      p = this.resolve(key);
    } catch {
      return false;
    }
    const [st, real, root] = await Promise.all([fsp.lstat(p).catch(() => undefined), fsp.realpath(p).catch(() => undefined), fsp.realpath(this.root)]);
    return st !== undefined && st.isFile() && real !== undefined && real.startsWith(root + path.sep);
  }

  /** Absolute path of a key; refuses keys that would leave the root. */
  resolve(key: string): string {
    const p = path.resolve(this.root, key);
    if (!p.startsWith(this.root + path.sep) || key.startsWith('tmp/')) throw new Error(`invalid file key ${key}`);
    return p;
  }
}

/** Bytes written between two flushes to disk while a file is being written. */
const FLUSH_EVERY = 64 * 1024 * 1024;

/**
 * Flushes a file being written to disk as it grows, in the background, so
 * that the sync before it is published waits for the last bytes only, not
 * for all of a large file (about 0.5 s for a 750 MB one here).
 */
class Flush {
  private readonly fh: fsp.FileHandle;
  private flushed = 0;
  private running: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(fh: fsp.FileHandle) {
    this.fh = fh;
  }

  /** `bytes` have been handed to the file (perhaps not all written yet: the next flush or the last sync takes the rest). */
  written(bytes: number): void {
    if (bytes - this.flushed < FLUSH_EVERY) return;
    this.flushed = bytes;
    this.running = this.running.then(() =>
      this.fh.datasync().catch((e: unknown) => {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      }),
    );
  }

  /** Once no flush is running; with `check`, fails with what a flush failed with. */
  async idle(check = false): Promise<void> {
    await this.running;
    if (check && this.failure !== undefined) throw this.failure;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
