/**
 * `npm start` as a new user runs it: a real embedded PostgreSQL under
 * DATA_DIR, demo data and credentials on first start, a clean stop on
 * SIGTERM, and the same data and password on the next start.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import { basic, getJson, waitClosed } from './helpers/service.ts';

const root = path.resolve(import.meta.dirname, '..');
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-start-'));
// As a fresh DATA_DIR would be: others may pass through to the cluster, not list it.
await fs.chmod(dataDir, 0o711);
after(() => fs.rm(dataDir, { recursive: true, force: true }));

async function start(env: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string; output: () => string; ms: number }> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
    const ok = await fetch(`${base}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() - started > 120_000) throw new Error(`not healthy after 120 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base, output: () => out, ms: Date.now() - started };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

/**
 * The service connects as a role that may change rows and nothing else; the
 * tables belong to the owner role, which ran the migrations.
 */
async function assertServiceRole(): Promise<void> {
  const facts = JSON.parse(await fs.readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as {
    port: number; password: string; roles: { owner: { name: string }; service: { name: string; password: string } }; companies?: number;
  };
  const superuser = new pg.Client({ host: '127.0.0.1', port: facts.port, user: 'postgres', password: facts.password, database: 'care_reports' });
  await superuser.connect();
  try {
    const users = await superuser.query<{ usename: string }>(`SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'care_reports' AND application_name IN ('care-reports', 'care-reports-queue')`);
    assert.deepEqual(users.rows.map((r) => r.usename), [facts.roles.service.name], 'the service and its queue connect as the service role');
    const owners = await superuser.query<{ tableowner: string }>(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('public', 'pgboss')`);
    facts.companies = Number((await superuser.query<{ n: string }>('SELECT count(*) AS n FROM companies')).rows[0]!.n);
    assert.deepEqual(owners.rows.map((r) => r.tableowner), [facts.roles.owner.name], 'the owner role owns every table');
  } finally {
    await superuser.end();
  }
  const service = new pg.Client({ host: '127.0.0.1', port: facts.port, user: facts.roles.service.name, password: facts.roles.service.password, database: 'care_reports' });
  await service.connect();
  try {
    // Rows it may read and change: the same count the superuser sees, and an update (rolled back) that succeeds.
    const count = async (c: pg.Client) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM companies')).rows[0]!.n);
    assert.equal(await count(service), facts.companies);
    await service.query('BEGIN');
    assert.equal((await service.query(`UPDATE companies SET name = name WHERE key = 'demo'`)).rowCount, 1);
    await service.query('ROLLBACK');
    for (const ddl of ['CREATE TABLE intruder (a int)', 'DROP TABLE export_runs', 'ALTER TABLE companies ADD COLUMN x int', 'TRUNCATE api_users', 'DROP SCHEMA pgboss CASCADE']) {
      await assert.rejects(service.query(ddl), /permission denied|must be owner/, `${ddl} is refused to the service role`);
    }
  } finally {
    await service.end();
  }
}

describe('npm start on the embedded default', () => {
  let password = '';

  it('first start: cluster in DATA_DIR, demo data, credentials printed and stored 0600, quick start works', async () => {
    const s = await start();
    try {
      process.stdout.write(`# first start to /healthz 200: ${s.ms} ms\n`);
      const file = path.join(dataDir, 'demo-credentials.txt');
      const st = await fs.stat(file);
      assert.equal(st.mode & 0o777, 0o600);
      password = /^password=(.+)$/m.exec(await fs.readFile(file, 'utf8'))![1]!;
      assert.ok(password.length >= 12);
      assert.ok(s.output().includes(`password:    ${password}  (generated now; shown only this once)`), 'a generated password is printed once');
      assert.equal(s.output().split(password).length, 2, 'and nowhere else: not in the curl example');
      assert.match(s.output(), /curl -u "demo:\$PASS"/);
      assert.ok(await fs.stat(path.join(dataDir, 'pg')).then(() => true), 'the cluster is under DATA_DIR');
      await assertServiceRole();

      const h = basic('demo', password);
      const created = await getJson(`${s.base}/api/public/reports/report/conversation?reportFormat=csv&locale=en_US&companyKey=demo&startTime=1551441600000&endTime=1556712000000`, h);
      assert.equal(created.status, 200);
      const closed = await waitClosed(created.body.result.statusUrl as string, h);
      assert.equal(closed.result.result.detail, 'COMPLETED');
      assert.ok((closed.result.result.totalCount as number) > 500);
    } finally {
      assert.equal(await stop(s.child), 0, 'SIGTERM stops cleanly');
    }
    const pid = await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => null);
    assert.equal(pid, null, 'PostgreSQL was stopped with the service');
  });

  it('second start reuses the data and the password; DEMO_PASSWORD replaces it; a taken port is avoided', async () => {
    const blocker = net.createServer();
    const taken = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    after(() => blocker.close());
    const s = await start({ DEMO_PASSWORD: 'chosen-password-2', EMBEDDED_PG_PORT: String(taken) });
    try {
      process.stdout.write(`# restart to /healthz 200: ${s.ms} ms\n`);
      assert.equal((await getJson(`${s.base}/api/public/teams?companyKey=demo`, basic('demo', password))).status, 401, 'old password replaced');
      const teams = await getJson(`${s.base}/api/public/teams?companyKey=demo`, basic('demo', 'chosen-password-2'));
      assert.equal(teams.status, 200);
      assert.equal(teams.body.result.length, 6);
      assert.ok(!s.output().includes('generating demo data'), 'the demo data was kept, not generated again');
      assert.ok(!s.output().includes('chosen-password-2') && !s.output().includes(password), 'a password not generated now is never printed');
      assert.ok(s.output().includes(`password:    in ${path.join(dataDir, 'demo-credentials.txt')}`), 'the banner says where it is');
    } finally {
      assert.equal(await stop(s.child), 0);
    }
  });
});
