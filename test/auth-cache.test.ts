/**
 * The API keeps the users it authenticates in memory; every change to users,
 * permissions or companies is announced by the database on commit and empties
 * that memory. A change applies within milliseconds, and nothing is kept
 * while the announcement channel is down. Closed runs are kept too (their
 * status is what clients poll hardest), behind the same checks of who asks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createUser, grant } from '../src/accounts/accounts.ts';
import { createPool } from '../src/db/database.ts';
import { answering, basic, getJson, startTestService } from './helpers/service.ts';
import { PASSWORD, USERS } from './helpers/cluster.ts';
import { testDatabase } from './helpers/db.ts';

// The users exist before the service starts listening, so no announcement of their creation can arrive late and
// empty the memory in the middle of a case.
const url = await testDatabase();
const setup = createPool(url, 1);
for (const username of ['cache1', 'cache2', 'cache3']) {
  await createUser(setup, { companyKey: 'demo', username, password: PASSWORD });
  await grant(setup, username, 'ANALYTICS_REPORTS_API');
}
await setup.end();
const svc = await startTestService({}, { api: true, worker: false, databaseUrl: url });
const teams = (user: string) => getJson(`${svc.base}/api/public/teams?companyKey=demo`, basic(user));

/** Milliseconds until `call` answers `status`, polling every 2 ms for at most 2 s. */
async function until(status: number, call: () => ReturnType<typeof getJson>): Promise<number> {
  const t0 = performance.now();
  await answering(status, call, { withinMs: 2000, everyMs: 2 });
  return performance.now() - t0;
}

const listener = async () =>
  (await svc.pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN care_accounts_changed%'`)).rows;

describe('users kept in memory', () => {
  it('a permission revoked, a user disabled or a password changed elsewhere applies within milliseconds', async () => {
    assert.equal((await teams('cache1')).status, 200);
    // Proof that the user is kept: a change the database does not announce is not seen.
    await svc.pool.query('ALTER TABLE user_permissions DISABLE TRIGGER user_permissions_changed');
    await svc.pool.query(`DELETE FROM user_permissions p USING api_users u WHERE p.user_id = u.id AND u.username = 'cache1'`);
    assert.equal((await teams('cache1')).status, 200, 'served from memory');
    await svc.pool.query('ALTER TABLE user_permissions ENABLE TRIGGER user_permissions_changed');
    await grant(svc.pool, 'cache1', 'ANALYTICS_REPORTS_API');
    await svc.pool.query(`DELETE FROM user_permissions p USING api_users u WHERE p.user_id = u.id AND u.username = 'cache1'`);
    const revoked = await until(403, () => teams('cache1'));
    await grant(svc.pool, 'cache1', 'ANALYTICS_REPORTS_API');
    const granted = await until(200, () => teams('cache1'));
    await svc.pool.query(`UPDATE api_users SET enabled = false WHERE username = 'cache1'`);
    const disabled = await until(401, () => teams('cache1'));
    for (const ms of [revoked, granted, disabled]) assert.ok(ms < 500, `applied after ${ms.toFixed(1)} ms`);
    process.stdout.write(`# changes applied after ${[revoked, granted, disabled].map((ms) => `${ms.toFixed(1)} ms`).join(', ')}\n`);
  });

  it('while the listening connection is down nothing is kept, and it comes back', async () => {
    assert.equal((await teams('cache2')).status, 200);
    const [before] = await listener();
    assert.ok(before, 'the API listens for account changes');
    await svc.pool.query('SELECT pg_terminate_backend($1)', [before.pid]);
    await new Promise((r) => setTimeout(r, 100));
    // With no one listening, the announcement of this revoke is lost: only reading the user on every call sees it.
    await svc.pool.query(`DELETE FROM user_permissions p USING api_users u WHERE p.user_id = u.id AND u.username = 'cache2'`);
    assert.equal((await teams('cache2')).status, 403, 'the revoke applies on the next call');
    const deadline = Date.now() + 5000;
    // Another pid: the terminated backend may still be listed while it exits.
    const listeningAgain = async () => (await listener()).find((l) => l.pid !== before.pid);
    while (!(await listeningAgain()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const after = await listeningAgain();
    assert.ok(after && after.pid !== before.pid, 'a new listening connection');
    await grant(svc.pool, 'cache2', 'ANALYTICS_REPORTS_API');
    assert.ok((await until(200, () => teams('cache2'))) < 500);
  });
});

describe('closed runs kept in memory', () => {
  it('a closed run is answered from memory, but a revoked permission, another company and a user without permission are refused at once', async () => {
    const h = basic('cache3');
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo&startTime=1551441600000&endTime=1551528000000`, h);
    assert.equal(created.status, 200);
    const { workflowId, runId, statusUrl } = created.body.result as { workflowId: string; runId: string; statusUrl: string };
    const canceled = await getJson(`${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId)}?companyKey=demo`, h, { method: 'DELETE' });
    assert.equal(canceled.body.result.result.detail, 'CANCELED');
    assert.equal((await getJson(statusUrl, h)).body.result.result.detail, 'CANCELED');
    // Proof that the run is kept: a change the database does not announce is not seen; one it announces is.
    const reason = async () => (await getJson(statusUrl, h)).body.result.result.reason as string;
    await svc.pool.query('ALTER TABLE export_runs DISABLE TRIGGER closed_run_changed');
    await svc.pool.query(`UPDATE export_runs SET reason = 'unannounced' WHERE run_id = $1`, [runId]);
    assert.notEqual(await reason(), 'unannounced', 'served from memory');
    await svc.pool.query('ALTER TABLE export_runs ENABLE TRIGGER closed_run_changed');
    await svc.pool.query(`UPDATE export_runs SET reason = 'announced' WHERE run_id = $1`, [runId]);
    const t0 = performance.now();
    while ((await reason()) !== 'announced') {
      assert.ok(performance.now() - t0 < 500, 'an announced change is seen within milliseconds');
      await new Promise((r) => setTimeout(r, 2));
    }

    const byCompanyKey = `${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId)}/status`;
    assert.equal((await getJson(`${byCompanyKey}?companyKey=acme`, basic(USERS.acme))).status, 404, 'another company’s user does not find it');
    assert.equal((await getJson(`${byCompanyKey}?companyKey=demo`, basic(USERS.noperm))).status, 403, 'a user without the permission is refused');
    await svc.pool.query(`DELETE FROM user_permissions p USING api_users u WHERE p.user_id = u.id AND u.username = 'cache3'`);
    assert.ok((await until(403, () => getJson(statusUrl, h))) < 500, 'a revoke applies to a kept run within milliseconds');
  });
});
