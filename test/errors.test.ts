/** The error catalog: its generated page, and the code a caller gets while the database is down. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PgBoss } from 'pg-boss';
import { buildServer } from '../src/api/server.ts';
import { loadConfig } from '../src/config.ts';
import { createPool } from '../src/db/database.ts';
import { freePort } from '../src/db/embedded.ts';
import { ERROR_CODES, EXIT_CODES, renderErrorsMarkdown } from '../src/errors.ts';
import { ZoneCatalog } from '../src/exports/zones.ts';
import { createLogger } from '../src/log.ts';
import { AccessTokens } from '../src/runs/access-token.ts';
import { FileStore } from '../src/storage/file-store.ts';
import { UrlSigner } from '../src/storage/signed-url.ts';
import { basic } from './helpers/service.ts';

describe('the error catalog', () => {
  it('docs/errors.md is generated from it and up to date (npm run docs)', async () => {
    const docs = await fs.readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
    assert.equal(docs, renderErrorsMarkdown(), 'docs/errors.md is stale: run npm run docs');
    for (const [code, e] of Object.entries(ERROR_CODES)) assert.ok(docs.includes(`| \`${code}\` | ${e.status} |`), `${code} is documented`);
    for (const e of Object.values(EXIT_CODES)) assert.ok(docs.includes(`| ${e.code} |`), `exit code ${e.code} is documented`);
  });

  it('a database that cannot be reached answers 503 UNAVAILABLE, not an internal error', async () => {
    // Nothing listens on a port just found free: every connection is refused.
    const url = `postgres://care:care@127.0.0.1:${await freePort()}/care`;
    const pool = createPool(url);
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-errors-'));
    const app = buildServer({
      pool,
      boss: new PgBoss(url),
      store: new FileStore(dataDir, { publicUrl: 'http://localhost', signer: new UrlSigner(Buffer.alloc(32)) }),
      zones: new ZoneCatalog(['UTC']),
      tokens: new AccessTokens(Buffer.alloc(32), 60),
      log: createLogger('silent'),
      publicUrl: 'http://localhost',
      downloadUrlTtlSeconds: 60,
      limits: { createRatePerMinute: 10, maxRangeDays: 31, maxExportRows: 1000, companyConcurrency: 1 },
      http: loadConfig({}).http,
      logins: loadConfig({}).logins,
      notReady: () => Promise.resolve('database unreachable'),
    });
    try {
      const r = await app.inject({ method: 'GET', url: '/api/public/reports/runs?companyKey=demo', headers: basic('demo') });
      assert.equal(r.statusCode, 503, r.body);
      const body = r.json<{ status: string; code: string; message: string }>();
      assert.equal(body.status, 'FAIL');
      assert.equal(body.code, 'UNAVAILABLE');
      assert.match(body.message, /cannot reach its database .*try again/);
    } finally {
      await app.close();
      await pool.end();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
