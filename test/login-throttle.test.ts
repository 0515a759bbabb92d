/**
 * Failed logins are throttled per username and per client address, counted
 * in PostgreSQL so that every API process refuses the same guesser; and a
 * flood of wrong passwords, throttled or not, leaves file downloads and
 * status polling fast, because password checks run a few at a time.
 * Clients speak from addresses of their own (127.0.0.x) over a real socket.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createUser, grant } from '../src/accounts/accounts.ts';
import { PasswordChecks } from '../src/accounts/password-checks.ts';
import { loadSecret } from '../src/db/secrets.ts';
import { ApiError } from '../src/errors.ts';
import { UrlSigner } from '../src/storage/signed-url.ts';
import { PASSWORD } from './helpers/cluster.ts';
import { timedGet } from './helpers/raw-http.ts';
import { basic, startTestService, type TestService } from './helpers/service.ts';

const throttled = { HOST: '127.0.0.1', LOGIN_FAILURES_PER_USER: '3', LOGIN_FAILURES_PER_ADDRESS: '5', LOGIN_THROTTLE_SECONDS: '60' };
const a = await startTestService(throttled, { listen: true, worker: false });
const databaseUrl = a.config.databaseUrl!;
// A second API process on the same database.
const b = await startTestService(throttled, { listen: true, worker: false, databaseUrl });
for (const user of ['late', 'target', 'crowd']) {
  await createUser(a.pool, { companyKey: 'demo', username: user, password: PASSWORD });
  await grant(a.pool, user, 'ANALYTICS_REPORTS_API');
}

const agents = new Map<string, http.Agent>();
after(() => {
  for (const agent of agents.values()) agent.destroy();
});
/** GET /api/public/teams as `user` from 127.0.0.`host` to service `svc`. */
async function teams(svc: TestService, host: number, user: string, password = PASSWORD) {
  const from = `127.0.0.${host}`;
  let agent = agents.get(from);
  if (!agent) agents.set(from, (agent = new http.Agent({ keepAlive: true, localAddress: from })));
  const r = await timedGet(`http://127.0.0.1:${svc.config.port}/api/public/teams?companyKey=demo`, basic(user, password), agent, 10_000);
  return { status: r.status, code: (JSON.parse(r.body) as { code?: string }).code, retryAfter: r.headers['retry-after'] };
}
const statuses = async (n: number, call: (i: number) => Promise<{ status: number }>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call(i)).status);
  return out;
};

describe('failed logins are throttled', () => {
  it('per user: after 3 wrong passwords every login as that user is refused, the right password too, from any address and process', async () => {
    assert.deepEqual(await statuses(3, (i) => teams(a, 2, 'target', `wrong-${i}`)), [401, 401, 401]);
    const refused = await teams(a, 2, 'target', 'wrong-4');
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'LOGIN_THROTTLED');
    const retryAfter = Number(refused.retryAfter);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${refused.retryAfter}`);
    assert.equal((await teams(a, 2, 'target')).status, 429, 'the right password is refused as well');
    assert.equal((await teams(a, 3, 'target')).status, 429, 'from another address');
    assert.equal((await teams(b, 4, 'target')).status, 429, 'by another API process');
    assert.equal((await teams(b, 4, 'demo')).status, 200, 'another user is not refused');
  });

  it('per address: after 5 failures from one address, on either process, every login from it is refused; other addresses are not', async () => {
    assert.equal((await teams(b, 5, 'demo')).status, 200, 'process b has verified demo');
    assert.deepEqual(await statuses(5, (i) => teams(i % 2 ? b : a, 5, `nobody-${i}`)), [401, 401, 401, 401, 401]);
    const refused = await teams(a, 5, 'demo');
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'LOGIN_THROTTLED');
    // Process b verified demo's password before: it learns of the refusal within a second, without a failure of its own.
    let onB = 0;
    for (const t0 = Date.now(); onB !== 429 && Date.now() - t0 < 3000; ) onB = (await teams(b, 5, 'demo')).status;
    assert.equal(onB, 429);
    assert.equal((await teams(a, 6, 'demo')).status, 200);
  });

  it('a window that has ended counts nothing', async () => {
    assert.deepEqual(await statuses(3, (i) => teams(a, 7, 'late', `wrong-${i}`)), [401, 401, 401]);
    assert.equal((await teams(a, 7, 'late')).status, 429);
    await a.pool.query(`UPDATE login_failures SET window_start = window_start - interval '61 seconds' WHERE subject IN ('user:late', 'address:127.0.0.7')`);
    // Process b has not seen the refusal; for it the database alone decides.
    assert.equal((await teams(b, 7, 'late')).status, 200);
    assert.equal((await teams(b, 7, 'late', 'wrong-again')).status, 401, 'a new window starts with one failure');
  });
});

describe('password checks run a few at a time', () => {
  it('beyond the waiting checks one process takes, a check is refused at once with 503 and Retry-After; credentials verified before go first', async () => {
    const checks = new PasswordChecks(1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const started: Promise<void>[] = [];
    for (let i = 0; i < 1 + 32; i++) started.push(checks.run(() => (order.push(`new ${i}`), gate)));
    await assert.rejects(
      checks.run(() => Promise.resolve()),
      (e: unknown) => e instanceof ApiError && e.code === 'LOGINS_OVERLOADED' && e.status === 503 && e.headers['Retry-After'] === '1',
    );
    started.push(checks.run(() => (order.push('verified before'), gate), { verifiedBefore: true }));
    release();
    await Promise.all(started);
    assert.deepEqual(order.slice(0, 3), ['new 0', 'verified before', 'new 1']);
    assert.equal(order.length, 34);
  });

  it('60 clients arriving at once with the same credentials share one check: none is turned away', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => teams(a, 10 + (i % 3), 'crowd')));
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 200),
    );
  });

  it('under 32 clients sending wrong passwords, a signed-link download and a status poll stay fast', async () => {
    // Limits out of reach, as when guesses come from many addresses for many users: only the bound on checks protects.
    const svc = await startTestService(
      { HOST: '127.0.0.1', LOGIN_FAILURES_PER_USER: '1000000000', LOGIN_FAILURES_PER_ADDRESS: '1000000000', PASSWORD_CHECK_CONCURRENCY: '1' },
      { listen: true, worker: false, databaseUrl },
    );
    const base = `http://127.0.0.1:${svc.config.port}`;
    const storeRoot = path.join(svc.dataDir, 'exports');
    await fs.mkdir(path.join(storeRoot, 'flood'), { recursive: true });
    await fs.writeFile(path.join(storeRoot, 'flood', 'file.csv'), Buffer.alloc(4 * 1024 * 1024, 'a,b,c\n'));
    const link = `${base}${new UrlSigner(await loadSecret(svc.pool, 'signed-url')).sign('flood/file.csv', Date.now() + 600_000)}`;
    const me = new http.Agent({ keepAlive: true, localAddress: '127.0.0.1' });
    const created = await timedGet(`${base}/api/public/reports/report/conversation?companyKey=demo&startTime=1551441600000&endTime=1551528000000`, basic('demo2'), me, 10_000);
    assert.equal(created.status, 200, created.body);
    const statusUrl = new URL((JSON.parse(created.body) as { result: { statusUrl: string } }).result.statusUrl);
    const poll = () => timedGet(`${base}${statusUrl.pathname}${statusUrl.search}`, basic('demo2'), me, 10_000);
    assert.equal((await poll()).status, 200);

    const flooder = new http.Agent({ keepAlive: true, localAddress: '127.0.0.9', maxSockets: 32 });
    let flooding = true;
    let floodIsOn!: () => void;
    const on = new Promise<void>((r) => (floodIsOn = r));
    const unexpected: string[] = [];
    const flood = Array.from({ length: 32 }, async (_, client) => {
      for (let i = 0; flooding && i < 100_000; i++) {
        const r = await timedGet(`${base}/api/public/teams?companyKey=demo`, basic(`flood-${client}`, `guess-${i}`), flooder, 30_000).catch((e: Error) => ({ status: e.message }));
        // Once the flood stops, its connections are cut: what they were waiting for does not count.
        if (flooding && r.status !== 401 && r.status !== 503) unexpected.push(String(r.status));
        floodIsOn();
      }
    });
    try {
      // The flood is on once its first guess has been answered (or has timed out): by then the other 31 wait their turn.
      await on;
      const downloads: number[] = [];
      const polls: number[] = [];
      for (let i = 0; i < 5; i++) {
        const file = await timedGet(link, {}, me, 10_000);
        assert.equal(file.status, 200);
        assert.equal(file.bytes, 4 * 1024 * 1024);
        downloads.push(Math.round(file.ms));
        const polled = await poll();
        assert.equal(polled.status, 200, polled.body);
        polls.push(Math.round(polled.ms));
      }
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[2]!;
      process.stdout.write(`# under a 32-client wrong-password flood: download (4 MB) ${downloads.join(', ')} ms; status poll ${polls.join(', ')} ms\n`);
      assert.ok(median(downloads) < 3000, `downloads took ${downloads.join(', ')} ms`);
      assert.ok(median(polls) < 3000, `status polls took ${polls.join(', ')} ms`);
    } finally {
      flooding = false;
      flooder.destroy();
      await Promise.all(flood);
      me.destroy();
      await svc.stop();
    }
    assert.deepEqual(unexpected, [], 'every guess is refused with 401 (or 503 when too many wait)');
  });
});
