/** The admin and seed commands (as subprocesses), the directory endpoints, and configuration checks. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loadConfig, ConfigError } from '../src/config.ts';
import { renderExportsMarkdown } from '../src/exports/catalog/describe.ts';
import { EXPORTS } from '../src/exports/catalog/index.ts';
import { offsetAt } from '../src/exports/zones.ts';
import { careReportsOk } from './helpers/cli.ts';
import { basic, getJson, startTestService } from './helpers/service.ts';

const svc = await startTestService();
const cli = (args: string[], env: Record<string, string> = {}) => careReportsOk(args, { DATABASE_URL: svc.config.databaseUrl!, DATA_DIR: svc.dataDir, ...env });

describe('admin commands', () => {
  it('create a company and a user, grant and revoke the permission', async () => {
    assert.match((await cli(['admin', 'create-company', 'globex', '--timezone', 'Europe/Paris'])).stdout, /created company globex/);
    await cli(['admin', 'create-user', 'hank', '--company', 'globex'], { CARE_REPORTS_PASSWORD: 'hank-password-1' });
    const hank = basic('hank', 'hank-password-1');
    assert.equal((await getJson(`${svc.base}/api/public/teams?companyKey=globex`, hank)).status, 403, 'no permission yet');
    await cli(['admin', 'grant', 'hank']);
    // The API hears of the grant a few milliseconds after it commits (see auth-cache.test.ts).
    let teams = await getJson(`${svc.base}/api/public/teams?companyKey=globex`, hank);
    for (const deadline = Date.now() + 2000; teams.status !== 200 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
      teams = await getJson(`${svc.base}/api/public/teams?companyKey=globex`, hank);
    }
    assert.equal(teams.status, 200);
    assert.deepEqual(teams.body.result, [], 'a new company has no teams');
    await cli(['admin', 'revoke', 'hank']);
    const perms = await svc.pool.query(`SELECT p.permission FROM user_permissions p JOIN api_users u ON u.id = p.user_id WHERE u.username = 'hank'`);
    assert.equal(perms.rowCount, 0);
    const stored = await svc.pool.query<{ password_hash: string }>(`SELECT password_hash FROM api_users WHERE username = 'hank'`);
    assert.match(stored.rows[0]!.password_hash, /^scrypt\$/);
    assert.ok(!stored.rows[0]!.password_hash.includes('hank-password-1'));
  });

  it('set-timezone changes the zone of a company; an unknown zone or company is exit 2', async () => {
    await cli(['admin', 'create-company', 'initech']);
    assert.match((await cli(['admin', 'set-timezone', 'initech', 'America/New_York'])).stdout, /company initech now uses America\/New_York/);
    const zone = await svc.pool.query<{ timezone: string }>(`SELECT timezone FROM companies WHERE key = 'initech'`);
    assert.equal(zone.rows[0]!.timezone, 'America/New_York');
    await assert.rejects(cli(['admin', 'set-timezone', 'initech', 'Mars/Olympus']), (e: { code: number; stderr: string }) => e.code === 2 && /'Mars\/Olympus' is not a time zone/.test(e.stderr));
    await assert.rejects(cli(['admin', 'set-timezone', 'nosuch', 'UTC']), (e: { code: number; stderr: string }) => e.code === 2 && /company nosuch does not exist/.test(e.stderr));
  });

  it('refuses a duplicate company and a missing password with exit code 2 and a clear message', async () => {
    await assert.rejects(cli(['admin', 'create-company', 'demo']), (e: { code: number; stderr: string }) => e.code === 2 && /company demo already exists/.test(e.stderr));
    await assert.rejects(cli(['admin', 'create-user', 'x', '--company', 'demo']), (e: { code: number; stderr: string }) => e.code === 2 && /give a password/.test(e.stderr));
  });
});

describe('seed command', () => {
  const snapshot = async (key: string) =>
    (
      await svc.pool.query<{ h: string; n: number }>(
        `SELECT md5(string_agg(concat_ws('|', conversation_id, network, status, priority, c.created_at, c.closed_at, c.tags::text), ',' ORDER BY conversation_id)) AS h,
                count(*)::int AS n
           FROM conversations c JOIN companies co ON co.id = c.company_id WHERE co.key = $1`,
        [key],
      )
    ).rows[0]!;

  it('the same seed gives the same data; another seed other data', async () => {
    await cli(['seed', '--company', 's1', '--conversations', '120', '--seed', '3']);
    await cli(['seed', '--company', 's2', '--conversations', '120', '--seed', '3']);
    await cli(['seed', '--company', 's3', '--conversations', '120', '--seed', '4']);
    const [a, b, c] = await Promise.all([snapshot('s1'), snapshot('s2'), snapshot('s3')]);
    assert.equal(a.n, 120);
    assert.equal(a.h, b.h);
    assert.notEqual(a.h, c.h);
    const posts = await svc.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM posts p JOIN companies co ON co.id = p.company_id WHERE co.key = 's1'`);
    assert.ok(posts.rows[0]!.n >= 120);
  });

  it('demo texts carry commas, quotes, newlines, non-ASCII and emoji', async () => {
    const r = await svc.pool.query<Record<string, boolean>>(
      `SELECT bool_or(content LIKE '%,%') AS comma, bool_or(content LIKE '%"%') AS quote, bool_or(content LIKE E'%\\n%') AS newline,
              bool_or(content ~ '[éüöçğı]') AS accents, bool_or(content ~ '[😀-🙏]') AS emoji
         FROM posts p JOIN companies co ON co.id = p.company_id WHERE co.key = 'demo'`,
    );
    assert.deepEqual(r.rows[0], { comma: true, quote: true, newline: true, accents: true, emoji: true });
  });
});

describe('directory endpoints', () => {
  const h = basic('demo');
  it('/config/timezones lists IANA zones with their current offsets, names per locale', async () => {
    const en = await getJson(`${svc.base}/api/public/config/timezones?companyKey=demo&locale=en`, h);
    assert.equal(en.status, 200);
    const zones = en.body.result as { id: string; name: string; shortName: string; offsetString: string; offsetMillis: number }[];
    assert.ok(zones.length > 300);
    const chicago = zones.find((z) => z.id === 'America/Chicago')!;
    assert.equal(chicago.offsetMillis, offsetAt('America/Chicago', new Date()));
    assert.match(chicago.offsetString, /^-0[56]:00$/);
    assert.match(chicago.name, /Central/);
    for (let i = 1; i < zones.length; i++) assert.ok(zones[i - 1]!.offsetMillis <= zones[i]!.offsetMillis, 'ordered by offset');
    const de = await getJson(`${svc.base}/api/public/config/timezones?companyKey=demo&locale=de`, h);
    assert.match((de.body.result as { id: string; name: string }[]).find((z) => z.id === 'America/Chicago')!.name, /^Nordamerikanische /);
  });
  it('/teams lists the company\'s teams with member counts', async () => {
    const r = await getJson(`${svc.base}/api/public/teams?companyKey=demo`, h);
    assert.equal(r.status, 200);
    const want = await svc.pool.query(
      `SELECT t.team_id::int AS "teamId", t.name, (SELECT count(*)::int FROM team_members m WHERE m.company_id = t.company_id AND m.team_id = t.team_id) AS "numberOfMembers"
         FROM teams t JOIN companies co ON co.id = t.company_id WHERE co.key = 'demo' ORDER BY t.team_id`,
    );
    assert.deepEqual((r.body.result as { teamId: number; name: string; numberOfMembers: number }[]).map(({ teamId, name, numberOfMembers }) => ({ teamId, name, numberOfMembers })), want.rows);
    assert.equal((await getJson(`${svc.base}/api/public/teams?companyKey=acme`, h)).status, 403);
  });
});

describe('discovery', () => {
  it('lists every export of the catalog with its columns and parameters', async () => {
    const all = await getJson(`${svc.base}/api/public/reports/exports`, basic('demo'));
    assert.equal(all.status, 200);
    const listed = all.body.result as { exportId: string; path: string; columns: { name: string; type: string; description: string }[]; parameters: { name: string }[] }[];
    assert.deepEqual(listed.map((e) => e.exportId), EXPORTS.map((e) => e.id));
    assert.equal(listed.length, 14);
    for (const def of EXPORTS) {
      const e = listed.find((x) => x.exportId === def.id)!;
      assert.equal(e.path, `/api/public/reports/report/${def.section === 'marketing' ? 'marketing/' : ''}${def.id}`);
      assert.deepEqual(e.columns, def.columns.map((c) => ({ name: c.name, type: c.type, description: c.description })));
      assert.deepEqual(e.parameters.map((p) => p.name), ['startTime', 'endTime', 'reportFormat', 'csvEscapeFormulas', 'locale', 'timezone', 'timezoneOffset', 'reportMetrics', ...def.parameters]);
      const one = await getJson(`${svc.base}/api/public/reports/exports/${def.section === 'marketing' ? 'marketing/' : ''}${def.id}`, basic('demo'));
      assert.deepEqual(one.body.result, e);
    }
    const conv = listed.find((e) => e.exportId === 'conversation')!;
    assert.deepEqual(conv.columns.map((c) => c.name).slice(0, 4), ['CONVERSATION_ID', 'CONVERSATION_DISPLAY_ID', 'NETWORK', 'STATUS']);
    const user = listed.find((e) => e.exportId === 'user')!;
    assert.deepEqual(user.columns.filter((c) => c.name.startsWith('TOTAL_')).map((c) => c.name), [
      'TOTAL_CONSOLE_LOGGED_IN_TIME_MILLIS', 'TOTAL_GREEN_STATE_TIME_MILLIS', 'TOTAL_YELLOW_STATE_TIME_MILLIS', 'TOTAL_RED_STATE_TIME_MILLIS', 'TOTAL_MOBILE_TIME_MILLIS',
    ]);
    const missing = await getJson(`${svc.base}/api/public/reports/exports/nope`, basic('demo'));
    assert.equal(missing.status, 404);
    assert.equal((await getJson(`${svc.base}/api/public/reports/exports`)).status, 401);
  });

  it('docs/exports.md is generated from the catalog and up to date (npm run docs)', async () => {
    const docs = await fs.readFile(new URL('../docs/exports.md', import.meta.url), 'utf8');
    assert.equal(docs, renderExportsMarkdown(), 'docs/exports.md is stale: run npm run docs');
    for (const def of EXPORTS) {
      assert.ok(docs.includes(`## ${def.id}\n`), `a section for ${def.id}`);
      for (const c of def.columns) assert.ok(docs.includes(`| \`${c.name}\` |`), `${def.id}.${c.name} is documented`);
    }
  });
});

describe('configuration', () => {
  it('is validated once, naming every bad variable', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x/y' }), (e: Error) => e instanceof ConfigError && /PORT/.test(e.message) && /DATABASE_URL/.test(e.message));
    const c = loadConfig({ PORT: '9000' });
    assert.equal(c.publicUrl, 'http://localhost:9000');
    assert.equal(c.databaseUrl, undefined);
    assert.ok(Object.isFrozen(c));
  });

  it("an export's work_mem: 64 MB unless EXPORT_WORK_MEM_MB says otherwise, whole megabytes from 1 to 2047 (PostgreSQL's most on every platform)", () => {
    assert.equal(loadConfig({}).exportWorkMemMb, 64);
    assert.equal(loadConfig({ EXPORT_WORK_MEM_MB: '16' }).exportWorkMemMb, 16);
    assert.equal(loadConfig({ EXPORT_WORK_MEM_MB: '2047' }).exportWorkMemMb, 2047);
    for (const bad of ['0', '2048', '1.5', '64MB']) {
      assert.throws(() => loadConfig({ EXPORT_WORK_MEM_MB: bad }), (e: Error) => e instanceof ConfigError && /EXPORT_WORK_MEM_MB/.test(e.message), bad);
    }
  });

  it('object storage: the bucket and prefix from STORAGE_URL, the region from S3_REGION or the SDK’s variables, links of at most 7 days', () => {
    assert.deepEqual(loadConfig({}).storage, { kind: 'local' });
    assert.deepEqual(loadConfig({ STORAGE_URL: 's3://care-exports/a/b/', S3_ENDPOINT: 'http://minio:9000', S3_FORCE_PATH_STYLE: 'true' }).storage, {
      kind: 's3', bucket: 'care-exports', prefix: 'a/b', endpoint: 'http://minio:9000', region: 'us-east-1', forcePathStyle: true,
    });
    const region = (env: Record<string, string>) => (loadConfig({ STORAGE_URL: 's3://care-exports', ...env }).storage as { region: string }).region;
    assert.equal(region({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-west-2' }), 'eu-west-1');
    assert.equal(region({ AWS_DEFAULT_REGION: 'us-west-2' }), 'us-west-2');
    assert.equal(region({ S3_REGION: 'ap-south-1', AWS_REGION: 'eu-west-1' }), 'ap-south-1');
    for (const bad of ['gs://x', 's3://UPPER', 's3://ab', 's3://']) {
      assert.throws(() => loadConfig({ STORAGE_URL: bad }), /STORAGE_URL: must be s3:\/\/BUCKET/, bad);
    }
    assert.throws(() => loadConfig({ STORAGE_URL: 's3://care-exports', DOWNLOAD_URL_TTL_SECONDS: '604801' }), /DOWNLOAD_URL_TTL_SECONDS: must be at most 604800/);
    assert.equal(loadConfig({ DOWNLOAD_URL_TTL_SECONDS: '604801' }).downloadUrlTtlSeconds, 604801, 'local links have no such limit');
  });
});
