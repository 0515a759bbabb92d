/**
 * No log line carries a secret: a request that fails logs its URL with the
 * file link's signature and the analyticsAccessToken replaced, and neither
 * the Authorization header nor a password reaches the log, wherever it sits.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { PgBoss } from 'pg-boss';
import { buildServer } from '../src/api/server.ts';
import { loadConfig } from '../src/config.ts';
import { ZoneCatalog } from '../src/exports/zones.ts';
import { createLogger } from '../src/log.ts';
import { AccessTokens } from '../src/runs/access-token.ts';
import { FileStore } from '../src/storage/file-store.ts';
import { UrlSigner } from '../src/storage/signed-url.ts';
import { basic } from './helpers/service.ts';

const TOKEN = 'tok3nS3cret%2Bvalue';
const SIGNATURE = 'S1gnatureSecret_abcdefghijklmnopqrstuvwxyz012';
const PASSWORD = 'Passw0rd-secret-1';

/** A logger whose lines land in `lines`. */
function capture() {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger('info', 'care-reports', out) };
}

function assertNoSecret(lines: readonly string[]): void {
  const all = lines.join('\n');
  const auth = basic('demo', PASSWORD)['Authorization']!;
  for (const secret of [TOKEN, SIGNATURE, PASSWORD, auth.slice('Basic '.length)]) assert.ok(!all.includes(secret), `a log line holds ${secret}:\n${all}`);
}

describe('secrets never reach the log', () => {
  it('a request that fails with 500 logs its URL without the token and the signature, and nothing of the credentials', async () => {
    const { lines, log } = capture();
    const url = `/api/public/reports/report/00000000-0000-0000-0000-000000000000/run/status?analyticsAccessToken=${TOKEN}&signature=${SIGNATURE}&companyKey=demo`;
    // A database that fails unexpectedly, with an error that repeats what it was given, as drivers' errors do.
    const failing = (): Promise<never> => Promise.reject(new Error(`unexpected failure serving ${url} for ${basic('demo', PASSWORD)['Authorization']}`));
    const pool = { query: failing, connect: failing } as unknown as pg.Pool;
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-redaction-'));
    const defaults = loadConfig({});
    const app = buildServer({
      pool,
      boss: new PgBoss('postgres://care@127.0.0.1:1/care'),
      store: new FileStore(dataDir, { publicUrl: 'http://localhost', signer: new UrlSigner(Buffer.alloc(32)) }),
      zones: new ZoneCatalog(['UTC']),
      tokens: new AccessTokens(Buffer.alloc(32), 60),
      log,
      publicUrl: 'http://localhost',
      downloadUrlTtlSeconds: 60,
      limits: { createRatePerMinute: 10, maxRangeDays: 31, maxExportRows: 1000, companyConcurrency: 1 },
      http: defaults.http,
      logins: defaults.logins,
      notReady: () => Promise.resolve(null),
    });
    try {
      const r = await app.inject({ method: 'GET', url, headers: basic('demo', PASSWORD) });
      assert.equal(r.statusCode, 500, r.body);
      const failed = lines.find((l) => l.includes('"msg":"request failed"'));
      assert.ok(failed, `a line for the failure:\n${lines.join('\n')}`);
      assert.match(failed, /analyticsAccessToken=\[REDACTED\]&signature=\[REDACTED\]&companyKey=demo/, 'the URL is kept, its secrets replaced');
      assertNoSecret(lines);
    } finally {
      await app.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  it('credentials in fields, headers, messages and connection strings are replaced, at any depth', () => {
    const { lines, log } = capture();
    const child = log.child({ part: 'api' });
    child.info({ req: { headers: { authorization: basic('demo', PASSWORD)['Authorization'], Cookie: 'sid=1' } } }, 'headers');
    child.warn({ input: { user: { password: PASSWORD } } }, 'nested');
    child.error({ err: new Error(`connect to postgres://care:${PASSWORD}@db:5432/care failed`) }, `file link /files/a.csv?expires=1&signature=${SIGNATURE}`);
    child.info(`status link ?analyticsAccessToken=${TOKEN}`);
    assert.equal(lines.length, 4);
    assertNoSecret(lines);
    assert.match(lines[0]!, /"authorization":"\[REDACTED\]"/);
    assert.match(lines[2]!, /postgres:\/\/care:\[REDACTED\]@db:5432/);
  });
});
