/**
 * Workers as separate OS processes on one database reached by DATABASE_URL
 * (the non-embedded path). Many machines on object storage: two API nodes
 * with data directories of their own and two worker processes share one
 * bucket; a worker SIGKILLed in the middle of a large upload: every run still
 * completes exactly once with a complete file, one object, no upload left
 * open. A worker sent SIGTERM and SIGINT, repeatedly, hands its run back and
 * exits 0. A running export canceled by its owner stops and leaves no
 * output. Each case starts and stops processes of its own, so one failing
 * case leaves nothing running for the next.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import { exportJobIsOpen } from '../src/jobs/queue.ts';
import { createLogger } from '../src/log.ts';
import { sweep } from '../src/runs/sweep.ts';
import { openExportStore } from '../src/storage/index.ts';
import { testDatabase } from './helpers/db.ts';
import { testBucket, type TestBucket } from './helpers/s3.ts';
import { basic, download, exportFile, getJson, startTestService, waitClosed, type TestService } from './helpers/service.ts';

const root = path.resolve(import.meta.dirname, '..');
const url = await testDatabase();
const pool = new pg.Pool({ connectionString: url, max: 3 });
pool.on('error', () => {});
after(() => pool.end());
const h = basic('demo');

// Three times the demo posts (about 250,000), so that one export runs long enough to be caught mid-stream.
await pool.query(`
  INSERT INTO posts (company_id, post_id, conversation_id, post_type, author_id, agent_id, posted_at, language, sentiment, content, approval_status)
  SELECT company_id, post_id + k * 100000000::bigint, conversation_id, post_type, author_id, agent_id, posted_at + k * interval '1 second', language, sentiment, content, approval_status
    FROM posts, generate_series(1, 2) k`);
await pool.query('ANALYZE posts');

const BIG = `combined?startTime=${Date.UTC(2019, 0, 1)}&endTime=${Date.UTC(2019, 6, 1)}&reportFormat=json&reportMetrics=POST_ID&reportMetrics=POST_TIME&reportMetrics=CONTENT`;

interface Role {
  readonly child: ChildProcess;
  /** Resolves once the process has printed a line matching `re`. */
  printed(re: RegExp, timeoutMs?: number): Promise<void>;
  exited(): Promise<number | null>;
}

/** The processes of one case, all stopped when it ends, whatever its outcome. */
class Processes {
  readonly dataDir: Promise<string> = fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-mp-'));
  private readonly children = new Set<ChildProcess>();
  private readonly services: TestService[] = [];
  /** What each process printed, shown when a case fails. */
  readonly outputs: { role: string; output: () => string; child: ChildProcess }[] = [];
  readonly port: Promise<number> = freePort();

  /** The API in this test process (driven through inject()), on the case's DATA_DIR unless `env` names another. */
  async api(env: Record<string, string> = {}): Promise<TestService> {
    return this.inProcess({ api: true, worker: false }, env);
  }

  /** A worker in this test process, on the case's DATA_DIR unless `env` names another. */
  async worker(env: Record<string, string> = {}): Promise<TestService> {
    return this.inProcess({ api: false, worker: true }, env);
  }

  private async inProcess(sides: { api: boolean; worker: boolean }, env: Record<string, string>): Promise<TestService> {
    const svc = await startTestService({ DATA_DIR: await this.dataDir, WORKER_CONCURRENCY: '1', COMPANY_CONCURRENCY: '8', ...env }, { ...sides, databaseUrl: url });
    this.services.push(svc);
    return svc;
  }

  /** Starts `care-reports <role>`; resolves once it logs that it is ready. */
  async start(role: 'api' | 'worker', env: Record<string, string> = {}): Promise<Role> {
    const child = spawn(process.execPath, ['src/cli/main.ts', role], {
      cwd: root,
      env: {
        // 127.0.0.1, not localhost: a name that also means ::1 could reach another process that took the port there.
        ...process.env, DATABASE_URL: url, DATA_DIR: await this.dataDir, PORT: String(await this.port), HOST: '127.0.0.1',
        PUBLIC_URL: `http://127.0.0.1:${await this.port}`, LOG_LEVEL: 'info',
        WORKER_CONCURRENCY: '1', COMPANY_CONCURRENCY: '8', CREATE_RATE_PER_MINUTE: '1000', SHUTDOWN_GRACE_SECONDS: '1',
        // Workers killed, stopped or cancelled mid-export are in the middle of slices.
        EXPORT_SLICES: '3', EXPORT_SLICE_MIN_ROWS: '2', ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let out = '';
    this.outputs.push({ role, output: () => out, child });
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    void exit.then(() => this.children.delete(child));
    const logFile = process.env['CARE_TEST_CHILD_LOG'];
    const take = (d: Buffer) => {
      out += d.toString();
      if (logFile) void fs.appendFile(logFile, d.toString().split('\n').filter(Boolean).map((l) => `${role}:${child.pid} ${l}\n`).join(''));
      for (const w of [...waiters]) {
        if (!w.re.test(out)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const printed = (re: RegExp, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        const timer = setTimeout(() => reject(new Error(`${role} did not print ${re} within ${timeoutMs} ms: ${out.slice(-2000)}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        void exit.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${role} exited with ${code} before printing ${re}: ${out.slice(-2000)}`));
        });
      });
    await printed(/"msg":"ready"/);
    // The service was given DATABASE_URL: it must use that server, not start one of its own.
    assert.match(out, /"database":"external"/, `${role} used the external database`);
    return { child, printed, exited: () => exit };
  }

  async stop(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    for (const svc of this.services) await svc.stop();
    await fs.rm(await this.dataDir, { recursive: true, force: true });
  }
}

async function withProcesses(fn: (p: Processes) => Promise<void>): Promise<void> {
  const p = new Processes();
  try {
    await fn(p);
  } catch (e) {
    const tails = p.outputs.map((o) => `--- ${o.role} (pid ${o.child.pid}, exit ${o.child.exitCode ?? o.child.signalCode ?? 'running'}):\n${o.output().split('\n').slice(-15).join('\n')}`);
    throw new Error(`${(e as Error).message}\n${tails.join('\n')}`, { cause: e });
  } finally {
    await p.stop();
  }
}

const create = async (base: string, query: string) => {
  const r = await getJson(`${base}/api/public/reports/report/${query}&companyKey=demo`, h);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.result as { workflowId: string; runId: string; statusUrl: string };
};
type RunRow = { pk: string; state: string; attempt: number; worker: string | null; job_id: string | null; file_key: string | null };
const runRow = async (runId: string) =>
  (await pool.query<RunRow>('SELECT id::text AS pk, state, attempt, worker, job_id::text, file_key FROM export_runs WHERE run_id = $1', [runId])).rows[0]!;

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The run, once a worker holds it and has written bytes of it: mid-export. */
const heldBy = (runId: string, dataDir: string) =>
  until('a worker to be streaming the run', async () => {
    const r = await runRow(runId);
    if (r.state !== 'RUNNING' || !r.worker) return undefined;
    const tmp = path.join(dataDir, 'exports', 'tmp');
    for (const f of await fs.readdir(tmp).catch(() => [] as string[])) {
      if (f.startsWith(`${r.pk}-${r.attempt}.`) && (await fs.stat(path.join(tmp, f)).catch(() => undefined))?.size) return r;
    }
    return undefined;
  });

/** The run, once a worker holds it and has stored a part of its upload: mid-upload. */
const uploading = (runId: string, s3: TestBucket) =>
  until('a worker to be uploading the run', async () => {
    const r = await runRow(runId);
    if (r.state !== 'RUNNING' || !r.worker) return undefined;
    const u = await pool.query<{ handle: string }>('SELECT handle FROM export_uploads WHERE run_id = $1 AND attempt = $2', [r.pk, r.attempt]);
    if (!u.rows[0]) return undefined;
    const { uploadId } = JSON.parse(u.rows[0].handle) as { uploadId: string };
    return (await s3.requests()).some((l) => l.startsWith('PUT ') && l.includes(`uploadId=${uploadId}`)) ? r : undefined;
  });

async function published(dataDir: string): Promise<string[]> {
  const all = await fs.readdir(path.join(dataDir, 'exports'), { recursive: true }).catch(() => [] as string[]);
  return all.filter((f) => /\.(csv|json|xlsx)$/.test(f) && !f.startsWith('tmp'));
}

const expectedPosts = async () =>
  Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM posts p JOIN companies c ON c.id = p.company_id WHERE c.key = 'demo' AND p.posted_at >= '2019-01-01Z' AND p.posted_at < '2019-07-01Z'`)).rows[0]!.n);

/** Rows of a JSON export file, counted on the bytes: one per line inside the array. */
function jsonRows(body: Buffer): number {
  assert.equal(body.subarray(0, 2).toString(), '[\n');
  assert.equal(body.subarray(-3).toString(), '\n]\n');
  let lines = 0;
  for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) lines++;
  return lines - 2;
}

describe('workers as separate processes on one database', () => {
  it('many machines on object storage: API 1 creates, API 2 (another DATA_DIR) serves; a worker killed mid-upload: the run is taken over within 30 s, every run completes once, one object each, no upload left open; a cancel mid-upload leaves nothing', () =>
    withProcesses(async (p) => {
      const s3 = await testBucket();
      const dirs = await Promise.all([0, 1].map(() => fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-node-'))));
      after(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));
      // No shared disk: each API node has a data directory of its own; API 2 is a process of its own.
      const api1 = await p.api({ ...s3.env, DATA_DIR: dirs[0]! });
      await p.start('api', { ...s3.env, DATA_DIR: dirs[1]! });
      const api2 = { base: `http://127.0.0.1:${await p.port}` };
      const via2 = (u: string) => u.replace(api1.base, api2.base);
      const workers = [await p.start('worker', s3.env), await p.start('worker', s3.env)];
      const big = await create(api1.base, BIG);
      const small = [];
      for (let i = 0; i < 6; i++) small.push(await create(api1.base, `conversation?startTime=${Date.UTC(2019, 2, 1)}&endTime=${Date.UTC(2019, 2, 2) + i * 60_000}&reportFormat=csv`));

      const holder = await uploading(big.runId, s3);
      const victim = workers.find((w) => w.child.pid === Number(holder.worker!.split(':').pop()));
      assert.ok(victim, `the run is held by one of our workers (${holder.worker})`);
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      const retaken = await until('another worker to take the run', async () => {
        const r = await runRow(big.runId);
        return r.attempt > holder.attempt && r.state === 'RUNNING' ? r : undefined;
      }, 45_000);
      const recoveryMs = Date.now() - killedAt;
      console.log(`# run taken over ${(recoveryMs / 1000).toFixed(1)} s after SIGKILL`);
      assert.ok(recoveryMs < 30_000, `recovered in ${recoveryMs} ms`);
      assert.notEqual(retaken.worker, holder.worker);

      const closed = await waitClosed(via2(big.statusUrl), h, 120_000);
      assert.equal(closed.result.result.detail, 'COMPLETED');
      const rows = JSON.parse((await download(closed.result.jobInfo.downloadUrl as string, h)).body.toString('utf8')) as { POST_ID: string }[];
      assert.equal(rows.length, await expectedPosts(), 'the file is complete');
      assert.equal(new Set(rows.map((r) => r.POST_ID)).size, rows.length, 'no row twice');
      for (const s of small) assert.equal((await waitClosed(via2(s.statusUrl), h)).result.result.detail, 'COMPLETED');

      // Published once: one object per run, the big one under its last attempt only.
      const row = await runRow(big.runId);
      const objects = await s3.objects();
      assert.equal(objects.length, small.length + 1, objects.join('\n'));
      assert.deepEqual(objects.filter((k) => k.includes(`/${row.pk}.`)), [`exports/${row.file_key}`]);
      const attempts = await pool.query<{ attempt: number }>('SELECT attempt FROM export_runs WHERE run_id = ANY($1)', [small.map((s) => s.runId)]);
      assert.ok(attempts.rows.every((r) => r.attempt === 1), 'small runs ran once');
      // The killed attempt's upload is found through its record and aborted by a sweep.
      await sweep({ pool, store: await openExportStore(api1.config), log: createLogger('silent'), runHistoryDays: 30, jobIsOpen: (id) => exportJobIsOpen(api1.boss, id) });
      assert.deepEqual(await s3.openUploads(), [], 'no multipart upload is left open');
      assert.equal((await pool.query('SELECT 1 FROM export_uploads')).rowCount, 0);

      // Cancelled mid-upload through API 2: no object, the upload aborted.
      const doomed = await create(api1.base, `${BIG}&locale=fr`);
      const held = await uploading(doomed.runId, s3);
      const del = await getJson(`${api2.base}/api/public/reports/report/${doomed.workflowId}/${encodeURIComponent(doomed.runId)}?companyKey=demo`, h, { method: 'DELETE' });
      assert.equal(del.body.result.result.detail, 'CANCELED');
      // The worker that held it stops and aborts its own upload, or, when the cancel came as the last part went up,
      // deletes the object it had just completed (the sweeper would only get to it within the minute).
      const survivor = workers.find((w) => w !== victim)!;
      await survivor.printed(new RegExp(`"runPk":"${held.pk}"[^\n]*(stopped, partial output removed|before it could be published; file discarded)`), 10_000);
      await until('the cancelled upload to be aborted', async () => (await s3.openUploads()).length === 0, 10_000);
      assert.equal((await runRow(doomed.runId)).state, 'CANCELED', 'the worker did not overwrite the cancel');
      assert.ok(!(await s3.objects()).some((k) => k.includes(`/${held.pk}.`)), 'nothing published');
      await until('its upload record to go', async () => (await pool.query('SELECT 1 FROM export_uploads')).rowCount === 0, 10_000);

      // The same request on local disk gives the same bytes.
      const local = await startTestService({}, { databaseUrl: url });
      for (const w of workers) w.child.kill('SIGKILL');
      const first = await waitClosed(via2(small[0]!.statusUrl), h);
      const fromStore = (await download(first.result.jobInfo.downloadUrl as string, h)).body;
      assert.ok(fromStore.equals(await exportFile(local, `conversation?companyKey=demo&startTime=${Date.UTC(2019, 2, 1)}&endTime=${Date.UTC(2019, 2, 2)}&reportFormat=csv`)));
    }));

  it('SIGTERM and SIGINT, repeated: the worker hands its run back with a job of its own and exits 0; another worker finishes it', () =>
    withProcesses(async (p) => {
      const api = await p.api();
      // No grace: a running export is handed back at once.
      const worker = await p.start('worker', { SHUTDOWN_GRACE_SECONDS: '0' });
      const run = await create(api.base, `${BIG}&locale=de`);
      const holder = await heldBy(run.runId, await p.dataDir);
      assert.equal(Number(holder.worker!.split(':').pop()), worker.child.pid);
      const sentAt = Date.now();
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGTERM', 'SIGINT'] as const) worker.child.kill(signal);
      const code = await worker.exited();
      const stopMs = Date.now() - sentAt;
      console.log(`# worker stopped ${(stopMs / 1000).toFixed(1)} s after SIGTERM`);
      assert.equal(code, 0);
      assert.ok(stopMs < 15_000, `stopped in ${stopMs} ms`);
      const handedBack = await runRow(run.runId);
      assert.equal(handedBack.state, 'QUEUED', 'the run is back in the queue, not left RUNNING');
      assert.equal(handedBack.file_key, null);
      assert.notEqual(handedBack.job_id, holder.job_id, 'a new job carries it');
      assert.ok(await exportJobIsOpen(api.boss, handedBack.job_id!), 'and the queue will run that job');

      await p.worker();
      const closed = await waitClosed(run.statusUrl, h, 120_000);
      assert.equal(closed.result.result.detail, 'COMPLETED');
      assert.equal(jsonRows((await download(closed.result.jobInfo.downloadUrl as string, h)).body), await expectedPosts());
      assert.equal((await runRow(run.runId)).attempt, holder.attempt + 1, 'one more attempt, no retry spent');
    }));

  it('a running export canceled by its owner stops at once and leaves no file, published or partial (JSON, and xlsx, whose workbook writer is stopped mid-sheet)', () =>
    withProcesses(async (p) => {
      const api = await p.api();
      const worker = await p.start('worker');
      for (const format of ['json', 'xlsx'] as const) {
        const run = await create(api.base, `${BIG.replace('reportFormat=json', `reportFormat=${format}`)}&locale=fr`);
        const row = await heldBy(run.runId, await p.dataDir);
        const del = await getJson(`${api.base}/api/public/reports/report/${run.workflowId}/${encodeURIComponent(run.runId)}?companyKey=demo`, h, { method: 'DELETE' });
        assert.equal(del.status, 200);
        assert.equal(del.body.result.result.detail, 'CANCELED');
        await worker.printed(new RegExp(`"runPk":"${row.pk}"[^\n]*run was taken over or closed while exporting; stopped, partial output removed`), 10_000);
        const tmpDir = path.join(await p.dataDir, 'exports', 'tmp');
        await until('the partial file to be removed', async () => !(await fs.readdir(tmpDir)).some((f) => f.startsWith(`${row.pk}-`)), 10_000);
        const after = await runRow(run.runId);
        assert.equal(after.state, 'CANCELED', `${format}: the worker did not overwrite the cancel`);
        assert.equal(after.file_key, null);
        assert.ok(!(await published(await p.dataDir)).some((f) => f.includes(`/${row.pk}.`)), `${format}: nothing published`);
      }
    }));
});
