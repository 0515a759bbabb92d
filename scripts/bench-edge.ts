/**
 * `npm run bench:edge [-- --only upload,trickle,flood,flood-unthrottled]`:
 * what hostile or broken clients cost an API process. On a database of its
 * own under `.bench/edge` (a company, two users, one file to download), with
 * API processes started as `care-reports api`:
 *
 *   upload             resident memory of the API while 64 clients each send
 *                      a 16 MB ingest body with no credentials;
 *   trickle            of 100 connections sending an authorized ingest body
 *                      one byte every 5 s, how many are still open after 60 s;
 *   flood              latency of a signed-link download (8 MB) and of a
 *                      status poll while 32 clients send wrong passwords, with
 *                      the login throttle as configured by default;
 *   flood-unthrottled  the same with the throttle's limits raised out of
 *                      reach, as when the guesses come from many addresses
 *                      for many users: only the bound on password checks
 *                      running at once then protects the rest.
 *
 * The flood comes from 127.0.0.2 and the measured client from 127.0.0.1, so
 * that a throttled flood does not throttle the measured client. Figures are
 * printed and written to bench-results/edge-<time>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createCompany, createUser, findCompanyByKey, grant } from '../src/accounts/accounts.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { freePort } from '../src/db/embedded.ts';
import { loadSecret } from '../src/db/secrets.ts';
import { UrlSigner } from '../src/storage/signed-url.ts';
import { RawConnection, timedGet } from '../test/helpers/raw-http.ts';
import { writeBenchResults } from './bench-results.ts';

const PARTS = ['upload', 'trickle', 'flood', 'flood-unthrottled'];
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: PARTS.join(',') },
    'data-dir': { type: 'string', default: '.bench/edge' },
    uploads: { type: 'string', default: '64' },
    'upload-mb': { type: 'string', default: '16' },
    trickles: { type: 'string', default: '100' },
    'trickle-seconds': { type: 'string', default: '60' },
    'flood-clients': { type: 'string', default: '32' },
    samples: { type: 'string', default: '5' },
  },
});
const only = new Set(args.only.split(',').map((p) => p.trim()));
for (const p of only) if (!PARTS.includes(p)) throw new Error(`--only takes ${PARTS.join(', ')}, not ${p}`);
const root = path.resolve(import.meta.dirname, '..');
const benchDir = path.resolve(root, args['data-dir']);
const PASSWORD = 'bench-password-1';
const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = loadConfig({ DATA_DIR: path.join(benchDir, 'data'), EMBEDDED_PG_PORT: '54349', DEMO_DATA: 'false', LOG_LEVEL: 'warn' });
const db = await openDatabase(config, { startEmbedded: true, log: () => {} });
const children: ChildProcess[] = [];
const results: Record<string, unknown> = { date: new Date().toISOString() };

try {
  if (!(await findCompanyByKey(db.pool, 'edge'))) {
    await createCompany(db.pool, { key: 'edge', name: 'Edge' });
    for (const user of ['edge', 'victim']) await createUser(db.pool, { companyKey: 'edge', username: user, password: PASSWORD });
    await grant(db.pool, 'edge', 'ANALYTICS_REPORTS_API');
    await grant(db.pool, 'edge', 'INGEST');
  }
  const filesDir = path.join(benchDir, 'files');
  // A file to download behind a signed link, as a completed run's would be.
  const fileKey = 'bench/edge.csv';
  await fsp.mkdir(path.join(filesDir, 'exports', 'bench'), { recursive: true });
  await fsp.writeFile(path.join(filesDir, 'exports', fileKey), Buffer.alloc(8 * 1024 * 1024, 'a,b,c\n'));
  const link = new UrlSigner(await loadSecret(db.pool, 'signed-url')).sign(fileKey, Date.now() + 3600_000);

  /** An API process (`care-reports api`) on this database; resolves once it is ready. */
  const startApi = async (extraEnv: Record<string, string> = {}) => {
    const port = await freePort();
    const env = { ...process.env, DATABASE_URL: db.url, DATABASE_OWNER_URL: db.ownerUrl, DATA_DIR: filesDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...extraEnv };
    const child = spawn(process.execPath, ['src/cli/main.ts', 'api'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        if (out.length < 100_000) out += d.toString();
        if (out.includes('"msg":"ready"')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`api exited with ${code}`)));
    });
    return { child, port, stop: () => stopChild(child) };
  };

  if (only.has('upload')) results['upload'] = await benchUpload(await startApi());
  if (only.has('trickle')) results['trickle'] = await benchTrickle(await startApi());
  if (only.has('flood')) results['flood'] = await benchFlood(await startApi(), link);
  if (only.has('flood-unthrottled')) {
    results['floodUnthrottled'] = await benchFlood(await startApi({ LOGIN_FAILURES_PER_USER: '1000000000', LOGIN_FAILURES_PER_ADDRESS: '1000000000' }), link);
  }
  say(JSON.stringify(results, null, 2));
  say(`\nwritten to ${await writeBenchResults('edge-', results)}`);
} finally {
  await Promise.all(children.map(stopChild));
  await db.close();
}
process.exit(0);

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  c.kill('SIGTERM');
  return new Promise((r) => c.once('exit', () => r()));
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
}

/** 64 unauthenticated 16 MB ingest uploads at once: the API's resident memory before, at its peak and after. */
async function benchUpload(api: { child: ChildProcess; port: number; stop: () => Promise<void> }) {
  const pid = api.child.pid!;
  const n = Number(args.uploads);
  const bytes = Number(args['upload-mb']) * 1024 * 1024;
  const body = Buffer.alloc(bytes, '{"x":1}\n');
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const before = rssMb(pid, 'VmRSS');
  const t0 = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<string>((resolve) => {
        const req = http.request({
          host: '127.0.0.1',
          port: api.port,
          method: 'POST',
          path: '/api/v2/ingest/conversations',
          agent: false,
          headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': bytes },
        });
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
          res.on('error', () => resolve(String(res.statusCode)));
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          if (!answered) resolve(e.code ?? 'error');
        });
        // 1 MB at a time, as a client streaming a file would.
        const write = (offset: number): void => {
          if (answered || offset >= bytes) {
            req.end();
            return;
          }
          if (req.write(body.subarray(offset, offset + 1024 * 1024))) setImmediate(write, offset + 1024 * 1024);
          else req.once('drain', () => write(offset + 1024 * 1024));
        };
        write(0);
      }),
    ),
  );
  const ms = performance.now() - t0;
  const peak = rssMb(pid, 'VmHWM');
  const statuses: Record<string, number> = {};
  for (const o of outcomes) statuses[o] = (statuses[o] ?? 0) + 1;
  await sleep(1000);
  const after = rssMb(pid, 'VmRSS');
  await api.stop();
  const r = { uploads: n, mbEach: bytes / 1048576, ms: Math.round(ms), rssBeforeMb: Math.round(before), rssPeakMb: Math.round(peak), rssAfterMb: Math.round(after), statuses };
  say(`upload: ${JSON.stringify(r)}`);
  return r;
}

/** 100 authorized ingest bodies sent one byte every 5 s: connections still open after 60 s, and what the closed ones were told. */
async function benchTrickle(api: { port: number; stop: () => Promise<void> }) {
  const n = Number(args.trickles);
  const seconds = Number(args['trickle-seconds']);
  const auth = basicAuth('edge', PASSWORD);
  const connections = Array.from({ length: n }, () => {
    const c = new RawConnection(api.port);
    c.write(`POST /api/v2/ingest/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n`);
    const timer = setInterval(() => c.write('{'), 5000);
    c.socket.on('close', () => clearInterval(timer));
    return { c, timer };
  });
  await sleep(seconds * 1000);
  const open = connections.filter((x) => !x.c.closed).length;
  const statuses: Record<string, number> = {};
  for (const { c, timer } of connections) {
    const status = c.response()?.status ?? (c.closed ? 'closed without answer' : 'none yet');
    statuses[status] = (statuses[status] ?? 0) + 1;
    clearInterval(timer);
    c.destroy();
  }
  await api.stop();
  const r = { connections: n, seconds, stillOpen: open, statuses };
  say(`trickle: ${JSON.stringify(r)}`);
  return r;
}

/** Download and status latencies alone, then while 32 clients send wrong passwords. */
async function benchFlood(api: { port: number; stop: () => Promise<void> }, link: string) {
  const base = `http://127.0.0.1:${api.port}`;
  const auth = basicAuth('edge', PASSWORD);
  const agent = new http.Agent({ keepAlive: true, localAddress: '127.0.0.1' });
  const get = (url: string, headers: Record<string, string> = {}, a: http.Agent = agent) => timedGet(url, headers, a, 600_000);
  // A run to poll: it stays queued (no worker runs here), which is all a status call needs.
  const created = await get(`${base}/api/public/reports/report/conversation?companyKey=edge&startTime=1551441600000&endTime=1551528000000`, { Authorization: auth });
  if (created.status !== 200) throw new Error(`create answered ${created.status}: ${created.body}`);
  const statusUrl = (JSON.parse(created.body) as { result: { statusUrl: string } }).result.statusUrl;
  const samples = Number(args.samples);
  const measure = async () => {
    const downloads: number[] = [];
    const polls: number[] = [];
    for (let i = 0; i < samples; i++) {
      const file = await get(`${base}${link}`);
      if (file.status !== 200 || file.bytes !== 8 * 1024 * 1024) throw new Error(`download answered ${file.status} with ${file.bytes} bytes`);
      downloads.push(Math.round(file.ms));
      const polled = await get(statusUrl, { Authorization: auth });
      if (polled.status !== 200) throw new Error(`status answered ${polled.status}: ${polled.body}`);
      polls.push(Math.round(polled.ms));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { downloadMs: downloads, downloadMedianMs: median(downloads), statusMs: polls, statusMedianMs: median(polls) };
  };
  const quiet = await measure();

  const clients = Number(args['flood-clients']);
  const floodAgent = new http.Agent({ keepAlive: true, localAddress: '127.0.0.2', maxSockets: clients });
  const answered: Record<string, number> = {};
  let flooding = true;
  let guesses = 0;
  const flood = Array.from({ length: clients }, async () => {
    while (flooding) {
      const r = await get(`${base}/api/public/teams?companyKey=edge`, { Authorization: basicAuth('victim', `wrong-${guesses++}`) }, floodAgent).catch(
        (e: NodeJS.ErrnoException) => ({ status: e.code ?? 'error' }),
      );
      answered[r.status] = (answered[r.status] ?? 0) + 1;
    }
  });
  await sleep(2000);
  const t0 = performance.now();
  const underFlood = await measure();
  const floodSeconds = (performance.now() - t0) / 1000 + 2;
  flooding = false;
  await Promise.all(flood);
  agent.destroy();
  floodAgent.destroy();
  await api.stop();
  const r = { clients, samples, quiet, underFlood, floodSeconds: Math.round(floodSeconds), wrongPasswordAnswers: answered };
  say(`flood: ${JSON.stringify(r)}`);
  return r;
}
