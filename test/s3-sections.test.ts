/**
 * A file written in sections at once on object storage (an export's parallel
 * slices): each section uploads into its own range of part numbers, and the
 * object is the sections' bytes in order. The S3-compatible server here
 * refuses, as S3 does, every part under its minimum size that is not the
 * last; the store's part sizes are scaled down with it so that small files
 * have many parts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import type { Writable } from 'node:stream';
import { S3Store } from '../src/storage/s3-store.ts';
import { uniqueName } from './helpers/cluster.ts';
import { S3_CREDENTIALS } from './helpers/s3.ts';
import { startS3Server } from './helpers/s3-server.ts';

const KiB = 1024;
/** What the server takes at least for a part but the last, and what the store holds back for a junction. */
const MIN_PART = 20 * KiB;
const PART = 32 * KiB;

const server = await startS3Server({ minPartBytes: MIN_PART });
after(() => server.stop());
Object.assign(process.env, S3_CREDENTIALS);
const client = new S3Client({
  endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
});
after(() => client.destroy());
const bucket = uniqueName('b').replace('_', '-');
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const store = new S3Store({ bucket, prefix: 'exports', endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true }, undefined, { partBytes: PART, minPartBytes: MIN_PART });

/** Bytes that differ at every offset of every section, so a misplaced piece shows. */
function bytesOf(section: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + section * 31 + (i >> 8)) & 0xff;
  return b;
}

/** Writes each section in chunks of varied sizes, taking turns between sections as parallel slices do. */
async function writeInTurns(writers: readonly Writable[], contents: readonly Buffer[]): Promise<void> {
  const offsets = contents.map(() => 0);
  let chunk = 1;
  while (offsets.some((o, i) => o < contents[i]!.length)) {
    for (const [i, w] of writers.entries()) {
      const body = contents[i]!;
      if (offsets[i]! >= body.length) continue;
      chunk = (chunk * 37 + 11) % (9 * KiB) + 1;
      const piece = body.subarray(offsets[i], offsets[i]! + chunk);
      offsets[i]! += piece.length;
      await new Promise<void>((resolve, reject) => w.write(piece, (e) => (e ? reject(e) : resolve())));
    }
  }
  await Promise.all(writers.map((w) => new Promise<void>((resolve, reject) => w.end(() => resolve()).once('error', reject))));
}

const objectBytes = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `exports/${key}` }))).Body!.transformToByteArray());
/** How many uploads of `key` are open. */
const openUploads = async (key: string) => ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).filter((u) => u.Key === `exports/${key}`).length;

describe('a file in sections on object storage', () => {
  const layouts: Record<string, number[]> = {
    'one section, empty': [0],
    'one section of many parts': [5 * PART + 123],
    'three empty sections': [0, 0, 0],
    'small sections: all in one last part': [10, 0, 7 * KiB],
    'sections of many parts, an empty one between': [3 * PART + 5, 0, 2 * PART + 17, 4 * PART],
    'a section shorter than a junction head between two large ones': [2 * PART, MIN_PART - 1, 3 * PART],
    'a section exactly one head long, one just over': [PART, MIN_PART, MIN_PART + 1, PART + 1],
    'a first section empty, the others large': [0, 3 * PART, 2 * PART],
    // Alone, the first section's bytes would be a part under the minimum: the next section's head makes it whole.
    'a first section shorter than the minimum part, then a large one': [MIN_PART - 1, 3 * PART],
    'a last section shorter than a part': [4 * PART, 2 * PART + 1, 100],
  };
  for (const [name, sizes] of Object.entries(layouts)) {
    it(`${name} (${sizes.join(', ')} bytes): the object is the sections in order, with their size and SHA-256`, async () => {
      const key = `${uniqueName('k')}.csv`;
      const upload = await store.begin(key, 'test', () => Promise.resolve());
      const sections = await upload.sections(sizes.length);
      assert.equal(sections.writers.length, sizes.length);
      const contents = sizes.map((n, i) => bytesOf(i, n));
      await writeInTurns(sections.writers, contents);
      await sections.done;
      const published = await upload.publish();
      const whole = Buffer.concat(contents);
      const stored = await objectBytes(key);
      assert.equal(stored.length, whole.length);
      assert.ok(stored.equals(whole), 'the object holds the sections in order');
      assert.equal(published.bytes, whole.length);
      assert.equal(published.sha256, createHash('sha256').update(whole).digest('hex'));
      assert.equal(await openUploads(key), 0);
    });
  }

  it('the same file as one stream: one range, the short tail last', async () => {
    const key = `${uniqueName('k')}.xlsx`;
    const upload = await store.begin(key, 'test', () => Promise.resolve());
    const body = bytesOf(9, 3 * PART + 999);
    await writeInTurns([upload.stream], [body]);
    const published = await upload.publish();
    assert.ok((await objectBytes(key)).equals(body));
    assert.equal(published.sha256, createHash('sha256').update(body).digest('hex'));
  });

  it('aborted midway: no object, no open upload', async () => {
    const key = `${uniqueName('k')}.csv`;
    const upload = await store.begin(key, 'test', () => Promise.resolve());
    const sections = await upload.sections(3);
    for (const [i, w] of sections.writers.entries()) w.write(bytesOf(i, 2 * PART + 5));
    await new Promise((r) => setImmediate(r));
    assert.equal(await openUploads(key), 1, 'the upload is open before the abort');
    await upload.abort();
    assert.equal(await openUploads(key), 0);
    await assert.rejects(objectBytes(key), (e: Error) => e.name === 'NoSuchKey');
  });
});
