/**
 * The run lifecycle beyond the three calls: cancel, list, idempotency, the
 * create rate limit, range and row limits, retention, the per-company
 * concurrency limit with round-robin across companies, and the sweep.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { EXPORT_QUEUE, exportJobIsOpen } from '../src/jobs/queue.ts';
import { recordUpload } from '../src/runs/attempts.ts';
import { listenForClosedRuns, RUN_CLOSED_CHANNEL } from '../src/runs/close.ts';
import { sweep } from '../src/runs/sweep.ts';
import { createLogger } from '../src/log.ts';
import { openExportStore } from '../src/storage/index.ts';
import { testDatabase } from './helpers/db.ts';
import { answering, basic, download, getJson, startTestService, waitClosed, type TestService } from './helpers/service.ts';

const h = basic('demo');
const DAY = 86_400_000;
const START = Date.UTC(2019, 2, 1);
/** A distinct small request each call, so none is an open duplicate of another. */
let n = 0;
const distinct = () => `startTime=${START}&endTime=${START + DAY + ++n * 60_000}&reportMetrics=CONVERSATION_ID`;

/** Creates a conversation export as `user`, for that user's company. */
const create = (svc: TestService, qs: string, user = 'demo') =>
  getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=${user === 'acme' ? 'acme' : 'demo'}&${qs}`, basic(user));

async function exportFiles(svc: TestService): Promise<string[]> {
  const all = await fs.readdir(path.join(svc.dataDir, 'exports'), { recursive: true });
  return all.filter((f) => /\.(csv|json|part)$/.test(f));
}

describe('queued runs (an API with no worker)', async () => {
  const api = await startTestService({ CREATE_RATE_PER_MINUTE: '100000' }, { api: true, worker: false });

  it('cancel: DELETE closes a queued run as CANCELED; a second cancel is 409; POST …/cancel works too', async () => {
    const a = (await create(api, distinct())).body.result as { workflowId: string; runId: string; statusUrl: string };
    const runPath = `${api.base}/api/public/reports/report/${a.workflowId}/${encodeURIComponent(a.runId)}`;
    const del = await getJson(`${runPath}?companyKey=demo`, h, { method: 'DELETE' });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual(
      { state: del.body.result.result.runnerState, detail: del.body.result.result.detail, reason: del.body.result.result.reason },
      { state: 'CLOSED', detail: 'CANCELED', reason: 'canceled by demo' },
    );
    const status = await getJson(a.statusUrl, h);
    assert.equal(status.body.result.result.detail, 'CANCELED');
    assert.equal(status.body.result.jobInfo.downloadUrl, '');
    const again = await getJson(`${runPath}?companyKey=demo`, h, { method: 'DELETE' });
    assert.equal(again.status, 409);
    assert.match(again.body.message ?? '', /already closed as CANCELED/);
    const dl = await getJson(`${runPath}/download?companyKey=demo`, h, { redirect: 'manual' });
    assert.equal(dl.status, 409);
    assert.match(dl.body.message ?? '', /closed as CANCELED and has no file/);
    const job = await api.pool.query<{ state: string }>(`SELECT j.state FROM pgboss.job j JOIN export_runs r ON r.job_id = j.id WHERE r.run_id = $1`, [a.runId]);
    assert.equal(job.rows[0]?.state, 'cancelled', 'the queue job is dropped');

    const b = (await create(api, distinct())).body.result as { workflowId: string; runId: string };
    const post = await getJson(`${api.base}/api/public/reports/report/${b.workflowId}/${encodeURIComponent(b.runId)}/cancel?companyKey=demo`, h, { method: 'POST' });
    assert.equal(post.status, 200);
    assert.equal(post.body.result.result.detail, 'CANCELED');
    const acme = await getJson(`${api.base}/api/public/reports/report/${b.workflowId}/${encodeURIComponent(b.runId)}?companyKey=acme`, basic('acme'), { method: 'DELETE' });
    assert.equal(acme.status, 404, "another company cannot see, let alone cancel, the run");
  });

  it('a download before completion answers 409 with Retry-After: a constant while queued, the progress projected while running', async () => {
    const a = (await create(api, distinct())).body.result as { workflowId: string; runId: string };
    const download = () => getJson(`${api.base}/api/public/reports/report/${a.workflowId}/${encodeURIComponent(a.runId)}/download?companyKey=demo`, h, { redirect: 'manual' });
    const retryAfter = async () => {
      const r = await download();
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.code, 'RUN_NOT_COMPLETE');
      const header = r.headers.get('retry-after');
      if (header !== null) assert.match(r.body.message ?? '', new RegExp(`ask again in ${header} s$`));
      return header === null ? null : Number(header);
    };
    assert.equal(await retryAfter(), 5, 'queued');
    const progress = (elapsed: string, current: number | null, total: number | null) =>
      api.pool.query(`UPDATE export_runs SET state = 'RUNNING', started_at = now() - $2::interval, current_count = $3, total_count = $4 WHERE run_id = $1`, [a.runId, elapsed, current, total]);
    await progress('1 second', 0, null);
    assert.equal(await retryAfter(), 2, 'running, nothing to project yet');
    // 100 rows in 10 s, 200 to go: about 20 s more.
    await progress('10 seconds', 100, 300);
    const estimate = (await retryAfter())!;
    assert.ok(estimate >= 20 && estimate <= 26, `Retry-After ${estimate}`);
    await progress('1 hour', 1, 1_000_000);
    assert.equal(await retryAfter(), 60, 'bounded above');
    await progress('1 second', 1_000_000, 1_000_000);
    assert.equal(await retryAfter(), 1, 'bounded below: the file is being published');
    await api.pool.query(`UPDATE export_runs SET state = 'FAILED', reason = 'test' WHERE run_id = $1`, [a.runId]);
    assert.equal(await retryAfter(), null, 'a run closed without a file will not have one: no Retry-After');
  });

  it('queued runs report their position in the queue', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await create(api, distinct())).body.result as { statusUrl: string });
    const positions = [];
    for (const r of ids) positions.push((await getJson(r.statusUrl, h)).body.result.result.queuePosition as number);
    assert.ok(positions.every((p) => p >= 1));
    assert.deepEqual([...positions].sort((x, y) => x - y), positions, 'later runs wait behind earlier ones');
    assert.ok(positions[2]! > positions[0]!);
    // Another company's first run goes ahead of demo's waiting ones: round-robin, not first come first served.
    const acme = (await create(api, distinct(), 'acme')).body.result as { statusUrl: string };
    const acmePos = (await getJson(acme.statusUrl, basic('acme'))).body.result.result.queuePosition as number;
    const lastDemo = (await getJson(ids[2]!.statusUrl, h)).body.result.result.queuePosition as number;
    assert.ok(acmePos < lastDemo, `acme's first run (${acmePos}) is ahead of demo's backlog (${lastDemo})`);
  });

  it('a queued run of a company at its limit of running exports says so in reason', async () => {
    const runs: { statusUrl: string; runId: string }[] = [];
    for (let i = 0; i < 3; i++) runs.push((await create(api, distinct(), 'demo2')).body.result as { statusUrl: string; runId: string });
    const reason = async () => (await getJson(runs[2]!.statusUrl, basic('demo2'))).body.result.result.reason as string | null;
    assert.equal(await reason(), null, 'nothing of the company runs: it only waits for its turn');
    // Two of the company's runs held by workers: the limit (COMPANY_CONCURRENCY, 2).
    await api.pool.query(`UPDATE export_runs SET state = 'RUNNING' WHERE run_id = ANY($1)`, [[runs[0]!.runId, runs[1]!.runId]]);
    assert.equal(await reason(), 'waiting for one of the 2 running exports of company demo to finish: a company runs at most 2 at once');
    await api.pool.query(`UPDATE export_runs SET state = 'CANCELED' WHERE run_id = ANY($1)`, [[runs[0]!.runId, runs[1]!.runId]]);
    assert.equal(await reason(), null);
  });

  it('lists the company’s runs newest first, with filters and cursor pagination', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await create(api, distinct())).status, 200);
    await create(api, distinct(), 'acme');
    const all: { runId: string; exportId: string; state: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await getJson(`${api.base}/api/public/reports/runs?companyKey=demo&limit=2${cursor ? `&cursor=${cursor}` : ''}`, h);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.result.runs.length <= 2);
      all.push(...(page.body.result.runs as typeof all));
      cursor = page.body.result.nextCursor as string | null;
      pages++;
    } while (cursor);
    const own = await api.pool.query<{ run_id: string }>(`SELECT run_id FROM export_runs r JOIN companies c ON c.id = r.company_id WHERE c.key = 'demo' ORDER BY r.id DESC`);
    assert.deepEqual(all.map((r) => r.runId), own.rows.map((r) => r.run_id), 'every demo run once, newest first, no acme run');
    assert.ok(pages >= 4);
    const canceled = await getJson(`${api.base}/api/public/reports/runs?companyKey=demo&state=canceled`, h);
    assert.ok(canceled.body.result.runs.length >= 2);
    assert.ok((canceled.body.result.runs as { state: string }[]).every((r) => r.state === 'CANCELED'));
    const none = await getJson(`${api.base}/api/public/reports/runs?companyKey=demo&exportId=user`, h);
    assert.deepEqual(none.body.result.runs, []);
    for (const [qs, message] of [
      ['state=DONE', /state 'DONE' is not a run state/],
      ['cursor=xyz', /cursor is not valid/],
      ['limit=0', /limit '0' is not valid; give 1 to 200/],
      ['createdFrom=yesterday', /createdFrom 'yesterday' is not epoch milliseconds/],
      ['createdFrom=1551441600', /^createdFrom 1551441600 is in seconds, not epoch milliseconds .*; give milliseconds: createdFrom=1551441600000 for 2019-03-01T12:00:00\.000Z$/],
      ['sort=asc', /unknown parameter 'sort'/],
      ['cursr=abc', /unknown parameter 'cursr'; did you mean cursor\?/],
      ['exportId=nope', /exportId 'nope' is not an export; use one of conversation, /],
      ['exportId=Conversations', /exportId 'Conversations' is not an export; did you mean conversation\?/],
      [`cursor=${Buffer.from('r9999999999999999999').toString('base64url')}`, /cursor is not valid/],
    ] as const) {
      const bad = await getJson(`${api.base}/api/public/reports/runs?companyKey=demo&${qs}`, h);
      assert.equal(bad.status, 400, qs);
      assert.match(bad.body.message ?? '', message);
    }
    assert.equal((await getJson(`${api.base}/api/public/reports/runs?companyKey=acme`, h)).status, 403);
  });

  it('an identical request while the first is open returns that run, to the same user only', async () => {
    const qs = distinct();
    const a = await create(api, qs);
    const b = await create(api, qs);
    assert.equal(b.body.result.runId, a.body.result.runId);
    const other = await create(api, qs, 'demo2');
    assert.equal(other.status, 200);
    assert.equal(other.body.result.workflowId, a.body.result.workflowId, 'same company, same request, same workflow');
    assert.notEqual(other.body.result.runId, a.body.result.runId, 'another user never shares a run');
  });

  it('Idempotency-Key returns the first answer; another request under the key is 422; keys are per user', async () => {
    const key = { 'Idempotency-Key': `key-${Date.now()}` };
    const qs = distinct();
    const a = await getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${qs}`, { ...h, ...key });
    const b = await getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${qs}`, { ...h, ...key });
    assert.equal(b.body.result.runId, a.body.result.runId);
    const c = await getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${distinct()}`, { ...h, ...key });
    assert.equal(c.status, 422);
    assert.match(c.body.message ?? '', /Idempotency-Key 'key-\d+' was used in the last 24 hours for a different request; use a new key/);
    const d = await getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${qs}`, { ...basic('demo2'), ...key });
    assert.equal(d.status, 200);
    assert.notEqual(d.body.result.runId, a.body.result.runId);
    const bad = await getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${distinct()}`, { ...h, 'Idempotency-Key': 'a b' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message ?? '', /Idempotency-Key header must be 1 to 255 visible ASCII characters/);
  });

  it('twelve creates at once, under one Idempotency-Key or none, make one run', async () => {
    const key = { 'Idempotency-Key': `burst-${Date.now()}` };
    for (const headers of [{ ...h, ...key }, h]) {
      const qs = distinct();
      const answers = await Promise.all(Array.from({ length: 12 }, () => getJson(`${api.base}/api/public/reports/report/conversation?companyKey=demo&${qs}`, headers)));
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], JSON.stringify(answers.map((a) => a.body.message)));
      assert.equal(new Set(answers.map((a) => (a.body.result as { runId: string }).runId)).size, 1);
    }
  });
});

describe('limits', async () => {
  const svc = await startTestService({ CREATE_RATE_PER_MINUTE: '3', MAX_RANGE_DAYS: '31', MAX_EXPORT_ROWS: '1000' }, { api: true, worker: false });

  it('the create rate limit answers 429 with Retry-After; replays do not count; other users are not limited', async () => {
    const first = distinct();
    for (const qs of [first, distinct(), distinct()]) {
      const r = await create(svc, qs);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const limited = await create(svc, distinct());
    assert.equal(limited.status, 429);
    assert.equal(limited.body.status, 'FAIL');
    assert.match(limited.body.message ?? '', /at most 3 export runs may be created per minute per user; retry in \d+ s/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal((await create(svc, first)).status, 200, 'an open identical request is answered, not counted');
    assert.equal((await create(svc, distinct(), 'demo2')).status, 200);
  });

  it('a range over the maximum is refused up front', async () => {
    const r = await create(svc, `startTime=${START}&endTime=${START + 32 * DAY}`, 'demo2');
    assert.equal(r.status, 400);
    assert.match(r.body.message ?? '', /the range is 32\.0 days, more than the 31 days one export may cover; split it/);
  });

  it('an export over the row limit is refused up front with its row count, never truncated', async () => {
    const r = await create(svc, `startTime=${START}&endTime=${START + 30 * DAY}&conversationReportType=CREATED`, 'demo2');
    assert.equal(r.status, 400);
    const real = await svc.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM conversations WHERE created_at >= to_timestamp($1 / 1000.0) AND created_at < to_timestamp($2 / 1000.0) AND company_id = (SELECT id FROM companies WHERE key = 'demo')`,
      [START, START + 30 * DAY],
    );
    assert.match(r.body.message ?? '', new RegExp(`this export would have ${real.rows[0]!.n} rows, more than the limit of 1000 per export`));
  });
});

describe('retention', async () => {
  // Files kept for a day, records for two more; the sweep is given the clock to measure them against.
  const svc = await startTestService({ RETENTION_DAYS: '1', RUN_HISTORY_DAYS: '2' });
  const store = await openExportStore(svc.config);
  const sweepAt = (daysAhead: number) =>
    sweep({ pool: svc.pool, store, log: createLogger('silent'), runHistoryDays: 2, jobIsOpen: (id) => exportJobIsOpen(svc.boss, id) }, new Date(Date.now() + daysAhead * DAY));

  it('an expired file is deleted by the sweep and its download answers 410; later the record goes too', async () => {
    const created = await create(svc, distinct());
    const closed = await waitClosed(created.body.result.statusUrl as string, h);
    assert.equal(closed.result.result.detail, 'COMPLETED');
    const downloadUrl = closed.result.jobInfo.downloadUrl as string;
    assert.ok((await download(downloadUrl, h)).body.length > 0);
    assert.equal((await exportFiles(svc)).length, 1);
    const early = await sweepAt(0.9);
    assert.equal(early.filesExpired, 0, 'kept within its retention');
    assert.equal((await exportFiles(svc)).length, 1);
    const first = await sweepAt(1.01);
    assert.equal(first.filesExpired, 1);
    assert.deepEqual(await exportFiles(svc), [], 'the file is gone from storage');
    // The API keeps closed runs in memory until the sweep's change is announced to it, a few milliseconds after commit.
    const gone = await answering(410, () => getJson(downloadUrl, h, { redirect: 'manual' }));
    assert.match(gone.body.message ?? '', /the file of this run expired on \d{4}-\d\d-\d\dT.*create the export again/);
    assert.equal((await sweepAt(2.9)).runsDeleted, 0, 'the record outlives its file by the history period');
    const second = await sweepAt(3.01);
    assert.ok(second.runsDeleted >= 1);
    await answering(404, () => getJson(created.body.result.statusUrl as string, h));
  });

  it('an upload recorded by an attempt that died is discarded by the sweep; a finished attempt leaves no record', async () => {
    const created = await create(svc, distinct());
    assert.equal((await waitClosed(created.body.result.statusUrl as string, h)).result.result.detail, 'COMPLETED');
    const { pk, attempt } = (await svc.pool.query<{ pk: string; attempt: number }>('SELECT id::text AS pk, attempt FROM export_runs WHERE run_id = $1', [created.body.result.runId])).rows[0]!;
    const uploads = () => svc.pool.query<{ attempt: number; handle: string }>('SELECT attempt, handle FROM export_uploads WHERE run_id = $1', [pk]);
    assert.deepEqual((await uploads()).rows, [], 'the worker forgot its upload once published');
    // What a worker killed mid-write leaves: a recorded upload with bytes in it, of an attempt that no longer holds the run.
    await store.init();
    const dead = await store.begin(`1/${pk}.${attempt - 1}/dead.csv`, `${pk}-${attempt - 1}`, (handle) => recordUpload(svc.pool, pk, attempt - 1, handle));
    await new Promise<void>((resolve, reject) => dead.stream.write('partial,row\n', (e) => (e ? reject(e) : resolve())));
    const [record] = (await uploads()).rows;
    const temp = path.join(svc.dataDir, 'exports', 'tmp', record?.handle ?? 'none');
    // The bytes pass the hashing stream before the file stream has opened the file and written them: wait for them,
    // unless the service's own minutely sweep discards the upload first (then its record goes too).
    let partial: string | undefined;
    let swept = false;
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 10))) {
      partial = await fs.readFile(temp, 'utf8').catch(() => undefined);
      swept = (await uploads()).rows.length === 0;
      if (partial === 'partial,row\n' || swept) break;
    }
    if (!swept) {
      assert.equal(record?.attempt, attempt - 1);
      assert.equal(partial, 'partial,row\n', 'the partial file holds what was written');
    }
    // This sweep discards it, unless the service's own minutely sweep got there first.
    const { uploadsDiscarded } = await sweepAt(0);
    assert.ok(uploadsDiscarded <= 1, `${uploadsDiscarded} uploads discarded`);
    await assert.rejects(fs.stat(temp), { code: 'ENOENT' }, 'the partial file is gone');
    assert.deepEqual((await uploads()).rows, [], 'and so is its record');
    dead.stream.destroy();
  });

  it('the sweep closes a run whose queue job is gone, with a reason', async () => {
    const api = await startTestService({}, { api: true, worker: false });
    const created = await create(api, distinct());
    const jobId = (await api.pool.query<{ job_id: string }>(`SELECT job_id::text FROM export_runs WHERE run_id = $1`, [created.body.result.runId])).rows[0]!.job_id;
    const sweepNow = async (at: Date) =>
      sweep({ pool: api.pool, store: await openExportStore(api.config), log: createLogger('silent'), runHistoryDays: 30, jobIsOpen: (id) => exportJobIsOpen(api.boss, id) }, at);
    assert.equal((await sweepNow(new Date(Date.now() + 60_000))).runsOrphaned, 0, 'a run whose job waits is left alone');
    await api.boss.deleteJob(EXPORT_QUEUE, jobId);
    assert.equal((await sweepNow(new Date())).runsOrphaned, 0, 'a run of the last seconds may still be committing its job');
    const result = await sweepNow(new Date(Date.now() + 60_000));
    assert.equal(result.runsOrphaned, 1);
    const status = await getJson(created.body.result.statusUrl as string, h);
    assert.equal(status.body.result.result.detail, 'FAILED');
    assert.match(status.body.result.result.reason as string, /retries ran out; create the export again/);
  });
});

describe('one company at a time, companies in turn', async () => {
  const svc = await startTestService({ WORKER_CONCURRENCY: '3', COMPANY_CONCURRENCY: '1' });

  it('never runs two exports of a company at once, and serves another company before the backlog', async () => {
    const demo = [];
    for (let i = 0; i < 4; i++) {
      const r = await create(svc, `startTime=${Date.UTC(2019, 0, 1)}&endTime=${Date.UTC(2019, 6, 1) - i * 60_000}&conversationReportType=CREATED&reportFormat=json`);
      demo.push(r.body.result as { runId: string; statusUrl: string });
    }
    const acme = (await create(svc, distinct(), 'acme')).body.result as { runId: string; statusUrl: string };
    for (const r of demo) assert.equal((await waitClosed(r.statusUrl, h)).result.result.detail, 'COMPLETED');
    assert.equal((await waitClosed(acme.statusUrl, basic('acme'))).result.result.detail, 'COMPLETED');
    const times = await svc.pool.query<{ run_id: string; started: Date; finished: Date }>(
      `SELECT run_id, started_at AS started, finished_at AS finished FROM export_runs WHERE run_id = ANY($1) ORDER BY started_at`,
      [demo.map((d) => d.runId)],
    );
    for (let i = 1; i < times.rows.length; i++) {
      assert.ok(times.rows[i]!.started >= times.rows[i - 1]!.finished, 'demo runs one after another');
    }
    const acmeStart = (await svc.pool.query<{ s: Date }>(`SELECT started_at AS s FROM export_runs WHERE run_id = $1`, [acme.runId])).rows[0]!.s;
    assert.ok(acmeStart < times.rows[times.rows.length - 1]!.started, 'acme did not wait for the whole demo backlog');
  });
});

describe('one place where a run closes', async () => {
  // One database: an API alone first (runs stay queued), then a worker joins.
  const url = await testDatabase();
  const api = await startTestService({}, { api: true, worker: false, databaseUrl: url });

  const pkOf = async (runId: string) => (await api.pool.query<{ pk: string }>('SELECT id::text AS pk FROM export_runs WHERE run_id = $1', [runId])).rows[0]!.pk;

  it('completing, failing, cancelling and the sweep each announce the end on export_run_closed, once', async () => {
    const client = await api.pool.connect();
    const heard: string[] = [];
    client.on('notification', (m) => m.channel === RUN_CLOSED_CHANNEL && heard.push(m.payload ?? ''));
    await client.query(`LISTEN ${RUN_CLOSED_CHANNEL}`);
    const heardOnce = async (pk: string) => {
      const deadline = Date.now() + 5000;
      while (!heard.includes(pk) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(heard.filter((p) => p === pk), [pk], `run ${pk} announced exactly once`);
    };
    try {
      const queued = (await create(api, distinct())).body.result as { workflowId: string; runId: string };
      const del = await getJson(`${api.base}/api/public/reports/report/${queued.workflowId}/${encodeURIComponent(queued.runId)}?companyKey=demo`, h, { method: 'DELETE' });
      assert.equal(del.status, 200);
      await heardOnce(await pkOf(queued.runId));

      const orphan = (await create(api, distinct())).body.result as { runId: string };
      const orphanPk = await pkOf(orphan.runId);
      const jobId = (await api.pool.query<{ job_id: string }>('SELECT job_id::text FROM export_runs WHERE id = $1', [orphanPk])).rows[0]!.job_id;
      await api.boss.deleteJob(EXPORT_QUEUE, jobId);
      const swept = await sweep(
        { pool: api.pool, store: await openExportStore(api.config), log: createLogger('silent'), runHistoryDays: 30, jobIsOpen: (id) => exportJobIsOpen(api.boss, id) },
        new Date(Date.now() + 60_000),
      );
      assert.equal(swept.runsOrphaned, 1);
      await heardOnce(orphanPk);

      // A smart view deleted while its run waits: the worker fails the run for good.
      await api.pool.query(`INSERT INTO smart_views (company_id, smart_view_id, name, filter) SELECT company_id, 9901, 'doomed', filter FROM smart_views WHERE smart_view_id = 9001`);
      const doomed = (await create(api, `${distinct()}&smartViewId=9901`)).body.result as { runId: string; statusUrl: string };
      await api.pool.query('DELETE FROM smart_views WHERE smart_view_id = 9901');
      const done = (await create(api, distinct())).body.result as { runId: string; statusUrl: string };
      await startTestService({}, { api: false, worker: true, databaseUrl: url });
      const failed = await waitClosed(doomed.statusUrl, h);
      assert.equal(failed.result.result.detail, 'FAILED');
      assert.match(failed.result.result.reason as string, /smart view 9901 no longer exists/);
      await heardOnce(await pkOf(doomed.runId));
      assert.equal((await waitClosed(done.statusUrl, h)).result.result.detail, 'COMPLETED');
      await heardOnce(await pkOf(done.runId));
      assert.equal(heard.length, 4, 'nothing else closed');
    } finally {
      await client.query(`UNLISTEN ${RUN_CLOSED_CHANNEL}`);
      client.release();
    }
  });

  it("a worker's listener hears each close, and hears them again after its connection was cut", async () => {
    const heard: string[] = [];
    const errors: Error[] = [];
    // A pool of its own, named, so that its connection is told apart from any worker's.
    const pool = new pg.Pool({ connectionString: url, application_name: 'run-closed-listener-test', max: 2 });
    pool.on('error', () => {});
    const listener = await listenForClosedRuns(pool, (pk) => heard.push(pk), (e) => errors.push(e));
    const listening = async () =>
      (await api.pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'run-closed-listener-test' AND query = 'LISTEN ${RUN_CLOSED_CHANNEL}'`)).rows.map((r) => r.pid);
    const until = async (what: string, ok: () => Promise<boolean> | boolean) => {
      const deadline = Date.now() + 10_000;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const cancel = async () => {
      const run = (await create(api, distinct())).body.result as { workflowId: string; runId: string };
      const del = await getJson(`${api.base}/api/public/reports/report/${run.workflowId}/${encodeURIComponent(run.runId)}?companyKey=demo`, h, { method: 'DELETE' });
      assert.equal(del.status, 200);
      return pkOf(run.runId);
    };
    try {
      const first = await cancel();
      await until('the first close to be heard', () => heard.includes(first));
      // Its backend is terminated, as a server restart or a failover would: the listener comes back by itself.
      const before = await listening();
      assert.equal(before.length, 1, 'one listening connection');
      await api.pool.query('SELECT pg_terminate_backend($1)', [before[0]]);
      await until('the lost connection to be reported', () => errors.length > 0);
      // A new backend: the terminated one may still be listed while it exits.
      await until('the listener to listen again', async () => {
        const now = await listening();
        return now.length === 1 && now[0] !== before[0];
      });
      const second = await cancel();
      await until('the close after the cut to be heard', () => heard.includes(second));
      assert.deepEqual(heard.filter((pk) => pk === first || pk === second), [first, second]);
    } finally {
      await listener.stop();
      await pool.end();
    }
  });
});
