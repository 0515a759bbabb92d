/** The real service (API and worker) on a test database, listening on a free port. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type pg from 'pg';
import { loadConfig, type Config } from '../../src/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { freePort } from '../../src/db/embedded.ts';
import type { RecordError } from '../../src/ingest/rejection.ts';
import { createLogger } from '../../src/log.ts';
import { startService, type ServiceOptions } from '../../src/service.ts';
import { PASSWORD } from './cluster.ts';
import { testDatabase } from './db.ts';

export interface TestService {
  readonly base: string;
  readonly pool: pg.Pool;
  readonly config: Config;
  readonly dataDir: string;
}

export async function startTestService(env: Record<string, string> = {}, opts: ServiceOptions = { api: true, worker: true }): Promise<TestService> {
  const url = await testDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-svc-'));
  const port = await freePort();
  // Test files create hundreds of runs a minute as one user; the rate limit has its own test.
  const config = loadConfig({ DATABASE_URL: url, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'silent', CREATE_RATE_PER_MINUTE: '100000', ...env });
  const db = await openDatabase(config, { startEmbedded: false, log: () => {} });
  const service = await startService(config, db, createLogger(process.env['CARE_TEST_LOG'] ?? 'silent'), opts);
  after(async () => {
    await service.stop();
    await db.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { base: config.publicUrl, pool: db.pool, config, dataDir };
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
  return { status: res.status, body: JSON.parse(text) as Envelope, headers: res.headers };
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
  const h = basic(user);
  const created = await getJson(`${svc.base}/api/public/reports/report/${query}`, h);
  if (created.status !== 200) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
  const closed = await waitClosed(created.body.result.statusUrl as string, h);
  if (closed.result.result.detail !== 'COMPLETED') throw new Error(`run closed as ${JSON.stringify(closed.result.result)}`);
  return (await download(closed.result.jobInfo.downloadUrl as string, h)).body;
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

