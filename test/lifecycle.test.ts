/**
 * A run's file is downloadable only once complete; signed links and access
 * tokens stop working after their expiry; migrations tolerate two processes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createPool } from '../src/db/database.ts';
import { migrate, loadMigrations } from '../src/db/migrate.ts';
import { emptyDatabase } from './helpers/db.ts';
import { basic, getJson, startTestService, waitClosed } from './helpers/service.ts';

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
      runnerState: 'RUNNING', reason: null, detail: '', currentCount: null, totalCount: null, lastAcknowledgeTime: null, queuePosition: 1,
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
  const svc = await startTestService({ DOWNLOAD_URL_TTL_SECONDS: '1', ACCESS_TOKEN_TTL_SECONDS: '1' });

  it('a signed link works at once and answers 403 after its expiry; /download gives a fresh one', async () => {
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo&${RANGE}&reportFormat=csv&reportMetrics=CONVERSATION_ID`, h);
    const statusUrl = created.body.result.statusUrl as string;
    const { workflowId, runId } = created.body.result as Record<string, string>;
    const byKey = `${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId!)}`;
    await waitClosed(`${byKey}/status?companyKey=demo`, h);
    const redirect = await fetch(`${byKey}/download?companyKey=demo`, { headers: h, redirect: 'manual' });
    assert.equal(redirect.status, 307);
    const link = redirect.headers.get('location')!;
    const now = await fetch(link);
    assert.equal(now.status, 200);
    const bytes = Buffer.from(await now.arrayBuffer());
    assert.ok(bytes.toString('utf8').startsWith('CONVERSATION_ID\n'));

    await new Promise((r) => setTimeout(r, 2200));
    const late = await getJson(link);
    assert.equal(late.status, 403);
    assert.match(late.body.message ?? '', /download link has expired; call the run's downloadUrl again/);

    // The token of the statusUrl has expired too; companyKey still works and hands out a fresh link.
    const stale = await getJson(statusUrl, h);
    assert.equal(stale.status, 403);
    assert.match(stale.body.message ?? '', /analyticsAccessToken has expired/);
    const again = await fetch(`${byKey}/download?companyKey=demo`, { headers: h, redirect: 'manual' });
    const fresh = await fetch(again.headers.get('location')!);
    assert.equal(fresh.status, 200);
    assert.deepEqual(Buffer.from(await fresh.arrayBuffer()), bytes);
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
      assert.deepEqual([...ra, ...rb].sort(), all.sort(), 'each version applied by exactly one of them');
      const rows = await a.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.rows.map((r) => r.version), all);
      assert.deepEqual(await migrate(a), [], 'nothing left to apply');
    } finally {
      await a.end();
      await b.end();
    }
  });
});
