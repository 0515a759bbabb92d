/**
 * The service as separate OS processes on one database reached by
 * DATABASE_URL (the non-embedded path): one API process and two worker
 * processes. A worker is SIGKILLed in the middle of a large export; every run
 * still completes exactly once with a complete file. A worker sent SIGTERM
 * hands its run back within the grace period, and a running export canceled
 * by its owner stops and leaves no output.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import { testDatabase } from './helpers/db.ts';
import { basic, download, getJson, waitClosed } from './helpers/service.ts';

const root = path.resolve(import.meta.dirname, '..');
const url = await testDatabase();
const pool = new pg.Pool({ connectionString: url, max: 3 });
after(() => pool.end());
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-mp-'));
after(() => fs.rm(dataDir, { recursive: true, force: true }));
const port = await freePort();
const base = `http://localhost:${port}`;
const h = basic('demo');

// 25 times the demo posts (2.1 million), so that one export runs for seconds.
await pool.query(`
  INSERT INTO posts (company_id, post_id, conversation_id, post_type, author_id, agent_id, posted_at, language, sentiment, content, approval_status)
  SELECT company_id, post_id + k * 100000000::bigint, conversation_id, post_type, author_id, agent_id, posted_at + k * interval '1 second', language, sentiment, content, approval_status
    FROM posts, generate_series(1, 24) k`);
await pool.query('ANALYZE posts');

const env = {
  ...process.env,
  DATABASE_URL: url,
  DATA_DIR: dataDir,
  PORT: String(port),
  LOG_LEVEL: 'info',
  WORKER_CONCURRENCY: '1',
  COMPANY_CONCURRENCY: '8',
  CREATE_RATE_PER_MINUTE: '1000',
  SHUTDOWN_GRACE_SECONDS: '1',
};
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts `care-reports <role>` as its own process; resolves once it logs that it is ready. */
async function start(role: 'api' | 'worker'): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['src/cli/main.ts', role], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const logFile = process.env['CARE_TEST_CHILD_LOG'];
  if (logFile) {
    const tag = `${role}:${child.pid} `;
    child.stdout.on('data', (d: Buffer) => void fs.appendFile(logFile, d.toString().split('\n').filter(Boolean).map((l) => tag + l + '\n').join('')));
    child.stderr.on('data', (d: Buffer) => void fs.appendFile(logFile, tag + d.toString()));
  }
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"ready"')) {
        // The service was given DATABASE_URL: it must use that server, not start one of its own.
        if (!out.includes('"database":"external"')) reject(new Error(`${role} did not use the external database: ${out}`));
        resolve();
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`${role} exited with ${code}: ${out}`)));
  });
  return child;
}

const BIG = `startTime=${Date.UTC(2019, 0, 1)}&endTime=${Date.UTC(2019, 6, 1)}&reportFormat=json`;
const create = async (query: string) => {
  const r = await getJson(`${base}/api/public/reports/report/${query}&companyKey=demo`, h);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.result as { workflowId: string; runId: string; statusUrl: string };
};
const runRow = async (runId: string) =>
  (await pool.query<{ id: string; state: string; attempt: number; worker: string | null; current_count: string | null; file_key: string | null }>(
    'SELECT id::text, state, attempt, worker, current_count, file_key FROM export_runs WHERE run_id = $1',
    [runId],
  )).rows[0]!;

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function published(): Promise<string[]> {
  const all = await fs.readdir(path.join(dataDir, 'exports'), { recursive: true }).catch(() => [] as string[]);
  return all.filter((f) => /\.(csv|json)$/.test(f) && !f.startsWith('tmp'));
}

const expectedPosts = async () =>
  Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM posts p JOIN companies c ON c.id = p.company_id WHERE c.key = 'demo' AND p.posted_at >= '2019-01-01Z' AND p.posted_at < '2019-07-01Z'`)).rows[0]!.n);

describe('API and workers as separate processes on one database', async () => {
  await start('api');
  const workers = [await start('worker'), await start('worker')];

  it('a worker killed mid-export: its run is taken over within 30 s, and every run completes once with a whole file', async () => {
    const big = await create(`combined?${BIG}&reportMetrics=POST_ID&reportMetrics=POST_TIME&reportMetrics=CONTENT`);
    const small = [];
    for (let i = 0; i < 6; i++) small.push(await create(`conversation?startTime=${Date.UTC(2019, 2, 1)}&endTime=${Date.UTC(2019, 2, 2) + i * 60_000}&reportFormat=csv`));

    const holder = await until('the big export to be streaming', async () => {
      const r = await runRow(big.runId);
      return r.state === 'RUNNING' && Number(r.current_count) > 0 && r.worker ? r : undefined;
    });
    const pid = Number(holder.worker!.split(':').pop());
    const victim = workers.find((w) => w.pid === pid);
    assert.ok(victim, `the run is held by one of our workers (${holder.worker})`);
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    const retaken = await until('another worker to take the run', async () => {
      const r = await runRow(big.runId);
      return r.attempt > holder.attempt && r.state === 'RUNNING' ? r : undefined;
    }, 45_000);
    const recoveryMs = Date.now() - killedAt;
    console.log(`# run taken over ${(recoveryMs / 1000).toFixed(1)} s after SIGKILL`);
    assert.ok(recoveryMs < 30_000, `recovered in ${recoveryMs} ms`);
    assert.notEqual(retaken.worker, holder.worker);

    const closed = await waitClosed(big.statusUrl, h, 120_000);
    assert.equal(closed.result.result.detail, 'COMPLETED');
    const rows = JSON.parse((await download(closed.result.jobInfo.downloadUrl as string, h)).body.toString('utf8')) as { POST_ID: string }[];
    assert.equal(rows.length, await expectedPosts(), 'the file is complete');
    assert.equal(new Set(rows.map((r) => r.POST_ID)).size, rows.length, 'no row twice');
    for (const s of small) assert.equal((await waitClosed(s.statusUrl, h)).result.result.detail, 'COMPLETED');

    // Published once: one file per run, the big one under its last attempt only.
    const files = await published();
    const all = [big, ...small];
    assert.equal(files.length, all.length, files.join('\n'));
    const row = await runRow(big.runId);
    assert.ok(files.some((f) => f.includes(`/${row.id}.${row.attempt}/`)));
    const attempts = await pool.query<{ attempt: number }>('SELECT attempt FROM export_runs WHERE run_id = ANY($1)', [small.map((s) => s.runId)]);
    assert.ok(attempts.rows.every((r) => r.attempt === 1), 'small runs ran once');
  });

  it('SIGTERM: the worker hands its run back within the grace period and exits 0; another worker finishes it', async () => {
    const survivor = [...children].find((c) => workers.includes(c))!;
    // Every column: the export runs for seconds, well past the one-second grace period.
    const run = await create(`combined?${BIG}&locale=de`);
    await until('the export to be streaming', async () => {
      const r = await runRow(run.runId);
      return r.state === 'RUNNING' && Number(r.current_count) > 0;
    });
    const sentAt = Date.now();
    survivor.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => survivor.on('exit', (c) => resolve(c)));
    const stopMs = Date.now() - sentAt;
    console.log(`# worker stopped ${(stopMs / 1000).toFixed(1)} s after SIGTERM`);
    assert.equal(code, 0);
    assert.ok(stopMs < 15_000, `stopped in ${stopMs} ms`);
    const handedBack = await runRow(run.runId);
    assert.equal(handedBack.state, 'QUEUED', 'the run is back in the queue, not left RUNNING');
    assert.equal(handedBack.file_key, null);
    await start('worker');
    const closed = await waitClosed(run.statusUrl, h, 120_000);
    assert.equal(closed.result.result.detail, 'COMPLETED');
    // Over 512 MB, too big for one string: count the rows (one per line inside the array) on the bytes.
    const body = (await download(closed.result.jobInfo.downloadUrl as string, h)).body;
    let lines = 0;
    for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) lines++;
    assert.equal(lines - 2, await expectedPosts());
    assert.equal(body.subarray(0, 2).toString(), '[\n');
    assert.equal(body.subarray(-3).toString(), '\n]\n');
  });

  it('a running export canceled by its owner stops at once and leaves no file, published or partial', async () => {
    const run = await create(`combined?${BIG}&locale=fr`);
    const row = await until('the export to be streaming', async () => {
      const r = await runRow(run.runId);
      return r.state === 'RUNNING' && Number(r.current_count) > 0 ? r : undefined;
    });
    const del = await getJson(`${base}/api/public/reports/report/${run.workflowId}/${encodeURIComponent(run.runId)}?companyKey=demo`, h, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(del.body.result.result.detail, 'CANCELED');
    await until('the partial file to be removed', async () => {
      const tmp = await fs.readdir(path.join(dataDir, 'exports', 'tmp'));
      return !tmp.some((f) => f.startsWith(`${row.id}-`));
    }, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await runRow(run.runId);
    assert.equal(after.state, 'CANCELED', 'the worker did not overwrite the cancel');
    assert.equal(after.file_key, null);
    assert.ok(!(await published()).some((f) => f.includes(`/${row.id}.`)));
  });
});
