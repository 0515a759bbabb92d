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

describe('files on local disk', () => {
  it('a file larger than the interval it is flushed to disk at is published whole, with its size and SHA-256', async () => {
    // Over 64 MiB, so that the file is flushed while it is written, then synced at publish.
    const parts = chunks(70 * 1024 * 1024 + 17);
    const upload = await store.begin('1/a/big.csv', 'big', () => Promise.resolve());
    for (const p of parts) if (!upload.stream.write(p)) await new Promise((r) => upload.stream.once('drain', r));
    upload.stream.end();
    const published = await upload.publish();
    const bytes = await fs.readFile(store.resolve('1/a/big.csv'));
    assert.equal(published.bytes, bytes.length);
    assert.equal(bytes.length, 70 * 1024 * 1024 + 17);
    assert.equal(published.sha256, sha256(parts));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sha256(parts));
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), [], 'nothing is left beside it');
  });

  it('sections written at once are published in order', async () => {
    const sizes = [9 * 1024 * 1024, 0, 30 * 1024 * 1024 + 5, 40 * 1024 * 1024];
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
  });

  it('an aborted upload leaves no file and no temporary file', async () => {
    const upload = await store.begin('1/c/gone.csv', 'gone', () => Promise.resolve());
    for (const p of chunks(66 * 1024 * 1024)) if (!upload.stream.write(p)) await new Promise((r) => upload.stream.once('drain', r));
    await upload.abort();
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
    await assert.rejects(fs.stat(store.resolve('1/c/gone.csv')), { code: 'ENOENT' });
  });
});
