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
import fs from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { AbortMultipartUploadCommand, CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { createPool } from '../src/db/database.ts';
import { conversation } from '../src/exports/catalog/conversation.ts';
import { buildExportQuery } from '../src/exports/query.ts';
import { parseExportRequest } from '../src/exports/request.ts';
import { ExportRead } from '../src/exports/writer.ts';
import { S3Store, type PartSizes } from '../src/storage/s3-store.ts';
import { StoreError } from '../src/storage/store.ts';
import { uniqueName } from './helpers/cluster.ts';
import { testDatabase } from './helpers/db.ts';
import { S3_CREDENTIALS } from './helpers/s3.ts';
import { bytesOf, writeInTurns } from './helpers/sections.ts';
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
const storeWith = (sizes: Partial<PartSizes> = {}) =>
  new S3Store({ bucket, prefix: 'exports', endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true }, undefined, { partBytes: PART, minPartBytes: MIN_PART, ...sizes });
const store = storeWith();

/** The server's log lines of the parts uploaded for `key`. */
const partRequests = async (key: string) =>
  (await fs.readFile(server.logFile, 'utf8')).split('\n').filter((l) => l.startsWith(`PUT /${bucket}/exports/${key}?partNumber=`));

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
    for (const [i, w] of sections.writers.entries()) w.write(bytesOf(i, 2 * PART + MIN_PART + 5));
    // Parts of every section are stored (or on their way) before the abort.
    for (let tries = 0; (await partRequests(key)).length < 3; tries++) {
      assert.ok(tries < 500, 'each section uploads a part');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await openUploads(key), 1, 'the upload is open before the abort');
    await upload.abort();
    assert.equal(await openUploads(key), 0);
    await assert.rejects(objectBytes(key), (e: Error) => e.name === 'NoSuchKey');
    await assert.rejects(sections.done, 'the sections are stopped');
  });

  it('a part the store refuses fails the sections with a StoreError, and abort still cleans up', async () => {
    const key = `${uniqueName('k')}.csv`;
    let handle = '';
    const upload = await store.begin(key, 'test', (h) => {
      handle = h;
      return Promise.resolve();
    });
    const sections = await upload.sections(2);
    // The upload disappears from the store (as when another process aborted it): every later part is refused.
    const { uploadId } = JSON.parse(handle) as { uploadId: string };
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: `exports/${key}`, UploadId: uploadId }));
    const writes = writeInTurns(sections.writers, [bytesOf(0, 3 * PART), bytesOf(1, 3 * PART)]);
    writes.catch(() => undefined);
    await assert.rejects(sections.done, (e: Error) => e instanceof StoreError && /could not store a part of the file/.test(e.message));
    await upload.abort();
    assert.equal(await openUploads(key), 0);
    await assert.rejects(objectBytes(key), (e: Error) => e.name === 'NoSuchKey');
  });

  it('a section far larger than its share of part numbers grows its parts; past that it fails with a clear error', async () => {
    // 40 part numbers for 2 sections: 19 parts each, growing by PART with each tenth of the range (2 parts).
    const small = storeWith({ maxParts: 40 });
    const key = `${uniqueName('k')}.csv`;
    const upload = await small.begin(key, 'test', () => Promise.resolve());
    const sections = await upload.sections(2);
    // More than 19 parts of one size hold: 40 × PART.
    const contents = [bytesOf(0, 100), bytesOf(1, 40 * PART)];
    await writeInTurns(sections.writers, contents);
    await upload.publish();
    assert.ok((await objectBytes(key)).equals(Buffer.concat(contents)));
    const parts = (await partRequests(key)).length;
    assert.ok(parts < 20, `${parts} parts for 40 parts' worth of bytes`);

    const over = `${uniqueName('k')}.csv`;
    const tooLarge = await small.begin(over, 'test', () => Promise.resolve());
    const overSections = await tooLarge.sections(2);
    // 19 parts growing to 10 × PART hold at most 5.5 × 19 parts' worth (about 104 × PART).
    const writes = writeInTurns(overSections.writers, [bytesOf(0, 10), bytesOf(1, 120 * PART)]);
    writes.catch(() => undefined);
    await assert.rejects(overSections.done, (e: Error) => e instanceof StoreError && /larger than 19 parts.*EXPORT_SLICES/.test(e.message));
    await tooLarge.abort();
    assert.equal(await openUploads(over), 0);
  });
});

describe('an export in slices, into object storage in sections', () => {
  it('CSV and JSON in 3 slices: the object is byte for byte the one-COPY file, with its SHA-256', async () => {
    const pool = createPool(await testDatabase(), 10);
    after(() => pool.end());
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM companies WHERE key = 'demo'`);
    for (const format of ['csv', 'json'] as const) {
      const raw = { companyKey: ['demo'], startTime: [String(Date.UTC(2019, 0, 1))], endTime: [String(Date.UTC(2019, 3, 1))], reportFormat: [format], conversationReportType: ['CREATED'] };
      const req = parseExportRequest(conversation, raw, { resolveZone: () => undefined });
      const query = buildExportQuery(conversation, req, { companyId: rows[0]!.id }, 'ISO_8601');
      // The oracle: one COPY into memory.
      const parts: Buffer[] = [];
      const whole = await ExportRead.open(pool, undefined);
      await whole.write(query, new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }), { format });
      await whole.release(false);
      const expected = Buffer.concat(parts);
      assert.ok(expected.length > 8 * PART, `the export spans many parts (${expected.length} bytes)`);

      const key = `${uniqueName('k')}.${format}`;
      const upload = await store.begin(key, 'test', () => Promise.resolve());
      const read = await ExportRead.open(pool, undefined, { slices: { max: 3, minRows: 2 } });
      // The count comes first, as in the worker: it decides the slices.
      await read.count(query, format);
      const written = await read.write(query, upload, { format });
      await read.release(false);
      assert.equal(written.slices, 3);
      const published = await upload.publish();
      const stored = await objectBytes(key);
      assert.ok(stored.equals(expected), `the ${format} object is the one-COPY file`);
      assert.equal(published.sha256, createHash('sha256').update(expected).digest('hex'));
      // Section i numbers its own parts from i × span + 1 (span: 10,000 parts shared by 3 sections).
      const span = Math.floor(10_000 / 3);
      const numbers = (await partRequests(key)).map((l) => Number(/partNumber=(\d+)/.exec(l)![1]));
      for (let i = 0; i < 3; i++) {
        assert.ok(numbers.some((n) => n > i * span && n < (i + 1) * span), `section ${i} uploaded a part of its own (parts ${numbers.join(', ')})`);
      }
    }
  });
});
