/** The local-disk store: whole files published atomically, with their size and SHA-256; aborted ones leave nothing. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { finished } from 'node:stream/promises';
import { FileStore } from '../src/storage/file-store.ts';

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-file-store-'));
after(() => fs.rm(root, { recursive: true, force: true }));
const store = new FileStore(root, { publicUrl: 'http://localhost' });
await store.init();

/** `size` bytes that differ from chunk to chunk, so a chunk written twice or out of place changes the digest. */
function chunks(size: number, each = 4 * 1024 * 1024): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, n = 0; at < size; at += each, n++) out.push(Buffer.alloc(Math.min(each, size - at), `chunk ${n};`));
  return out;
}

const sha256 = (parts: readonly Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

/** Descriptors this process has open: a file the store forgets to close shows here. */
const openFds = async () => (await fs.readdir('/proc/self/fd')).length;

/** Counts the flushes to disk (FileHandle.datasync) that `fn` starts. */
async function countingFlushes<T>(fn: (flushes: () => number) => Promise<T>): Promise<T> {
  const probe = await fs.open(import.meta.filename, 'r');
  const proto = Object.getPrototypeOf(probe) as { datasync: (this: unknown) => Promise<void> };
  await probe.close();
  const original = proto.datasync;
  let n = 0;
  proto.datasync = function (this: unknown) {
    n++;
    return original.call(this);
  };
  try {
    return await fn(() => n);
  } finally {
    proto.datasync = original;
  }
}

// A store that never lets go of a file hangs its publish or abort: each case has a deadline.
describe('files on local disk', { timeout: 30_000 }, () => {
  it('a file larger than the interval it is flushed to disk at is published whole, with its size and SHA-256', async () => {
    // Past 64 MiB, so that the file is flushed while it is written, then synced at publish.
    const parts = chunks(64 * 1024 * 1024 + 17);
    const fds = await openFds();
    const published = await countingFlushes(async (flushes) => {
      const upload = await store.begin('1/a/big.csv', 'big', () => Promise.resolve());
      for (const p of parts) if (!upload.stream.write(p)) await new Promise((r) => upload.stream.once('drain', r));
      upload.stream.end();
      await finished(upload.stream);
      assert.equal(flushes(), 1, 'flushed once while written');
      return upload.publish();
    });
    assert.equal(await openFds(), fds, 'the file is closed');
    const bytes = await fs.readFile(store.resolve('1/a/big.csv'));
    assert.equal(published.bytes, bytes.length);
    assert.equal(bytes.length, 64 * 1024 * 1024 + 17);
    assert.equal(published.sha256, sha256(parts));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sha256(parts));
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), [], 'nothing is left beside it');
  });

  it('sections written at once are published in order', async () => {
    const sizes = [3 * 1024 * 1024, 0, 5 * 1024 * 1024 + 5, 2 * 1024 * 1024];
    const fds = await openFds();
    const upload = await store.begin('1/b/sections.json', 'sections', () => Promise.resolve());
    const sections = await upload.sections(sizes.length);
    const written = sizes.map((s) => chunks(s, 1024 * 1024 + 3).map((c, i) => Buffer.concat([Buffer.from(`s${s}:${i}|`), c])));
    await Promise.all(
      sections.writers.map(async (w, i) => {
        for (const c of written[i]!) if (!w.write(c)) await new Promise((r) => w.once('drain', r));
        w.end();
        await finished(w);
      }),
    );
    await sections.done;
    const published = await upload.publish();
    const all = written.flat();
    assert.equal(published.sha256, sha256(all));
    assert.ok((await fs.readFile(store.resolve('1/b/sections.json'))).equals(Buffer.concat(all)));
    assert.equal(await openFds(), fds, 'the file and its spools are closed');
  });

  it('an aborted upload leaves no file, no temporary file and no open descriptor, even while the file is being flushed', async () => {
    const fds = await openFds();
    const upload = await store.begin('1/c/gone.csv', 'gone', () => Promise.resolve());
    for (const p of chunks(66 * 1024 * 1024)) if (!upload.stream.write(p)) await new Promise((r) => upload.stream.once('drain', r));
    await upload.abort();
    assert.equal(await openFds(), fds);
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
    await assert.rejects(fs.stat(store.resolve('1/c/gone.csv')), { code: 'ENOENT' });
  });
});
