/**
 * Export files on local disk (or any shared mount). A file is written under
 * `tmp/` and moved into place with rename(2) once complete and synced, so a
 * reader sees either no file or the whole file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export class FileStore {
  readonly root: string;
  private readonly tmpDir: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.tmpDir = path.join(this.root, 'tmp');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.tmpDir, { recursive: true });
  }

  /** A new temporary file open for writing. */
  openTemp(label: string): { path: string; stream: fs.WriteStream } {
    const p = path.join(this.tmpDir, `${label}.${randomBytes(6).toString('hex')}.part`);
    return { path: p, stream: fs.createWriteStream(p, { flags: 'wx', mode: 0o600 }) };
  }

  /** Moves a complete temporary file to `key` atomically; returns its size. */
  async publish(tempPath: string, key: string): Promise<number> {
    const dest = this.resolve(key);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const fh = await fsp.open(tempPath, 'r');
    let size: number;
    try {
      await fh.sync();
      size = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
    await fsp.rename(tempPath, dest);
    await syncDir(path.dirname(dest));
    return size;
  }

  /** Deletes a published file (and its run's directory) or a temporary file; absent is fine. */
  async remove(keyOrTemp: string): Promise<void> {
    if (path.isAbsolute(keyOrTemp)) {
      await fsp.rm(keyOrTemp, { force: true });
      return;
    }
    const p = this.resolve(keyOrTemp);
    await fsp.rm(p, { force: true });
    await fsp.rmdir(path.dirname(p)).catch(() => undefined);
  }

  /** Deletes temporary files older than `ageMs` (left by a killed process); returns how many. */
  async removeStaleTemp(ageMs: number): Promise<number> {
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
