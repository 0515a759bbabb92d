/**
 * A run's file is downloadable only once complete; signed links and access
 * tokens stop working after their expiry; migrations tolerate two processes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createPool } from '../src/db/database.ts';
import { loadSecret } from '../src/db/secrets.ts';
import { AccessTokens } from '../src/runs/access-token.ts';
import { UrlSigner } from '../src/storage/signed-url.ts';
import { migrate, loadMigrations } from '../src/db/migrate.ts';
import { emptyDatabase, testDatabase } from './helpers/db.ts';
import { basic, fetch, getJson, startTestService, waitClosed } from './helpers/service.ts';

const RANGE = 'startTime=1551441600000&endTime=1556712000000';
const h = basic('demo');

describe('not downloadable before complete', async () => {
  // An API with no worker: runs stay queued.
  const api = await startTestService({}, { api: true, worker: false });

  it('status says RUNNING, download answers 409 and no file exists', async () => {
    const created = await getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${RANGE}`, h);
    assert.equal(created.status, 200);
    const status = await getJson(created.body.result.statusUrl as string, h);
    assert.deepEqual(status.body.result.result, {
      runnerState: 'RUNNING', reason: null, detail: '', currentCount: null, totalCount: null, lastAcknowledgeTime: null, fileBytes: null, fileSha256: null,
      queuePosition: 1,
    });
    assert.equal(status.body.result.jobInfo.downloadUrl, '');
    const dl = await getJson((created.body.result.statusUrl as string).replace('/status?', '/download?'), h, { redirect: 'manual' });
    assert.equal(dl.status, 409);
    assert.equal(dl.body.status, 'FAIL');
    assert.match(dl.body.message ?? '', /not complete yet; poll statusUrl/);
    const files = await fs.readdir(path.join(api.dataDir, 'exports'), { recursive: true });
    assert.deepEqual(files.filter((f) => f.endsWith('.json') || f.endsWith('.csv')), []);
  });
});

describe('expiry', async () => {
  const svc = await startTestService({ DOWNLOAD_URL_TTL_SECONDS: '60', ACCESS_TOKEN_TTL_SECONDS: '60' });
  // The service's own keys: links and tokens made as the service made them two minutes ago, so past their lifetime now.
  const signer = new UrlSigner(await loadSecret(svc.pool, 'signed-url'));
  const tokens = new AccessTokens(await loadSecret(svc.pool, 'access-token'), 60);
  const twoMinutesAgo = () => Date.now() - 120_000;

  it('a signed link works at once and answers 403 after its expiry; /download gives a fresh one', async () => {
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo&${RANGE}&reportFormat=csv&reportMetrics=CONVERSATION_ID`, h);
    const { workflowId, runId, statusUrl } = created.body.result as Record<string, string>;
    // The statusUrl's token is the service's own: it must expire after ACCESS_TOKEN_TTL_SECONDS, as a token of the
    // test's made two minutes ago (below) has. Its first four bytes are its expiry in epoch seconds.
    const issued = Buffer.from(new URL(statusUrl!).searchParams.get('analyticsAccessToken')!, 'base64').readUInt32BE(0) * 1000;
    assert.ok(Math.abs(issued - (Date.now() + 60_000)) < 5_000, `the token lives ACCESS_TOKEN_TTL_SECONDS (expires ${issued})`);
    const byKey = `${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId!)}`;
    const closed = await waitClosed(`${byKey}/status?companyKey=demo`, h);
    const redirect = await fetch(`${byKey}/download?companyKey=demo`, { headers: h, redirect: 'manual' });
    assert.equal(redirect.status, 307);
    const link = new URL(redirect.headers.get('location')!);
    const expires = Number(link.searchParams.get('expires')) * 1000;
    assert.ok(Math.abs(expires - (Date.now() + 60_000)) < 5_000, `the link lives DOWNLOAD_URL_TTL_SECONDS (expires ${expires})`);
    const now = await fetch(link);
    assert.equal(now.status, 200);
    const bytes = Buffer.from(await now.arrayBuffer());
    assert.ok(bytes.toString('utf8').startsWith('CONVERSATION_ID\n'));
    // The size and SHA-256 the worker measured while streaming are those of the bytes served.
    assert.equal(closed.result.result.fileBytes, bytes.length);
    assert.equal(closed.result.result.fileSha256, createHash('sha256').update(bytes).digest('hex'));

    const key = decodeURIComponent(link.pathname.slice('/files/'.length));
    assert.ok((await fetch(`${svc.base}${signer.sign(key, Date.now() + 60_000)}`)).ok, 'the test signs as the service does');
    const late = await getJson(`${svc.base}${signer.sign(key, twoMinutesAgo() + 60_000)}`);
    assert.equal(late.status, 403);
    assert.match(late.body.message ?? '', /download link has expired; call the run's downloadUrl again/);

    // A statusUrl whose token has expired answers 403; companyKey still works and hands out a fresh link.
    const staleUrl = `${byKey}/status?analyticsAccessToken=${encodeURIComponent(tokens.issue(runId!, twoMinutesAgo()))}`;
    const stale = await getJson(staleUrl, h);
    assert.equal(stale.status, 403);
    assert.match(stale.body.message ?? '', /analyticsAccessToken has expired/);
    const fresh = await getJson(`${byKey}/status?analyticsAccessToken=${encodeURIComponent(tokens.issue(runId!))}`, h);
    assert.equal(fresh.status, 200, 'a token of the same key made now is accepted');
    const again = await fetch(`${byKey}/download?companyKey=demo`, { headers: h, redirect: 'manual' });
    const refetched = await fetch(again.headers.get('location')!);
    assert.equal(refetched.status, 200);
    assert.deepEqual(Buffer.from(await refetched.arrayBuffer()), bytes);
  });
  it('a signed link to a symlink planted in the store, or to a directory, serves nothing', async () => {
    const outside = path.join(svc.dataDir, 'secret.txt');
    await fs.writeFile(outside, 'not an export');
    const exportsDir = path.join(svc.dataDir, 'exports');
    await fs.mkdir(path.join(exportsDir, 'planted'), { recursive: true });
    await fs.symlink(outside, path.join(exportsDir, 'planted', 'link.csv'));
    await fs.symlink(path.dirname(outside), path.join(exportsDir, 'dirlink'));
    for (const key of ['planted/link.csv', 'dirlink/secret.txt', 'planted']) {
      const r = await fetch(`${svc.base}${signer.sign(key, Date.now() + 60_000)}`);
      const body = await r.text();
      assert.equal(r.status, 410, `${key}: ${body}`);
      assert.doesNotMatch(body, /not an export/);
    }
  });
});

describe('migrations', () => {
  it('two processes migrating an empty database at once apply each migration exactly once', async () => {
    const url = await emptyDatabase();
    const a = createPool(url, 2);
    const b = createPool(url, 2);
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const all = (await loadMigrations()).map((m) => m.version);
      const byNumber = (x: number, y: number) => x - y;
      assert.deepEqual([...ra, ...rb].sort(byNumber), [...all].sort(byNumber), 'each version applied by exactly one of them');
      const rows = await a.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.rows.map((r) => r.version), all);
      assert.deepEqual(await migrate(a), [], 'nothing left to apply');
    } finally {
      await a.end();
      await b.end();
    }
  });
});

describe('roles on your own PostgreSQL', () => {
  it('DATABASE_OWNER_URL migrates and grants; the service, connected as a role of its own, exports and cannot change the schema', async () => {
    const ownerUrl = await testDatabase();
    const role = `svc_${Date.now()}`;
    const admin = createPool(ownerUrl, 1);
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'service-password'`);
    } finally {
      await admin.end();
    }
    const serviceUrl = new URL(ownerUrl);
    serviceUrl.username = role;
    serviceUrl.password = 'service-password';
    const svc = await startTestService({ DATABASE_OWNER_URL: ownerUrl }, { databaseUrl: serviceUrl.toString() });
    const current = await svc.pool.query<{ u: string }>('SELECT current_user AS u');
    assert.equal(current.rows[0]!.u, role, 'the service pool connects as the service role');
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo&${RANGE}&reportFormat=csv&reportMetrics=CONVERSATION_ID`, h);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal((await waitClosed(created.body.result.statusUrl as string, h)).result.result.detail, 'COMPLETED');
    for (const ddl of ['CREATE TABLE intruder (a int)', 'DROP TABLE export_runs', 'ALTER TABLE companies ADD COLUMN x int', 'DELETE FROM schema_migrations']) {
      await assert.rejects(svc.pool.query(ddl), /permission denied|must be owner/, `${ddl} is refused`);
    }
  });
});
