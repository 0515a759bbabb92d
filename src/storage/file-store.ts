/**
 * Export files on local disk (or any shared mount), the default store. A
 * file is written under `tmp/` and moved into place with rename(2) once
 * complete and synced, so a reader sees either no file or the whole file.
 * Links point at this service's `/files/` route, signed with the service's
 * key.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
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
    const measure = new Measure();
    const written = pipeline(measure, fs.createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
    // Seen by publish or abort; not an unhandled rejection meanwhile.
    written.catch(() => undefined);
    return {
      ...sectioned(measure),
      publish: async () => {
        await written;
        const file: PublishedFile = measure.result();
        await fsp.mkdir(path.dirname(dest), { recursive: true });
        const fh = await fsp.open(temp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(temp, dest);
        await syncDir(path.dirname(dest));
        return file;
      },
      abort: async () => {
        measure.destroy();
        await written.catch(() => undefined);
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

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
