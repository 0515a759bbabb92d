/**
 * Exports from a read replica (DATABASE_READ_URL): a real streaming replica
 * of a server of this file's own, built from the embedded binaries. Rows
 * ingested just before a run are in its file: with the replica's replay
 * paused, the run waits (its status says why) and completes once replay
 * resumes; a replica that stays behind, or is down, leaves the export to the
 * primary, which has the rows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { createCompany, createUser, grant } from '../src/accounts/accounts.ts';
import { freePort, startEmbedded, startEmbeddedStandby, type EmbeddedServer, type EmbeddedStandby } from '../src/db/embedded.ts';
import { seedCompany } from '../src/demo/seed.ts';
import { adminQuery, PASSWORD, SMALL_SEED } from './helpers/cluster.ts';
import { basic, download, getJson, startTestService, waitClosed, type TestService } from './helpers/service.ts';

const h = basic('demo');
const FROM = Date.UTC(2019, 0, 1);
const TO = Date.UTC(2019, 6, 1);
const EXPORT = `conversation?companyKey=demo&startTime=${FROM}&endTime=${TO}&conversationReportType=CREATED&reportFormat=csv&reportMetrics=CONVERSATION_ID&reportMetrics=CONVERSATION_DISPLAY_ID`;

let primary: EmbeddedServer;
let standby: EmbeddedStandby;
const dirs: string[] = [];

before(async () => {
  for (let i = 0; i < 2; i++) dirs.push(await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-replica-')));
  for (const d of dirs) await fs.chmod(d, 0o711);
  // A throwaway pair: no flushes to disk; WAL kept so that the standby finds what its base backup needs.
  primary = await startEmbedded(dirs[0]!, await freePort(), () => {}, { fsync: 'off', synchronous_commit: 'off', wal_keep_size: '256MB' });
  standby = await startEmbeddedStandby(primary, dirs[0]!, dirs[1]!, () => {}, { fsync: 'off' });
});
after(async () => {
  await standby?.stop();
  await primary?.stop();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A service (API and worker, in this process) on the primary, exporting from the standby. */
async function service(env: Record<string, string> = {}): Promise<TestService> {
  return startTestService({ DATABASE_OWNER_URL: primary.ownerUrl, DATABASE_READ_URL: standby.url, ...env }, { databaseUrl: primary.url });
}

const onStandby = (sql: string) => adminQuery(standby.adminUrl, sql);

const conversation = (id: number) =>
  `${JSON.stringify({ id, displayId: `LATE-${id}`, network: 'EMAIL', status: 'OPEN', priority: 3, authorId: 5000001, createdAt: '2019-06-01T10:00:00Z', updatedAt: '2019-06-01T10:00:00Z' })}\n`;

async function ingest(svc: TestService, id: number): Promise<void> {
  const r = await getJson(`${svc.base}/api/v2/ingest/conversations`, { ...h, 'Content-Type': 'application/x-ndjson' }, { method: 'POST', body: conversation(id) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** Display ids in the export's file, and the count of the same rows on the primary. */
async function fileAndTruth(svc: TestService, closed: Awaited<ReturnType<typeof waitClosed>>): Promise<{ ids: string[]; truth: number }> {
  assert.equal(closed.result.result.detail, 'COMPLETED', JSON.stringify(closed.result.result));
  const { body } = await download(closed.result.jobInfo.downloadUrl as string, h);
  const ids = parse<Record<string, string>>(body, { columns: true }).map((r) => r['CONVERSATION_DISPLAY_ID']!);
  const truth = await svc.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM conversations c JOIN companies co ON co.id = c.company_id WHERE co.key = 'demo' AND c.created_at >= $1 AND c.created_at < $2`,
    [new Date(FROM), new Date(TO)],
  );
  return { ids, truth: truth.rows[0]!.n };
}

describe('exports from a streaming read replica', () => {
  it('a run waits for the replica to replay what was ingested before it, says so, and its file holds those rows; behind for too long or down, the primary serves', async () => {
    const svc = await service();
    const client = await svc.pool.connect();
    try {
      await client.query('BEGIN');
      const demo = await createCompany(client, { key: 'demo', name: 'Demo', timezone: 'America/Chicago' });
      await seedCompany(client, demo.id, SMALL_SEED);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await createUser(svc.pool, { companyKey: 'demo', username: 'demo', password: PASSWORD });
    await grant(svc.pool, 'demo', 'ANALYTICS_REPORTS_API');
    await grant(svc.pool, 'demo', 'INGEST');

    // The replica stops replaying; a conversation is ingested and a run created at once.
    await onStandby('SELECT pg_wal_replay_pause()');
    await ingest(svc, 910001);
    const created = await getJson(`${svc.base}/api/public/reports/report/${EXPORT}`, h);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const statusUrl = created.body.result.statusUrl as string;
    for (let waited = 0; ; waited += 50) {
      const s = await getJson(statusUrl, h);
      if (s.body.result.result.reason) {
        assert.equal(s.body.result.result.runnerState, 'RUNNING');
        assert.match(s.body.result.result.reason as string, /waiting for the read replica/);
        break;
      }
      assert.ok(waited < 20_000, `the run says it waits for the replica: ${JSON.stringify(s.body.result)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await onStandby('SELECT pg_wal_replay_resume()');
    const served = await fileAndTruth(svc, await waitClosed(statusUrl, h));
    assert.ok(served.ids.includes('LATE-910001'), 'the row ingested before the run is in its file');
    assert.equal(served.ids.length, served.truth);
    const done = await getJson(statusUrl, h);
    assert.equal(done.body.result.result.reason, null, 'nothing is left of the wait');
    await svc.stop();

    // Replay paused again, and a service that waits 1 s at most: the primary serves, with the new row.
    await onStandby('SELECT pg_wal_replay_pause()');
    const impatient = await service({ READ_REPLICA_WAIT_SECONDS: '1' });
    await ingest(impatient, 910002);
    const second = await getJson(`${impatient.base}/api/public/reports/report/${EXPORT}&reportMetrics=STATUS`, h);
    const fallback = await fileAndTruth(impatient, await waitClosed(second.body.result.statusUrl as string, h));
    assert.ok(fallback.ids.includes('LATE-910002'));
    assert.equal(fallback.ids.length, fallback.truth);
    await onStandby('SELECT pg_wal_replay_resume()');

    // The replica down: the primary serves at once.
    await standby.stop();
    await ingest(impatient, 910003);
    const third = await getJson(`${impatient.base}/api/public/reports/report/${EXPORT}&reportMetrics=PRIORITY`, h);
    const down = await fileAndTruth(impatient, await waitClosed(third.body.result.statusUrl as string, h, 20_000));
    assert.ok(down.ids.includes('LATE-910003'));
    assert.equal(down.ids.length, down.truth);
  });
});
