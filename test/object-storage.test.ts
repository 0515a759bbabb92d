/**
 * Export files in S3-compatible object storage (s3rver, a real S3 REST
 * server): the download is a 307 to a presigned link on the store, the file
 * is the same as on local disk, size and SHA-256 are on the run, Range
 * resumes, retention deletes the object, the upload of an attempt that died
 * is aborted by its record, a store that fails during an export fails the
 * run with a reason once its retries are spent. Many machines and a killed worker:
 * multi-process.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CareReportsClient } from '../packages/client/src/node.ts';
import { exportJobIsOpen } from '../src/jobs/queue.ts';
import { createLogger } from '../src/log.ts';
import { sweep } from '../src/runs/sweep.ts';
import { openExportStore } from '../src/storage/index.ts';
import { PASSWORD } from './helpers/cluster.ts';
import { testBucket } from './helpers/s3.ts';
import { answering, basic, exportDownload, fetch, getJson, startTestService, waitClosed } from './helpers/service.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const DAY = 86_400_000;
const s3 = await testBucket();
const svc = await startTestService({ ...s3.env, DOWNLOAD_URL_TTL_SECONDS: '120', RETENTION_DAYS: '1' });
const h = basic('demo');
const QUERY = 'conversation?companyKey=demo&startTime=1551441600000&endTime=1556712000000&reportFormat=csv&locale=en_US';

const objectsUnder = async (prefix: string) =>
  ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
const fileKeyOf = async (runId: string) =>
  (await svc.pool.query<{ pk: string; file_key: string | null }>('SELECT id::text AS pk, file_key FROM export_runs WHERE run_id = $1', [runId])).rows[0]!;

/**
 * A store that fails during an export: the bucket disappears after the
 * service checked it at start. Started first, as its retries take a while;
 * the other cases run meanwhile.
 */
const failedRun = (async () => {
  const gone = await testBucket();
  const failing = await startTestService({ ...gone.env });
  await gone.client.send(new DeleteBucketCommand({ Bucket: gone.bucket }));
  const created = await getJson(`${failing.base}/api/public/reports/report/${QUERY}`, h);
  assert.equal(created.status, 200);
  const closed = await waitClosed(created.body.result.statusUrl as string, h, 100_000);
  const row = await failing.pool.query<{ attempt: number }>('SELECT attempt FROM export_runs WHERE run_id = $1', [created.body.result.runId]);
  return { result: closed.result.result as { detail: string; reason: string }, attempts: row.rows[0]!.attempt };
})();
failedRun.catch(() => undefined); // awaited by its case

/** One pass of the sweeper over this file's service, by the clock `now`. */
const sweepAt = async (now: Date) =>
  sweep({ pool: svc.pool, store: await openExportStore(svc.config), log: createLogger('silent'), runHistoryDays: 30, jobIsOpen: (id) => exportJobIsOpen(svc.boss, id) }, now);

async function completedRun(query: string) {
  const created = await getJson(`${svc.base}/api/public/reports/report/${query}`, h);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const closed = await waitClosed(created.body.result.statusUrl as string, h);
  assert.equal(closed.result.result.detail, 'COMPLETED', JSON.stringify(closed.result));
  return { runId: created.body.result.runId as string, downloadUrl: closed.result.jobInfo.downloadUrl as string, result: closed.result.result };
}

describe('export files in S3-compatible object storage', () => {
  it('the download is a 307 to a presigned link on the store; the file is the one local disk gives, with its size and SHA-256 on the run; Range resumes', async () => {
    const run = await completedRun(QUERY);
    const { file_key: fileKey } = await fileKeyOf(run.runId);
    assert.ok(fileKey);

    const redirect = await fetch(run.downloadUrl, { headers: h, redirect: 'manual' });
    assert.equal(redirect.status, 307);
    const link = new URL(redirect.headers.get('location')!);
    assert.equal(link.origin, s3.env['S3_ENDPOINT'], 'the link points at the store, not at the service');
    assert.equal(decodeURIComponent(link.pathname), `/${s3.bucket}/exports/${fileKey}`);
    assert.equal(link.searchParams.get('X-Amz-Expires'), '120', 'the configured lifetime');
    assert.equal(link.searchParams.get('response-content-disposition'), `attachment; filename="${path.posix.basename(fileKey)}"`);
    // Made by the SDK's presigner with the service's credentials: signing the same request at the same instant gives the same link.
    const amzDate = link.searchParams.get('X-Amz-Date')!;
    const signedAt = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`);
    const again = await getSignedUrl(
      s3.client,
      new GetObjectCommand({
        Bucket: s3.bucket, Key: `exports/${fileKey}`, ResponseContentDisposition: link.searchParams.get('response-content-disposition')!,
        ResponseContentType: link.searchParams.get('response-content-type')!, ResponseCacheControl: link.searchParams.get('response-cache-control')!,
      }),
      { expiresIn: 120, signingDate: signedAt },
    );
    assert.equal(new URL(again).searchParams.get('X-Amz-Signature'), link.searchParams.get('X-Amz-Signature'));

    const res = await globalThis.fetch(link);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${path.posix.basename(fileKey)}"`);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    const body = Buffer.from(await res.arrayBuffer());
    const local = await startTestService();
    const fromDisk = await exportDownload(local, QUERY);
    assert.ok(body.equals(fromDisk.body), 'the same bytes as the local-disk store gives for the same request');
    assert.equal(fromDisk.contentType, res.headers.get('content-type'), 'and the same type');
    assert.equal(run.result.fileBytes, body.length);
    assert.equal(run.result.fileSha256, createHash('sha256').update(body).digest('hex'));

    const rest = await globalThis.fetch(link, { headers: { Range: 'bytes=1000-' } });
    assert.equal(rest.status, 206);
    assert.ok(Buffer.from(await rest.arrayBuffer()).equals(body.subarray(1000)), 'a resumed download gets the rest of the file');

    assert.deepEqual(await objectsUnder(`exports/${fileKey.split('/').slice(0, 2).join('/')}/`), [`exports/${fileKey}`], 'one object for the run');
    const uploads = await svc.pool.query('SELECT 1 FROM export_uploads');
    assert.equal(uploads.rowCount, 0, 'no upload record is left once the file is published');
    assert.deepEqual(await s3.openUploads(), [], 'and no upload is open');
  });

  it('the SDK downloads from the store and checks the size and SHA-256 the run gives', async () => {
    const client = new CareReportsClient({ baseUrl: svc.base, username: 'demo', password: PASSWORD, fetch: (input, init) => fetch(input as string, init) });
    const created = await client.createExport('conversation', { companyKey: 'demo', startTime: 1551441600000, endTime: 1556712000000, reportFormat: 'json' });
    const done = await client.waitForRun(created.statusUrl);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-s3-sdk-'));
    after(() => fs.rm(dir, { recursive: true, force: true }));
    const dest = path.join(dir, 'out.json');
    const bytes = await client.download(done.downloadUrl, dest, { expect: done });
    const file = await fs.readFile(dest);
    assert.equal(bytes, file.length);
    assert.equal(bytes, done.fileBytes);
    assert.equal(createHash('sha256').update(file).digest('hex'), done.fileSha256);
    const bad = path.join(dir, 'bad.json');
    await assert.rejects(client.download(done.downloadUrl, bad, { expect: { fileBytes: done.fileBytes ?? null, fileSha256: '0'.repeat(64) } }), /SHA-256/);
    await assert.rejects(fs.stat(bad), 'a file that fails its check is not left behind');
    await assert.rejects(fs.stat(`${bad}.part`), 'nor its partial file');
  });

  it('after its retention the object is deleted and the download answers 410', async () => {
    const run = await completedRun(QUERY.replace('locale=en_US', 'locale=de'));
    const { file_key: fileKey } = await fileKeyOf(run.runId);
    const swept = await sweepAt(new Date(Date.now() + 1.01 * DAY));
    assert.ok(swept.filesExpired >= 1);
    await assert.rejects(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `exports/${fileKey}` })), { name: 'NotFound' });
    // The API hears of the sweep's change a few milliseconds after its commit.
    await answering(410, () => getJson(run.downloadUrl, h));
  });

  it('the upload of an attempt that died is aborted through its record, without listing the bucket', async () => {
    const run = await completedRun(QUERY.replace('locale=en_US', 'locale=fr'));
    const { pk } = await fileKeyOf(run.runId);
    // What a worker killed mid-upload leaves: an open multipart upload with a part, recorded for an attempt that no longer holds the run.
    const key = `exports/dead/${pk}.0/conversation.csv`;
    const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    await s3.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 'x') }));
    await svc.pool.query('INSERT INTO export_uploads (run_id, attempt, handle) VALUES ($1, 0, $2)', [pk, JSON.stringify({ key, uploadId: UploadId })]);
    assert.deepEqual(await s3.openUploads(), [key], 'the upload is open before the sweep');
    const swept = await sweepAt(new Date());
    assert.equal(swept.uploadsDiscarded, 1);
    assert.ok((await s3.requests()).some((l) => l.startsWith(`DELETE /${s3.bucket}/${key}?uploadId=${UploadId}`)), 'AbortMultipartUpload was sent for the recorded upload');
    assert.deepEqual(await s3.openUploads(), [], 'and no upload is open after it');
    assert.equal((await svc.pool.query('SELECT 1 FROM export_uploads WHERE run_id = $1', [pk])).rowCount, 0);
  });

  it('an attempt killed after its upload completed (or whose Complete answer was lost): the sweep deletes the object its record names', async () => {
    const run = await completedRun(QUERY.replace('locale=en_US', 'locale=es'));
    const { pk, file_key: published } = await fileKeyOf(run.runId);
    const key = `exports/dead/${pk}.0/conversation.csv`;
    const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    const part = await s3.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 'y') }));
    await s3.client.send(new CompleteMultipartUploadCommand({ Bucket: s3.bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    await svc.pool.query('INSERT INTO export_uploads (run_id, attempt, handle) VALUES ($1, 0, $2)', [pk, JSON.stringify({ key, uploadId: UploadId })]);
    assert.ok((await s3.objects()).includes(key));

    const swept = await sweepAt(new Date());
    assert.equal(swept.uploadsDiscarded, 1);
    const left = await s3.objects();
    assert.ok(!left.includes(key), 'the dead attempt\'s object is gone');
    assert.ok(left.includes(`exports/${published}`), 'the run\'s published file stays');
  });

  it('a store that fails during an export: each attempt fails and is retried; once the retries are spent, the run says the file could not be stored', { timeout: 120_000 }, async () => {
    const { result, attempts } = await failedRun;
    assert.equal(result.detail, 'FAILED');
    assert.equal(result.reason, 'the export file could not be stored; try again later, and tell the operator if it keeps failing');
    assert.equal(attempts, 4, 'the first attempt and its three retries');
  });
});
