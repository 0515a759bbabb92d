/**
 * `npm run bench [-- --conversations N]`: figures for the export path on the
 * embedded database, printed as a table and written to bench-results/.
 *
 *   1. loads N conversations (with posts, actions, …) into company `bench`, once;
 *   2. full-range `conversation` export, every column, CSV, JSON and xlsx, through
 *      the real API and a worker process (create → poll, as the client package
 *      does → download), with slices off (one COPY) and on (`--slices`, checked
 *      byte for byte against one COPY),
 *      next to `psql \copy` of the same SELECT in the same run (CSV and JSON):
 *      the export's own, built by the catalog as the worker builds it;
 *      `--rounds` of each, in turn, and the median of each;
 *   3. peak RSS of the worker process for an export of N/10 rows and of N rows,
 *      in each format;
 *   4. end-to-end latency of small (≈1,000-row) exports, p50 and p95;
 *   5. a burst: clients each looping create → poll → download of small exports
 *      (a week, mixed exports and formats) on one company; p50 and p95 end to
 *      end, failures, every file's rows against its count, peak RSS;
 *   6. status polling under load (autocannon) beside /healthz: requests/s, p50, p99.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { parse as csvParser } from 'csv-parse';
import { createCompany, createUser, findCompanyByKey, grant } from '../src/accounts/accounts.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { freePort, startEmbeddedStandby } from '../src/db/embedded.ts';
import { DEMO_DEFAULTS } from '../src/demo/generator.ts';
import { REPORT_FORMAT_NAMES, SHEET_MAX_DATA_ROWS, type ReportFormat } from '../src/exports/catalog/formats.ts';
import { seedCompany } from '../src/demo/seed.ts';
import { conversation } from '../src/exports/catalog/conversation.ts';
import { buildExportQuery } from '../src/exports/query.ts';
import { parseExportRequest } from '../src/exports/request.ts';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3Server } from '../test/helpers/s3-server.ts';
import { writeBenchResults } from './bench-results.ts';
import { PollSchedule } from '../packages/client/src/poll.ts';

/** A bad command line: one line on stderr, exit code 2. */
function usage(message: string): never {
  console.error(`npm run bench: ${message}`);
  process.exit(2);
}

const { values: args } = (() => {
  try {
    return parseArgs({
      options: {
        conversations: { type: 'string', default: '1000000' },
        'data-dir': { type: 'string', default: '.bench' },
        'small-runs': { type: 'string', default: '50' },
        'poll-clients': { type: 'string', default: '200' },
        'poll-seconds': { type: 'string', default: '20' },
        'burst-clients': { type: 'string', default: '50' },
        'burst-seconds': { type: 'string', default: '60' },
        only: { type: 'string', default: 'export,rss,small,burst,status' },
        formats: { type: 'string', default: REPORT_FORMAT_NAMES.join(',') },
        // s3: the full-range CSV export and the worker's peak RSS again with files in object storage (STORAGE_URL and S3_* from
        // the environment, else a local S3-compatible server), beside the local-disk figures.
        storage: { type: 'string', default: 'local' },
        // With --storage s3 and no STORAGE_URL: each upload request to the local S3-compatible server takes at least its size
        // over this rate (MB/s), as a connection to a store across a network does; 0: as fast as the machine.
        's3-upload-mbps': { type: 'string', default: '0' },
        // Slices of the full-range exports (EXPORT_SLICES); each is measured with slices off too.
        slices: { type: 'string', default: String(Math.min(4, os.availableParallelism())) },
        // Rounds of the full-range exports, each running every one of them and psql once, in turn: the figures are each
        // one's median run (one run of psql here took 12.7 to 15.1 s from one bench to the next).
        rounds: { type: 'string', default: '3' },
        // The full-range CSV export again with DATABASE_READ_URL on a streaming replica of the bench database (built for the run).
        replica: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
})();
if (!['local', 's3'].includes(args.storage)) usage(`--storage takes local or s3, not ${args.storage}`);
const PARTS = ['export', 'rss', 'small', 'burst', 'status'];
const only = new Set(args.only.split(',').map((p) => p.trim()));
for (const p of only) if (!PARTS.includes(p)) usage(`--only takes ${PARTS.join(', ')} (comma-separated), not ${p}`);
const S3_UPLOAD_MBPS = Number(args['s3-upload-mbps']);
if (!(S3_UPLOAD_MBPS >= 0)) usage(`--s3-upload-mbps takes a rate in MB/s (0: unlimited), not ${args['s3-upload-mbps']}`);
/** The rate the bench's own S3-compatible server holds uploads to; none on a store of STORAGE_URL. */
const S3_THROTTLE_MBPS = process.env['STORAGE_URL'] ? 0 : S3_UPLOAD_MBPS;
const N = Number(args.conversations);
const SLICES = Number(args.slices);
if (!Number.isInteger(SLICES) || SLICES < 1) usage(`--slices takes a whole number from 1, not ${args.slices}`);
const ROUNDS = Number(args.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) usage(`--rounds takes a whole number from 1, not ${args.rounds}`);
const formats = args.formats.split(',').map((f) => f.trim()) as ReportFormat[];
for (const f of formats) if (!REPORT_FORMAT_NAMES.includes(f)) usage(`--formats takes ${REPORT_FORMAT_NAMES.join(', ')}, not ${f}`);
// A sheet holds 1,048,575 rows: a larger full export is refused as xlsx, so it is measured up to that size only.
if (formats.includes('xlsx') && N > SHEET_MAX_DATA_ROWS) usage(`xlsx holds at most ${SHEET_MAX_DATA_ROWS} rows: bench it with --conversations ≤ that, or leave it out of --formats`);
const root = path.resolve(import.meta.dirname, '..');
const benchDir = path.resolve(root, args['data-dir']);
const PASSWORD = 'bench-password-1';
const FROM = DEMO_DEFAULTS.from.getTime();
const TO = DEMO_DEFAULTS.to.getTime();
const auth = `Basic ${Buffer.from(`bench:${PASSWORD}`).toString('base64')}`;
const say = (s: string) => process.stdout.write(`${s}\n`);
/** Milliseconds of CPU time per clock tick of /proc/stat. */
const MS_PER_TICK = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

// 1. The database and the data.
const config = loadConfig({ DATA_DIR: path.join(benchDir, 'data'), EMBEDDED_PG_PORT: '54339', DEMO_DATA: 'false', LOG_LEVEL: 'warn' });
const db = await openDatabase(config, { startEmbedded: true, log: () => {} });
const children: ChildProcess[] = [];
// The export files and their downloads (a 1M-row run leaves gigabytes) and the logs of the service's processes live
// for one run of the bench. A download or psql writing over a file left by the last run first waits for the file's
// pages to be dropped: 0.46-0.49 s instead of 0.27-0.32 s for curl to write 271 MB here.
const filesDir = path.join(benchDir, 'files');
const outDir = path.join(benchDir, 'out');
for (const dir of [filesDir, outDir]) await fsp.rm(dir, { recursive: true, force: true });
for (const role of ['api', 'worker']) await fsp.rm(path.join(benchDir, `${role}.log`), { force: true });
/** Set when a service process the bench started exits on its own. */
let died: Error | undefined;

interface Polled {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}
interface Figures {
  ms: number;
  /** From the run's creation to a worker starting it (the database's clock). */
  queuedMs: number;
  workerMs: number;
  /** From the run closing (the database server's clock) to the status that showed it closed (this machine's clock: the same one, the bench's server being local). */
  seenAfterMs: number;
  /** From the closed status to the whole file on disk: the 307 and the download. */
  downloadMs: number;
  rows: number;
  bytes: number;
  peakRssMb: number;
  /** Of the downloaded file, which equals the run's fileSha256 (else the run fails). */
  sha256: string;
  /** The machine's cores busy on average from create to downloaded, all processes (Linux only). */
  busyCores?: number | undefined;
}
interface FullRange extends Figures {
  format: ReportFormat;
  /** EXPORT_SLICES of the worker (1: one COPY). */
  slices: number;
  /** Byte for byte the file of one COPY (the same export with slices off). */
  identicalToOneCopy?: boolean;
  /** On object storage: byte for byte the file the same export wrote on local disk. */
  identicalToLocal?: boolean;
  storage: 'local' | 's3';
  rowsPerSecond: number;
  mbPerSecond: number;
  /** Every run's end-to-end time, in the order run (the figures are the median run's). */
  runsMs?: number[];
  psqlMs?: number;
  psqlRunsMs?: number[];
  psqlRowsPerSecond?: number;
  /** The machine's cores busy on average during the median psql run. */
  psqlBusyCores?: number | undefined;
  ratioOursToPsql?: number;
  identicalToPsql?: boolean;
}
interface PeakRss {
  format: ReportFormat;
  storage: 'local' | 's3';
  rowsSmall: number;
  peakRssMbSmall: number;
  rowsLarge: number;
  peakRssMbLarge: number;
}
interface Results {
  date: string;
  conversations: number;
  /** Calls the bench tried again on a new connection, over the whole run (each retry waits 0.1–0.8 s, inside the figure it is part of). */
  connectionRetries?: number;
  fullRange: FullRange[];
  peakRss: PeakRss[];
  smallExport?: { runs: number; rowsEach: number; p50Ms: number; p95Ms: number };
  /** The full CSV export on local disk and on object storage, back to back. */
  storage?: { localMs: number; objectStorageMs: number; ratioObjectToLocal: number; identical: boolean };
  /** The full CSV export on the primary and from a streaming replica, back to back. */
  replica?: { primaryMs: number; replicaMs: number; ratioReplicaToPrimary: number; identical: boolean };
  burst?: { clients: number; seconds: number; completed: number; failed: number; mismatched: number; connectionRetries: number; p50Ms: number; p95Ms: number; maxMs: number; apiPeakRssMb: number; workerPeakRssMb: number };
  statusPolling?: Polled & { clients: number; seconds: number; healthz: Polled; ratioToHealthz: number };
}
/** The parts of the API's answers the bench reads. */
interface Body {
  message?: string;
  result: {
    statusUrl: string;
    runId: string;
    jobInfo: { downloadUrl: string; statusUrl: string; runId: string };
    result: {
      runnerState: string;
      detail: string;
      currentCount: number | null;
      totalCount: number | null;
      lastAcknowledgeTime: number | null;
      fileSha256: string | null;
    };
  };
}
const results: Results = { date: new Date().toISOString(), conversations: N, fullRange: [], peakRss: [] };
try {
  let company = await findCompanyByKey(db.pool, 'bench');
  const have = company
    ? Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM conversations WHERE company_id = $1', [company.id])).rows[0]!.n)
    : 0;
  if (have !== N) {
    if (company) await db.pool.query('DELETE FROM companies WHERE id = $1', [company.id]);
    say(`loading ${N.toLocaleString('en')} conversations into company bench …`);
    const started = Date.now();
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      company = await createCompany(client, { key: 'bench', name: 'Bench', timezone: 'America/Chicago' });
      const seeded = await seedCompany(client, company.id, { ...DEMO_DEFAULTS, conversations: N, seed: 42 });
      await client.query('COMMIT');
      say(`loaded in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(seeded.rows)}`);
    } finally {
      client.release();
    }
    await db.pool.query('ANALYZE');
    await createUser(db.pool, { companyKey: 'bench', username: 'bench', password: PASSWORD });
    await grant(db.pool, 'bench', 'ANALYTICS_REPORTS_API');
  }

  // The service as it runs in production: an API process and a worker process on this database.
  let base = '';
  const start = (role: 'api' | 'worker', env: NodeJS.ProcessEnv) =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, ['src/cli/main.ts', role], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      // Its log, whole, beside the bench's files (each process of the run after the last).
      child.stdout.pipe(fs.createWriteStream(path.join(benchDir, `${role}.log`), { flags: 'a' }));
      let ready = false;
      // The last lines it logged, to show should it exit on its own.
      let tail = '';
      child.stdout.on('data', (d: Buffer) => {
        const text = tail + d.toString();
        if (!ready && text.includes('"msg":"ready"')) {
          ready = true;
          resolve(child);
        }
        tail = text.slice(-8_000);
      });
      // After its output has ended, so that the tail is whole.
      child.on('close', (code, signal) => {
        if (!children.includes(child)) return;
        const why = `the ${role} process exited on its own (${signal ?? `code ${code}`}); its last log lines:\n${tail.trim().split('\n').slice(-10).join('\n')}`;
        if (!ready) return reject(new Error(why));
        // What waits on the service fails with this, rather than wait for ever.
        died ??= new Error(why);
      });
    });
  /** An API process and a worker process with files in `storage` (and other settings); the ones running before are stopped. */
  const startService = async (storage: Record<string, string>, slices = SLICES) => {
    await stopChildren();
    const port = await freePort();
    base = `http://localhost:${port}`;
    const env = {
      ...process.env, DATABASE_URL: db.url, DATABASE_OWNER_URL: db.ownerUrl, DATA_DIR: filesDir, PORT: String(port), LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '1', CREATE_RATE_PER_MINUTE: '1000000', RETENTION_DAYS: '1', STORAGE_URL: '', EXPORT_SLICES: String(slices), ...storage,
    };
    await start('api', env);
    return start('worker', env);
  };
  let worker = await startService({});

  /**
   * Connections that failed under a call (a kept-alive one the server had
   * just closed, say) and were tried again, as the SDK does: every call the
   * bench makes is safe to repeat (an identical create returns the same run).
   */
  let retried = 0;
  const fetchRetrying = async (url: string, init: RequestInit = {}): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(url, init);
      } catch (e) {
        if (attempt >= 3) throw e;
        retried++;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  };
  const call = async (url: string, init: RequestInit = {}) => {
    const res = await fetchRetrying(url, { ...init, headers: { Authorization: auth }, redirect: 'manual' });
    // A redirect's body is let go of, so that its connection serves the next call.
    if (res.status === 307) await res.body?.cancel();
    return { status: res.status, headers: res.headers, body: res.status === 307 ? null : ((await res.json()) as Body) };
  };
  const resetPeak = () => fs.writeFileSync(`/proc/${worker.pid}/clear_refs`, '5');
  const peakMb = () => Number(/VmHWM:\s+(\d+) kB/.exec(processStatus(worker))?.[1] ?? 0) / 1024;

  /**
   * Creates a run and polls its status until it closes, every `everyMs`, or
   * when the client package's PollSchedule says (as `waitForRun` does); the
   * last status.
   */
  const createAndWait = async (createUrl: string, everyMs: number | 'as the client does') => {
    const created = await call(createUrl);
    if (created.status !== 200) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
    const schedule = everyMs === 'as the client does' ? new PollSchedule() : undefined;
    for (;;) {
      if (died) throw died;
      const askedAt = schedule?.now();
      const status = await call(created.body!.result.statusUrl);
      if (status.body!.result.result.runnerState === 'CLOSED') return status;
      await new Promise((r) => setTimeout(r, schedule ? schedule.next(status.body!.result.result, askedAt) : (everyMs as number)));
    }
  };

  /**
   * Writes what earlier steps left in the page cache to disk, so that a
   * measure does not pay for the last one's files (the kernel writes them back
   * 30 s after, in the middle of whatever runs then).
   */
  const settle = () => spawnSync('sync');

  /**
   * create → poll → download to a file; timings, rows, bytes and the worker's
   * peak RSS. Its status is polled as the client package does, unless
   * `everyMs` says how often. (A client asking every 20 ms through a
   * 10-second export took 0.4-0.5 s of CPU here, on the cores the export runs on.)
   */
  async function runExport(query: string, file: string, everyMs: number | 'as the client does' = 'as the client does'): Promise<Figures> {
    settle();
    resetPeak();
    const busy0 = machineBusyMs();
    const t0 = performance.now();
    const status = await createAndWait(`${base}/api/public/reports/report/${query}&companyKey=bench`, everyMs);
    if (status.body!.result.result.detail !== 'COMPLETED') throw new Error(`run closed as ${JSON.stringify(status.body!.result.result)}`);
    const closed = performance.now();
    const closedAtMs = Date.now();
    const redirect = await call(status.body!.result.jobInfo.downloadUrl);
    await download(redirect.headers.get('location')!, file);
    const ms = performance.now() - t0;
    const busyCores = coresBusy(busy0, ms);
    const downloadMs = performance.now() - closed;
    const run = await db.pool.query<{ ms: number; queued: number; finished: number; rows: string; bytes: string }>(
      `SELECT extract(epoch FROM finished_at - started_at) * 1000 AS ms, extract(epoch FROM started_at - created_at) * 1000 AS queued,
              extract(epoch FROM finished_at) * 1000 AS finished, current_count AS rows, file_bytes AS bytes
         FROM export_runs WHERE run_id = $1`,
      [status.body!.result.jobInfo.runId],
    );
    const r = run.rows[0]!;
    const sha256 = await sha256Of(file);
    const recorded = status.body!.result.result.fileSha256;
    if (sha256 !== recorded) throw new Error(`the download of ${file} has SHA-256 ${sha256}, its run recorded ${recorded}`);
    const seenAfterMs = closedAtMs - Number(r.finished);
    return { ms, queuedMs: Number(r.queued), workerMs: Number(r.ms), seenAfterMs, downloadMs, rows: Number(r.rows), bytes: Number(r.bytes), peakRssMb: peakMb(), sha256, busyCores };
  }

  /**
   * The file, fetched as the quick start does: with curl, when the machine
   * has it (Node's fetch took 3.1–3.8 s for the 756 MB JSON file where curl
   * took 2.0 s, from the same server); else fetch, streamed to the file.
   */
  const curl = spawnSync('curl', ['--version']).status === 0;
  say(`full-range files are downloaded with ${curl ? 'curl' : "Node's fetch (no curl on this machine)"}`);
  async function download(url: string, file: string): Promise<void> {
    if (curl) {
      const code = await new Promise<number | null>((resolve) => spawn('curl', ['-sSf', '-o', file, url], { stdio: 'inherit' }).on('exit', resolve));
      if (code !== 0) throw new Error(`curl could not download ${url} (exit ${code})`);
      return;
    }
    const res = await fetchRetrying(url);
    if (!res.ok || !res.body) throw new Error(`the download answered ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), fs.createWriteStream(file));
  }

  await fsp.mkdir(outDir, { recursive: true });
  const full = `startTime=${FROM}&endTime=${TO}&conversationReportType=CREATED`;

  // 2. Full-range exports next to psql \copy.
  const psql = spawnSync('psql', ['--version']).status === 0;
  const copy = (sql: string, file: string) => {
    settle();
    const busy0 = machineBusyMs();
    const t0 = performance.now();
    // JSON lines pass through CSV mode untouched with control characters as quote and delimiter, as in the service.
    const options = file.endsWith('.csv') ? 'FORMAT csv, HEADER true' : "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'";
    const r = spawnSync('psql', [db.url, '-X', '-q', '-c', `\\copy (${sql}) TO '${file}' WITH (${options})`], {
      env: { ...process.env, PGTZ: 'UTC' },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
    const ms = performance.now() - t0;
    return { ms, busyCores: coresBusy(busy0, ms) };
  };
  for (const format of only.has('export') ? formats : []) {
    // Each round: slices off, then on (xlsx is always one piece), then psql, each on the same warm caches.
    const modes = format === 'xlsx' || SLICES === 1 ? [1] : [1, SLICES];
    const ours = new Map<number, Figures[]>(modes.map((m) => [m, []]));
    const psqlRuns: { ms: number; busyCores: number | undefined }[] = [];
    const psqlHashes: string[] = [];
    const fileOf = (who: string) => path.join(outDir, `${who}.${format}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const slices of modes) {
        worker = await startService({}, slices);
        await fsp.rm(fileOf(`ours-${slices}`), { force: true });
        ours.get(slices)!.push(await runExport(`conversation?${full}&reportFormat=${format}`, fileOf(`ours-${slices}`)));
      }
      if (psql && format !== 'xlsx') {
        await fsp.rm(fileOf('psql'), { force: true });
        psqlRuns.push(copy(exportSql(format, company!), fileOf('psql')));
        psqlHashes.push(await sha256Of(fileOf('psql')));
      }
    }
    const rows: FullRange[] = [];
    // Every run's file, in every round, against the first one-COPY file.
    const oneCopy = ours.get(1)![0]!.sha256;
    const allOneCopy = ours.get(1)!.every((r) => r.sha256 === oneCopy);
    for (const slices of modes) {
      const runs = ours.get(slices)!;
      const mid = medianOf(runs, (r) => r.ms);
      const row: FullRange = { format, slices, storage: 'local', ...withRates(mid), runsMs: runs.map((r) => r.ms) };
      if (slices > 1) row.identicalToOneCopy = allOneCopy && runs.every((r) => r.sha256 === oneCopy);
      if (psqlRuns.length > 0) {
        const { ms: psqlMs, busyCores: psqlBusyCores } = medianOf(psqlRuns, (r) => r.ms);
        Object.assign(row, { psqlMs, psqlRunsMs: psqlRuns.map((r) => r.ms), psqlRowsPerSecond: row.rows / (psqlMs / 1000), psqlBusyCores, ratioOursToPsql: psqlMs / row.ms });
        if (format === 'csv') row.identicalToPsql = psqlHashes.every((h) => h === oneCopy) && runs.every((r) => r.sha256 === oneCopy);
      }
      rows.push(row);
    }
    for (const row of rows) {
      results.fullRange.push(row);
      say(`${format}: ${JSON.stringify(row)}`);
    }
  }
  if (args.replica) {
    if (!db.embedded) throw new Error('--replica builds a replica of the embedded bench database');
    say('building a streaming replica of the bench database …');
    const replicaDir = path.join(benchDir, 'replica');
    await fsp.rm(replicaDir, { recursive: true, force: true });
    const standby = await startEmbeddedStandby(db.embedded, path.join(benchDir, 'data'), replicaDir, () => {});
    try {
      worker = await startService({});
      const primary = await runExport(`conversation?${full}&reportFormat=csv`, path.join(outDir, 'primary.csv'));
      worker = await startService({ DATABASE_READ_URL: standby.url });
      const replica = await runExport(`conversation?${full}&reportFormat=csv`, path.join(outDir, 'replica.csv'));
      results.replica = {
        primaryMs: primary.ms, replicaMs: replica.ms, ratioReplicaToPrimary: primary.ms / replica.ms,
        identical: primary.sha256 === replica.sha256,
      };
      say(`replica: ${JSON.stringify(results.replica)}`);
    } finally {
      await stopChildren();
      await standby.stop();
      await fsp.rm(replicaDir, { recursive: true, force: true });
    }
  }
  if (only.has('export') || args.replica) worker = await startService({});

  // 3. Peak RSS of the worker: N/10 rows and N rows.
  const tenth = `startTime=${FROM}&endTime=${FROM + Math.round((TO - FROM) / 10)}&conversationReportType=CREATED`;
  for (const format of only.has('rss') ? formats : []) {
    const small = await runExport(`conversation?${tenth}&reportFormat=${format}`, path.join(outDir, `tenth.${format}`));
    const big = await runExport(`conversation?${full}&reportFormat=${format}`, path.join(outDir, `full.${format}`));
    results.peakRss.push({ format, storage: 'local', rowsSmall: small.rows, peakRssMbSmall: small.peakRssMb, rowsLarge: big.rows, peakRssMbLarge: big.peakRssMb });
  }
  if (only.has('rss')) say(`peak RSS: ${JSON.stringify(results.peakRss)}`);

  // 4. Small exports end to end.
  const smallRuns = only.has('small') ? Number(args['small-runs']) : 0;
  const span = Math.round(((TO - FROM) * 1000) / N);
  const latencies: number[] = [];
  for (let i = 0; i < smallRuns; i++) {
    const s = FROM + Math.round(((TO - FROM - span) * i) / smallRuns);
    // Polled every 20 ms: the figure is the service's latency, not a client's choice of when to ask.
    const r = await runExport(`conversation?startTime=${s}&endTime=${s + span}&conversationReportType=CREATED&reportFormat=csv`, path.join(outDir, 'small.csv'), 20);
    latencies.push(r.ms);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
  if (smallRuns > 0) {
    results.smallExport = { runs: smallRuns, rowsEach: Math.round(N / 1000), p50Ms: pct(50), p95Ms: pct(95) };
    say(`small exports: ${JSON.stringify(results.smallExport)}`);
  }

  // 5. A burst on one company: runs wait for the company's slots, so how soon a freed slot is taken shows in p95.
  if (only.has('burst')) {
    worker = await startService({ WORKER_CONCURRENCY: '4' });
    const api = children.at(-2)!;
    const peaks = { api: 0, worker: 0 };
    const sample = setInterval(() => {
      for (const [role, child] of [['api', api], ['worker', worker]] as const) {
        const rss = Number(/VmRSS:\s+(\d+) kB/.exec(processStatus(child))?.[1] ?? 0) / 1024;
        peaks[role] = Math.max(peaks[role], rss);
      }
    }, 200);
    const kinds = [
      'conversation?conversationReportType=CREATED&reportFormat=csv',
      'conversation?conversationReportType=CLOSED&reportFormat=json',
      'incoming_post?reportFormat=csv',
      'conversation_actions?reportFormat=json',
      'raw_agent_states?reportFormat=csv',
      'team_performance?reportFormat=json',
    ];
    const week = 7 * 86_400_000;
    const burstStart = new Date();
    const retriedBefore = retried;
    const until = Date.now() + Number(args['burst-seconds']) * 1000;
    const times: number[] = [];
    let failed = 0;
    let mismatched = 0;
    const client = async (c: number) => {
      for (let i = 0; Date.now() < until; i++) {
        const s = FROM + (((c * 7919 + i * 104729) % 20) * (TO - FROM - week)) / 20;
        const kind = kinds[(c + i) % kinds.length]!;
        const t0 = performance.now();
        const status = await createAndWait(`${base}/api/public/reports/report/${kind}&startTime=${Math.round(s)}&endTime=${Math.round(s) + week}&companyKey=bench`, 50);
        if (status.body!.result.result.detail !== 'COMPLETED') {
          failed++;
          continue;
        }
        const redirect = await call(status.body!.result.jobInfo.downloadUrl);
        const body = Buffer.from(await (await fetchRetrying(redirect.headers.get('location')!)).arrayBuffer());
        times.push(performance.now() - t0);
        // Rows on the bytes: CSV records after the header, JSON lines inside the array.
        const rows = kind.includes('reportFormat=csv') ? (await csvRecords(body)) - 1 : jsonLines(body) - 2;
        if (rows !== status.body!.result.result.totalCount) mismatched++;
      }
    };
    await Promise.all(Array.from({ length: Number(args['burst-clients']) }, (_, c) => client(c)));
    clearInterval(sample);
    // Where the time went, from the runs' own records: waiting in the queue, then exporting.
    const phases = await db.pool.query<{ attempts: string; wait50: number; wait95: number; run50: number; run95: number }>(
      `SELECT json_object_agg(attempt, n) AS attempts, max(wait50) AS wait50, max(wait95) AS wait95, max(run50) AS run50, max(run95) AS run95 FROM (
         SELECT attempt, count(*) AS n,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000) FROM export_runs WHERE created_at >= $1) AS wait50,
                (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000) FROM export_runs WHERE created_at >= $1) AS wait95,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) FROM export_runs WHERE created_at >= $1) AS run50,
                (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) FROM export_runs WHERE created_at >= $1) AS run95
           FROM export_runs WHERE created_at >= $1 GROUP BY attempt) x`,
      [burstStart],
    );
    say(`burst runs: ${JSON.stringify(phases.rows[0])}`);
    times.sort((a, b) => a - b);
    const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] ?? 0);
    results.burst = {
      clients: Number(args['burst-clients']), seconds: Number(args['burst-seconds']), completed: times.length, failed, mismatched, connectionRetries: retried - retriedBefore,
      p50Ms: at(50), p95Ms: at(95), maxMs: at(100), apiPeakRssMb: Math.round(peaks.api), workerPeakRssMb: Math.round(peaks.worker),
    };
    say(`burst: ${JSON.stringify(results.burst)}`);
  }

  // 6. Status polling under load, beside /healthz (one SELECT 1) measured the same way in the same minute.
  if (only.has('status')) {
    const closedRun = await createAndWait(`${base}/api/public/reports/report/conversation?${tenth}&reportFormat=csv&companyKey=bench&reportMetrics=CONVERSATION_ID`, 20);
    const statusUrl = closedRun.body!.result.jobInfo.statusUrl;
    const poll = async (url: string, headers: Record<string, string>): Promise<Polled> => {
      const r = await autocannon({ url, connections: Number(args['poll-clients']), duration: Number(args['poll-seconds']), headers });
      return { requestsPerSecond: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
    };
    const closed = await poll(statusUrl, { Authorization: auth });
    const health = await poll(`${base}/healthz`, {});
    results.statusPolling = {
      clients: Number(args['poll-clients']),
      seconds: Number(args['poll-seconds']),
      ...closed,
      healthz: health,
      ratioToHealthz: closed.requestsPerSecond / health.requestsPerSecond,
    };
    say(`status polling: ${JSON.stringify(results.statusPolling)}`);
  }

  // 6. Object storage: the same full-range CSV export and peak RSS, files in a bucket.
  if (args.storage === 's3') {
    // Local disk again, back to back with object storage, so that both run on warm caches.
    const local = await runExport(`conversation?${full}&reportFormat=csv`, path.join(outDir, 'ours-local.csv'));
    const storage = await objectStorage();
    worker = await startService(storage.env);
    say(`object storage: ${storage.env['STORAGE_URL']}${storage.env['S3_ENDPOINT'] ? ` at ${storage.env['S3_ENDPOINT']}` : ''}${S3_THROTTLE_MBPS > 0 ? `, each upload at most ${S3_THROTTLE_MBPS} MB/s` : ''}`);
    const ours = await runExport(`conversation?${full}&reportFormat=csv`, path.join(outDir, 'ours-s3.csv'));
    const row: FullRange = { format: 'csv', slices: SLICES, storage: 's3', ...withRates(ours) };
    const identical = local.sha256 === ours.sha256;
    row.identicalToLocal = identical;
    results.fullRange.push(row);
    say(`csv on object storage: ${JSON.stringify(row)}`);
    results.storage = { localMs: local.ms, objectStorageMs: ours.ms, ratioObjectToLocal: local.ms / ours.ms, identical };
    say(`full CSV back to back: local disk ${(local.ms / 1000).toFixed(2)} s, object storage ${(ours.ms / 1000).toFixed(2)} s (${results.storage.ratioObjectToLocal.toFixed(2)}× the local rate), files identical: ${results.storage.identical}`);
    const small = await runExport(`conversation?${tenth}&reportFormat=csv`, path.join(outDir, 'tenth-s3.csv'));
    results.peakRss.push({ format: 'csv', storage: 's3', rowsSmall: small.rows, peakRssMbSmall: small.peakRssMb, rowsLarge: ours.rows, peakRssMbLarge: ours.peakRssMb });
    await stopChildren();
    await storage.stop();
  }

  results.connectionRetries = retried;
  if (retried > 0) say(`calls tried again on a new connection, over the whole run (the figures include the waits): ${retried}`);
  printTable(results);
  say(`\nwritten to ${await writeBenchResults('', results)}`);
} finally {
  await stopChildren();
  for (const dir of [filesDir, outDir]) await fsp.rm(dir, { recursive: true, force: true });
  await db.close();
}
process.exit(process.exitCode ?? 0);

/**
 * The records of a CSV file, parsed a slice at a time: at a million
 * conversations a week's file is tens of MB, and parsing it in one call would
 * hold the event loop for seconds, meanwhile the server closes idle
 * keep-alive connections that the other clients then reuse unknowing.
 */
async function csvRecords(body: Buffer): Promise<number> {
  const slices = (function* () {
    for (let at = 0; at < body.length; at += 256 * 1024) yield body.subarray(at, at + 256 * 1024);
  })();
  const parser = Readable.from(slices).pipe(csvParser());
  parser.resume();
  await finished(parser);
  return parser.info.records;
}

/** The non-empty lines of a file, without decoding it. */
function jsonLines(body: Buffer): number {
  let n = 0;
  for (let start = 0; start < body.length; ) {
    const nl = body.indexOf(0x0a, start);
    const end = nl < 0 ? body.length : nl;
    if (end > start) n++;
    start = end + 1;
  }
  return n;
}

/** /proc/<pid>/status of a child; empty once it has exited (which its exit handler reports). */
function processStatus(child: ChildProcess): string {
  try {
    return fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

async function stopChildren(): Promise<void> {
  const stopping = children.splice(0);
  for (const c of stopping) c.kill('SIGTERM');
  await Promise.all(stopping.map((c) => new Promise((r) => (c.exitCode === null && c.signalCode === null ? c.on('exit', r) : r(null)))));
}

/** The bucket STORAGE_URL names, or one in a local S3-compatible server started for the bench. */
async function objectStorage(): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  if (process.env['STORAGE_URL']) return { env: { STORAGE_URL: process.env['STORAGE_URL'] }, stop: async () => {} };
  const server = await startS3Server({ uploadMbPerSecond: S3_THROTTLE_MBPS });
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  client.destroy();
  return {
    env: { STORAGE_URL: 's3://bench/exports', S3_ENDPOINT: server.endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    stop: () => server.stop(),
  };
}

/** The SHA-256 of a file, in hex, read as a stream. */
async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A run's figures with its rows and megabytes per second, end to end. */
function withRates(f: Figures): Figures & { rowsPerSecond: number; mbPerSecond: number } {
  return { ...f, rowsPerSecond: f.rows / (f.ms / 1000), mbPerSecond: f.bytes / 1048576 / (f.ms / 1000) };
}

/** The median item by `key` (the lower of the middle two, for an even count). */
function medianOf<T>(items: readonly T[], key: (t: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)]!;
}

function printTable(r: Results): void {
  const f = (n: number, d = 0) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
  const lines = [
    '',
    `| measure (${f(r.conversations)} conversations) | ours | psql \\copy | ours/psql |`,
    '| --- | --- | --- | --- |',
  ];
  const sameBytes = (e: FullRange) =>
    e.identicalToLocal !== undefined
      ? e.identicalToLocal ? ' (same bytes as on local disk)' : ' (BYTES DIFFER from local disk)'
      : e.identicalToOneCopy !== undefined ? (e.identicalToOneCopy ? ' (same bytes as one COPY)' : ' (BYTES DIFFER from one COPY)') : '';
  const busy = (cores: number | undefined) => (cores === undefined ? '' : `; cores busy ${f(cores, 2)} of ${os.availableParallelism()}`);
  /** Every run, when there were several (the figure beside is the median one's). */
  const runsOf = (ms: readonly number[] | undefined) => (ms && ms.length > 1 ? `; runs ${ms.map((m) => f(m / 1000, 2)).join(', ')} s` : '');
  for (const e of r.fullRange) {
    lines.push(
      `| full export, ${e.format.toUpperCase()}${e.storage === 's3' ? ` to object storage${S3_THROTTLE_MBPS > 0 ? ` (each upload request at most ${S3_THROTTLE_MBPS} MB/s)` : ''}` : ''}, ${e.slices === 1 ? 'one COPY' : `${e.slices} slices`}${sameBytes(e)} (${f(e.rows)} rows, ${f(e.bytes / 1048576, 1)} MB) | ${f(e.ms / 1000, 2)} s, ${f(e.rowsPerSecond)} rows/s, ${f(e.mbPerSecond, 1)} MB/s (queued ${f(e.queuedMs / 1000, 2)} s, worker alone: ${f(e.workerMs / 1000, 1)} s, closed status seen ${f(e.seenAfterMs / 1000, 2)} s after, download ${f(e.downloadMs / 1000, 1)} s${busy(e.busyCores)})${runsOf(e.runsMs)} | ` +
        `${e.psqlMs ? `${f(e.psqlMs / 1000, 2)} s, ${f(e.psqlRowsPerSecond ?? 0)} rows/s${busy(e.psqlBusyCores)}${runsOf(e.psqlRunsMs)}` : 'n/a'} | ${e.ratioOursToPsql ? `${f(e.ratioOursToPsql, 2)}×` : 'n/a'} |`,
    );
  }
  for (const p of r.peakRss) {
    lines.push(`| worker peak RSS, ${p.format.toUpperCase()}${p.storage === 's3' ? ' to object storage' : ''}: ${f(p.rowsSmall)} rows → ${f(p.rowsLarge)} rows | ${f(p.peakRssMbSmall)} MB → ${f(p.peakRssMbLarge)} MB | | |`);
  }
  const rep = r.replica;
  if (rep) {
    lines.push(`| full export, CSV, from a streaming replica (DATABASE_READ_URL), beside the primary back to back | replica ${f(rep.replicaMs / 1000, 2)} s, primary ${f(rep.primaryMs / 1000, 2)} s (${f(rep.ratioReplicaToPrimary, 2)}× the primary's rate); files identical: ${rep.identical} | | |`);
  }
  const s = r.smallExport;
  if (s) lines.push(`| small export end to end (${s.runs} runs of ~${f(s.rowsEach)} rows) | p50 ${f(s.p50Ms)} ms, p95 ${f(s.p95Ms)} ms | | |`);
  const b = r.burst;
  if (b) {
    lines.push(
      `| burst: ${b.clients} clients looping create → poll → download of a week's small exports for ${b.seconds} s, one company | ${f(b.completed)} runs, ${b.failed} failed, ${b.mismatched} files whose rows differ from the count, ${b.connectionRetries} calls tried again on a new connection; ` +
        `p50 ${f(b.p50Ms)} ms, p95 ${f(b.p95Ms)} ms (${f(b.p95Ms / Math.max(1, b.p50Ms), 1)}× p50), max ${f(b.maxMs)} ms; peak RSS API ${f(b.apiPeakRssMb)} MB, worker ${f(b.workerPeakRssMb)} MB | | |`,
    );
  }
  const p = r.statusPolling;
  if (p) {
    lines.push(
      `| status of a closed run, polled by ${p.clients} clients for ${p.seconds} s | ${f(p.requestsPerSecond)} req/s, p50 ${f(p.p50Ms)} ms, p99 ${f(p.p99Ms)} ms, ${p.non2xx} non-2xx | ` +
        `/healthz: ${f(p.healthz.requestsPerSecond)} req/s, p50 ${f(p.healthz.p50Ms)} ms, p99 ${f(p.healthz.p99Ms)} ms | ${f(p.ratioToHealthz, 2)}× |`,
    );
  }
  say(lines.join('\n'));
}

/**
 * The SELECT the worker copies for the full-range export in `format` (CSV
 * rows, or JSON rows each ending in a comma), built by the catalog as the
 * worker builds it: what `psql \copy` runs beside it.
 */
function exportSql(format: 'csv' | 'json', company: { id: string; timeFormat: 'ISO_8601' | 'EPOCH_MILLIS' }): string {
  const raw = { startTime: [String(FROM)], endTime: [String(TO)], conversationReportType: ['CREATED'], reportFormat: [format] };
  const request = parseExportRequest(conversation, raw, { resolveZone: () => undefined });
  const query = buildExportQuery(conversation, request, { companyId: company.id }, request.locale ?? company.timeFormat);
  return format === 'csv' ? query.rows : query.jsonRows;
}

/** CPU time this machine's cores have spent running anything (user, system, interrupts; not idle, I/O wait or steal), in ms; undefined where /proc/stat is not. */
function machineBusyMs(): number | undefined {
  try {
    const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = ticks;
    return (user + nice + system + irq + softirq) * MS_PER_TICK;
  } catch {
    return undefined;
  }
}

/** The cores busy on average over `wallMs` since `busyBefore` was read. */
function coresBusy(busyBefore: number | undefined, wallMs: number): number | undefined {
  const now = machineBusyMs();
  return busyBefore === undefined || now === undefined ? undefined : (now - busyBefore) / wallMs;
}
