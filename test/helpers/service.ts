/**
 * The real service (API and worker) on a test database. By default its API is
 * driven in-process: `fetch` below hands requests for its base URL to
 * Fastify's `inject()`, which runs the same routing, hooks, parsers and error
 * handling without a socket. `{ listen: true }` binds a real port, for
 * clients in other processes and for what only a socket shows.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { loadConfig, type Config } from '../../src/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { freePort } from '../../src/db/embedded.ts';
import type { RecordError } from '../../src/ingest/rejection.ts';
import { createLogger } from '../../src/log.ts';
import { poolSizeFor, startService, type ServiceOptions } from '../../src/service.ts';
import { PASSWORD } from './cluster.ts';
import { testDatabase } from './db.ts';

export interface TestService {
  readonly base: string;
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly config: Config;
  readonly dataDir: string;
  /** Stops the service (also done after the file's tests); resolves when it has stopped. */
  stop(): Promise<void>;
}

export interface TestServiceOptions extends Partial<ServiceOptions> {
  /** An existing test database to serve (default: a fresh clone of the template). */
  readonly databaseUrl?: string;
}

/** API origins served in-process, by base URL. */
const inProcess = new Map<string, FastifyInstance>();

export async function startTestService(env: Record<string, string> = {}, opts: TestServiceOptions = {}): Promise<TestService> {
  const url = opts.databaseUrl ?? (await testDatabase());
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-svc-'));
  const port = await freePort();
  // Test files create hundreds of runs a minute as one user; the rate limit has its own test.
  // 127.0.0.1, not localhost: a name that also means ::1 could reach another process that took the port there.
  const config = loadConfig({
    DATABASE_URL: url, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`,
    // Every export of more than one row is copied in slices, so that every export test checks them against its oracle.
    LOG_LEVEL: 'silent', CREATE_RATE_PER_MINUTE: '100000', EXPORT_SLICES: '3', EXPORT_SLICE_MIN_ROWS: '2', ...env,
  });
  const worker = opts.worker ?? true;
  const db = await openDatabase(config, { startEmbedded: false, poolSize: poolSizeFor(config, { worker }), log: () => {} });
  const listen = opts.listen ?? false;
  const service = await startService(config, db, createLogger(process.env['CARE_TEST_LOG'] ?? 'silent'), {
    api: opts.api ?? true,
    worker,
    listen,
  });
  if (service.app && !listen) inProcess.set(config.publicUrl, service.app);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      inProcess.delete(config.publicUrl);
      await service.stop();
      await db.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    })());
  after(stop);
  return { base: config.publicUrl, pool: db.pool, boss: service.boss, config, dataDir, stop };
}

/**
 * `fetch`, except that a URL of a service started in-process goes to its
 * `inject()`; redirects are followed as fetch follows them unless
 * `redirect: 'manual'`.
 */
export async function fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const url = new URL(String(input));
  const app = inProcess.get(url.origin);
  if (!app) return globalThis.fetch(input, init);
  const headers = Object.fromEntries(new Headers(init.headers).entries());
  const body = init.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new Error('the in-process fetch takes a string or bytes as the body');
  }
  const res = await app.inject({ method: (init.method ?? 'GET') as 'GET', url: url.pathname + url.search, headers, ...(body ? { payload: body } : {}) });
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) out.append(k, String(one));
  }
  const location = out.get('location');
  if (location && res.statusCode >= 300 && res.statusCode < 400 && init.redirect !== 'manual') {
    // As fetch does: follow with a GET, carrying no body.
    return fetch(new URL(location, url), { headers: init.headers ?? {}, redirect: init.redirect ?? 'follow' });
  }
  const empty = res.statusCode === 204 || res.statusCode === 304 || init.method === 'HEAD';
  return new Response(empty ? null : res.rawPayload, { status: res.statusCode, headers: out });
}

export function basic(user: string, password = PASSWORD): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export interface Envelope {
  status: string;
  request: null;
  message: string | null;
  result: any;  
  code?: string;
  errors?: RecordError[];
}

export async function getJson(url: string, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<{ status: number; body: Envelope; headers: Headers }> {
  const res = await fetch(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  // A redirect has no body: its status is what a caller polling with `answering` looks at.
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as Envelope, headers: res.headers };
}

/**
 * The answer of `call` once it is `status`, polled every `everyMs` and due
 * within `withinMs`: for a change the API hears of a few milliseconds after
 * its commit (a revoke, a run the sweep changed, which the API may still
 * hold in memory).
 */
export async function answering(
  status: number,
  call: () => ReturnType<typeof getJson>,
  { withinMs = 1000, everyMs = 5 }: { withinMs?: number; everyMs?: number } = {},
): ReturnType<typeof getJson> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const r = await call();
    if (r.status === status) return r;
    if (Date.now() > deadline) throw new Error(`still ${r.status}, not ${status}, after ${withinMs} ms: ${JSON.stringify(r.body)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls a statusUrl until the run is CLOSED; returns the last status result. */
export async function waitClosed(statusUrl: string, headers: Record<string, string>, timeoutMs = 60_000): Promise<Envelope> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await getJson(statusUrl, headers);
    if (status !== 200) throw new Error(`status call answered ${status}: ${JSON.stringify(body)}`);
    if (body.result.result.runnerState === 'CLOSED') return body;
    if (Date.now() > deadline) throw new Error(`run not closed after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Follows the download's 307 by hand, sending no credentials to the target; returns the file bytes. */
export async function download(downloadUrl: string, headers: Record<string, string>): Promise<{ location: string; body: Buffer; contentType: string | null }> {
  const first = await fetch(downloadUrl, { headers, redirect: 'manual' });
  if (first.status !== 307) throw new Error(`download answered ${first.status}: ${await first.text()}`);
  const location = first.headers.get('location') ?? '';
  const file = await fetch(location);
  if (file.status !== 200) throw new Error(`file link answered ${file.status}: ${await file.text()}`);
  return { location, body: Buffer.from(await file.arrayBuffer()), contentType: file.headers.get('content-type') };
}

/** Runs an export end to end; returns the file. */
export async function exportFile(svc: TestService, query: string, user = 'demo'): Promise<Buffer> {
  return (await exportDownload(svc, query, user)).body;
}

/** Runs an export end to end; returns what its download gave (the file, its link and type). */
export async function exportDownload(svc: TestService, query: string, user = 'demo'): ReturnType<typeof download> {
  const h = basic(user);
  const created = await getJson(`${svc.base}/api/public/reports/report/${query}`, h);
  if (created.status !== 200) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
  const closed = await waitClosed(created.body.result.statusUrl as string, h);
  if (closed.result.result.detail !== 'COMPLETED') throw new Error(`run closed as ${JSON.stringify(closed.result.result)}`);
  return download(closed.result.jobInfo.downloadUrl as string, h);
}

/**
 * Runs `check` over every case, 16 at a time, and returns what it reported:
 * the cases that answered wrong.
 */
export async function failuresOf<T>(cases: readonly T[], check: (c: T) => Promise<string | undefined>): Promise<string[]> {
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += 16) {
    for (const f of await Promise.all(cases.slice(i, i + 16).map(check))) if (f !== undefined) failures.push(f);
  }
  return failures;
}

/** A problem unless the answer is below 500 and, from 400 up, in the FAIL envelope. */
export async function envelopeProblem(method: string, url: string, init: RequestInit = {}): Promise<string | undefined> {
  const r = await fetch(url, { ...init, method, redirect: 'manual' });
  const text = await r.text();
  return r.status >= 500 || (r.status >= 400 && !text.includes('"status":"FAIL"')) ? `${method} ${url.slice(0, 140)}: ${r.status} ${text.slice(0, 160)}` : undefined;
}

