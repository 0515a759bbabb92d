/** The local-disk store: whole files published atomically, with their size and SHA-256; aborted ones leave nothing. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FileStore } from '../src/storage/file-store.ts';
import { bytesOf, writeInTurns } from './helpers/sections.ts';

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-file-store-'));
after(() => fs.rm(root, { recursive: true, force: true }));
const store = new FileStore(root, { publicUrl: 'http://localhost' });
await store.init();

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

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
    const body = bytesOf(0, 64 * MiB + 17);
    const fds = await openFds();
    const published = await countingFlushes(async (flushes) => {
      const upload = await store.begin('1/a/big.csv', 'big', () => Promise.resolve());
      await writeInTurns([upload.stream], [body], { maxChunk: 4 * MiB });
      assert.equal(flushes(), 1, 'flushed once while written');
      return upload.publish();
    });
    assert.equal(await openFds(), fds, 'the file is closed');
    const bytes = await fs.readFile(store.resolve('1/a/big.csv'));
    assert.ok(bytes.equals(body), 'the file is the bytes written');
    assert.equal(published.bytes, body.length);
    assert.equal(published.sha256, sha256(body));
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), [], 'nothing is left beside it');
  });

  it('sections written at once are published in order', async () => {
    const sizes = [3 * MiB, 0, 5 * MiB + 5, 2 * MiB];
    const fds = await openFds();
    const upload = await store.begin('1/b/sections.json', 'sections', () => Promise.resolve());
    const sections = await upload.sections(sizes.length);
    const contents = sizes.map((n, i) => bytesOf(i, n));
    await writeInTurns(sections.writers, contents, { maxChunk: 256 * 1024 });
    await sections.done;
    const published = await upload.publish();
    const whole = Buffer.concat(contents);
    assert.ok((await fs.readFile(store.resolve('1/b/sections.json'))).equals(whole), 'the file is the sections in order');
    assert.equal(published.bytes, whole.length);
    assert.equal(published.sha256, sha256(whole));
    assert.equal(await openFds(), fds, 'the file and its spools are closed');
  });

  it('an aborted upload leaves no file, no temporary file and no open descriptor, even while the file is being flushed', async () => {
    const fds = await openFds();
    const upload = await store.begin('1/c/gone.csv', 'gone', () => Promise.resolve());
    await writeInTurns([upload.stream], [bytesOf(0, 66 * MiB)], { maxChunk: 4 * MiB, end: false });
    await upload.abort();
    assert.equal(await openFds(), fds);
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
    await assert.rejects(fs.stat(store.resolve('1/c/gone.csv')), { code: 'ENOENT' });
  });
});
