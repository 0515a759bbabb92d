/**
 * The client: the `care-reports` command line against a running service
 * (in-process through runCli; the service commands as real processes), the
 * SDK's resume and Retry-After handling, and the quick start's own curl
 * commands giving the same bytes as the command line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { CareReportsClient } from '../packages/client/src/node.ts';
import type { ColumnType } from '../src/exports/catalog/types.ts';
import { careReports } from './helpers/cli.ts';
import { testBucket } from './helpers/s3.ts';
import { adminQuery, PASSWORD, uniqueName } from './helpers/cluster.ts';
import { emptyDatabase } from './helpers/db.ts';
import { exportFile, startTestService } from './helpers/service.ts';
import { sheetRows, wallTime } from './helpers/sheet.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const svc = await startTestService({}, { listen: true });
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-cli-'));
after(() => fs.rm(tmp, { recursive: true, force: true }));
const START = 1551441600000;
const END = 1556712000000;

const connection = { CARE_REPORTS_URL: svc.base, CARE_REPORTS_USER: 'demo', CARE_REPORTS_PASSWORD: PASSWORD, CARE_REPORTS_COMPANY: 'demo' };

/** Runs `care-reports …` in-process; resolves with the exit code and both outputs. */
const cli = (args: string[], env: Record<string, string> = {}) => careReports(args, { ...connection, ...env });

describe('care-reports export', () => {
  it('writes the file the API serves, to a file (CSV) and to standard output (JSON), with progress on stderr', async () => {
    const out = path.join(tmp, 'out.csv');
    const r = await cli(['export', 'conversation', '--from', String(START), '--to', String(END), '--locale', 'en_US', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const viaApi = await exportFile(svc, `conversation?companyKey=demo&startTime=${START}&endTime=${END}&reportFormat=csv&locale=en_US`);
    assert.ok((await fs.readFile(out)).equals(viaApi), 'the same bytes as the API gives');
    assert.ok(parse(viaApi.toString('utf8'), { columns: true }).length > 1000);
    assert.match(r.stderr, /conversation: 2019-03-01T12:00:00\.000Z → 2019-05-01T12:00:00\.000Z \(1551441600000 → 1556712000000\)/);
    assert.match(r.stderr, /completed: [\d,]+ rows/);
    assert.match(r.stderr, /downloaded [\d.]+ MB to/);

    const json = await cli(['export', 'team_performance_interval', '--from', '2019-03-10', '--to', '2019-03-11', '--timezone', 'America/Chicago',
      '--format', 'json', '--timeInterval', '3600000', '--teamIds', '6222', '--columns', 'INTERVAL_START,RESPONSES', '--quiet']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '', '--quiet prints nothing');
    const rows = JSON.parse(json.stdout) as { INTERVAL_START: string; RESPONSES: string }[];
    assert.equal(rows.length, 23, 'the local DST day, read in the zone given');
    assert.equal(rows[0]!.INTERVAL_START, '2019-03-10T00:00:00.000-06:00');
  });

  it('bad flags and bad credentials give clear messages and distinct exit codes', async () => {
    const base = ['export', 'conversation', '--from', '2019-03-01', '--to', '2019-03-02', '--quiet'];
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [[...base, '--bogus', '1'], {}, 2, /--bogus is not a parameter of conversation; it takes --conversationReportType, --priorities/],
      [['export', 'conversation', '--from', 'yesterday', '--to', '2019-03-02'], {}, 2, /--from 'yesterday' is not a date/],
      [['export', 'conversation', '--from', '2019-03-02', '--to', '2019-03-01'], {}, 2, /--from must be before --to/],
      [['export', 'conversation', '--from', '2019-02-30', '--to', '2019-03-01'], {}, 2, /is not a calendar date/],
      [['export', 'conversation', '--from', '1551441600', '--to', '1556712000000'], {}, 2, /--from 1551441600 is in seconds, not epoch milliseconds .*; give milliseconds: --from 1551441600000 for 2019-03-01T12:00:00\.000Z/],
      [['export', 'nope', '--from', '2019-03-01', '--to', '2019-03-02'], {}, 2, /there is no export 'nope'/],
      [[...base, '--priorities', '9'], {}, 2, /400: priorities: 9 is not a priority/],
      [[...base, '--format', 'xml'], {}, 2, /argument 'xml' is invalid/],
      [[...base, '--format', 'json', '--csv-escape-formulas'], {}, 2, /--csv-escape-formulas applies to csv files only, not json/],
      [base, { CARE_REPORTS_PASSWORD: 'wrong-password' }, 3, /401: wrong username or password/],
      [base, { CARE_REPORTS_USER: 'noperm' }, 3, /403/],
      [base, { CARE_REPORTS_USER: '' }, 2, /credentials missing/],
    ];
    for (const [args, env, code, message] of cases) {
      const r = await cli(args, env);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, new RegExp(PASSWORD), 'the password is never echoed');
    }
  });

  const range = ['--from', '2019-03-10', '--to', '2019-03-12', '--timezone', 'America/Chicago', '--quiet'];
  const query = `conversation?companyKey=demo&startTime=${Date.UTC(2019, 2, 10, 6)}&endTime=${Date.UTC(2019, 2, 12, 5)}&timezone=America/Chicago`;
  it('xlsx, the format named by the -o file, holds the rows the API gives', async () => {
    const out = path.join(tmp, 'out.xlsx');
    const r = await cli(['export', 'conversation', ...range, '--columns', 'CONVERSATION_ID,AUTHOR_HANDLE,CREATED_TIME,HANDLE_TIME_MILLIS', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse((await exportFile(svc, `${query}&reportFormat=json&reportMetrics=CONVERSATION_ID,AUTHOR_HANDLE,CREATED_TIME,HANDLE_TIME_MILLIS`)).toString('utf8')) as Record<string, string>[];
    assert.ok(json.length > 10);
    const types: Record<string, ColumnType> = { CONVERSATION_ID: 'id', AUTHOR_HANDLE: 'text', CREATED_TIME: 'timestamp', HANDLE_TIME_MILLIS: 'duration_ms' };
    assert.deepEqual(sheetRows(await fs.readFile(out), (c) => types[c]!), json.map((row) => ({ ...row, CREATED_TIME: wallTime(row['CREATED_TIME']!) })));
  });

  it("--csv-escape-formulas writes the CSV the API writes with csvEscapeFormulas=true", async () => {
    const csv = await cli(['export', 'conversation', ...range, '--csv-escape-formulas']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout, (await exportFile(svc, `${query}&reportFormat=csv&csvEscapeFormulas=true`)).toString('utf8'));
    assert.match(csv.stdout, /,'@\w+,/, "handles starting with @ have a leading '");
  });

  it('the quick start’s curl commands and the command line give byte-identical files', async () => {
    const seed = await fs.readFile(path.join(root, 'test', 'fixtures', 'quick-start-curl.txt'), 'utf8');
    const createPath = /https:\/\/analytics-api\.app\.lithium\.com(\/api\/public\/reports\/report\/conversation\?reportFormat=csv[^']*?endTime=\d{13})/.exec(seed)![1]!;
    const downloadPath = /https:\/\/analytics-api\.app\.lithium\.com(\/api\/public\/reports\/report\/\[workflowId\]\/\[runId\]\/download\?companyKey=\[COMPANY_KEY\])/.exec(seed)![1]!;
    const fill = (p: string) => svc.base + p.replace('[COMPANY_KEY]', 'demo');
    const user = `demo:${PASSWORD}`;
    const created = JSON.parse((await run('curl', ['-s', '-u', user, '-XGET', fill(createPath)])).stdout) as { result: { workflowId: string; runId: string; statusUrl: string } };
    for (;;) {
      const status = JSON.parse((await run('curl', ['-s', '-u', user, created.result.statusUrl])).stdout) as { result: { result: { detail: string } } };
      if (status.result.result.detail === 'COMPLETED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const curlFile = path.join(tmp, 'convoExport19March2020.csv');
    await run('curl', ['-s', '-L', '-u', user, fill(downloadPath).replace('[workflowId]', created.result.workflowId).replace('[runId]', encodeURIComponent(created.result.runId)), '-o', curlFile]);
    const cliFile = path.join(tmp, 'cli.csv');
    const r = await cli(['export', 'conversation', '--from', '2019-03-01T12:00:00Z', '--to', '2019-05-01T12:00:00Z', '--locale', 'en_US', '--format', 'csv', '-o', cliFile, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = [await fs.readFile(curlFile), await fs.readFile(cliFile)];
    assert.ok(a.length > 100_000);
    assert.ok(a.equals(b), 'byte-identical');
  });
});

describe('the SDK', () => {
  const opts = { baseUrl: svc.base, username: 'demo', password: PASSWORD };

  it('resumes a download cut in the middle with a Range request, and the file is whole', async () => {
    const expected = await exportFile(svc, `combined?companyKey=demo&startTime=${START}&endTime=${END}&reportFormat=json`);
    let cut = false;
    const ranges: string[] = [];
    const flaky: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const range = new Headers(init?.headers).get('range');
      if (range) ranges.push(range);
      const res = await fetch(input, init);
      if (!url.includes('/files/') || cut) return res;
      cut = true;
      // Deliver the first third of the file, then fail like a dropped connection.
      const reader = res.body!.getReader();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          const { value, done } = await reader.read();
          if (done || sent > expected.length / 3) {
            await reader.cancel();
            c.error(new Error('connection reset'));
            return;
          }
          sent += value.length;
          c.enqueue(value);
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const client = new CareReportsClient({ ...opts, fetch: flaky });
    const created = await client.createExport('combined', { companyKey: 'demo', startTime: START, endTime: END, reportFormat: 'json' });
    const done = await client.waitForRun(created.statusUrl);
    const file = path.join(tmp, 'resumed.json');
    const size = await client.download(done.downloadUrl, file, { expect: done });
    assert.ok(cut, 'the first transfer was cut');
    assert.equal(ranges.length, 1);
    assert.match(ranges[0]!, /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(ranges[0]!)![0]) > 0, 'resumed from where it stopped');
    assert.equal(size, expected.length);
    assert.ok((await fs.readFile(file)).equals(expected));
    await assert.rejects(fs.access(`${file}.part`), 'no partial file left behind');
  });

  it('waits out a 429 for its Retry-After, then succeeds', async () => {
    let limited = 0;
    const limiting: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && limited === 0) {
        limited++;
        return new Response(JSON.stringify({ status: 'FAIL', request: null, message: 'rate limited', result: null }), { status: 429, headers: { 'Retry-After': '1' } });
      }
      return fetch(input, init);
    };
    const client = new CareReportsClient({ ...opts, fetch: limiting });
    const t0 = Date.now();
    const created = await client.createExport('user', { companyKey: 'demo', startTime: START, endTime: END });
    assert.ok(Date.now() - t0 >= 1000, 'waited the Retry-After');
    assert.equal(limited, 1);
    const done = await client.waitForRun(created.statusUrl);
    assert.equal(done.detail, 'COMPLETED');
  });

  it('refuses times in seconds before sending anything, with the server’s message', async () => {
    const client = new CareReportsClient({ ...opts, fetch: () => Promise.reject(new Error('nothing should be sent')) });
    const inSeconds = (name: string, s: number) => (e: Error & { kind: string }) =>
      e.kind === 'bad-input' && e.message === `${name} ${s} is in seconds, not epoch milliseconds (as milliseconds it is ${new Date(s).toISOString()}); give milliseconds: ${name}=${s * 1000} for ${new Date(s * 1000).toISOString()}`;
    await assert.rejects(client.createExport('user', { companyKey: 'demo', startTime: START / 1000, endTime: END }), inSeconds('startTime', START / 1000));
    await assert.rejects(client.createExportRaw('user', { companyKey: 'demo', startTime: START, endTime: String(END / 1000) }), inSeconds('endTime', END / 1000));
    await assert.rejects(client.listRuns({ companyKey: 'demo', createdFrom: String(START / 1000) }), inSeconds('createdFrom', START / 1000));
    const server = await fetch(`${svc.base}/api/public/reports/report/user?companyKey=demo&startTime=${START / 1000}&endTime=${END}`, { headers: { Authorization: `Basic ${Buffer.from(`demo:${PASSWORD}`).toString('base64')}` } });
    assert.equal(((await server.json()) as { message: string }).message, `startTime ${START / 1000} is in seconds, not epoch milliseconds (as milliseconds it is ${new Date(START / 1000).toISOString()}); give milliseconds: startTime=${START} for ${new Date(START).toISOString()}`);
  });

  it('errors are typed and carry the server’s message', async () => {
    const client = new CareReportsClient({ ...opts, password: 'nope-nope' });
    await assert.rejects(client.createExport('user', { companyKey: 'demo', startTime: START, endTime: END }), { name: 'CareReportsError', kind: 'auth', status: 401 });
    const good = new CareReportsClient(opts);
    await assert.rejects(good.createExport('user', { companyKey: 'demo', startTime: END, endTime: START }), (e: Error & { kind: string }) => e.kind === 'bad-input' && /must be before endTime/.test(e.message));
  });
});

describe('the service commands, when what they need is not there', () => {
  it('a worker with no service to join, or an unreachable database, says so in one line with its exit code', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-none-'));
    try {
      const cases: [Record<string, string>, number, RegExp][] = [
        [{ DATA_DIR: empty, DATABASE_URL: '' }, 2, /^care-reports: no DATABASE_URL, and no service runs the embedded server under .*: start the service \(npm start\) first, or set DATABASE_URL\n$/],
        [{ DATA_DIR: empty, DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' }, 5, /^care-reports: cannot connect to PostgreSQL at 127\.0\.0\.1:1 as nobody \(ECONNREFUSED\); check DATABASE_OWNER_URL or DATABASE_URL and that the server runs\n$/],
      ];
      for (const [env, code, message] of cases) {
        const r = await careReports(['worker'], { LOG_LEVEL: 'silent', ...env });
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, message);
      }
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  it('a DATABASE_URL whose role may not change the schema, with no DATABASE_OWNER_URL, is named in one line', async () => {
    const admin = await emptyDatabase();
    const role = uniqueName('r');
    await adminQuery(admin, `CREATE ROLE ${role} LOGIN PASSWORD 'pw-${role}'`);
    const u = new URL(admin);
    u.username = role;
    u.password = `pw-${role}`;
    const r = await careReports(['worker'], { DATABASE_URL: u.toString(), DATA_DIR: tmp, LOG_LEVEL: 'silent' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^care-reports: the role ${role} may not change the database schema \\(permission denied for schema public\\): set DATABASE_OWNER_URL to the owner role's URL, or DATABASE_URL to a role that owns the database\\n$`));
  });

  it('a bucket that does not exist, or an object store that cannot be reached, is named in one line with its exit code', async () => {
    const { env } = await testBucket();
    const base = { ...env, DATABASE_URL: svc.config.databaseUrl!, DATA_DIR: tmp };
    const cases: [Record<string, string>, number, RegExp][] = [
      [{ ...base, STORAGE_URL: 's3://no-such-bucket-here/exports' }, 2, /^care-reports: the bucket no-such-bucket-here does not exist at http:\/\/127\.0\.0\.1:\d+; create it, or fix STORAGE_URL\n$/],
      [{ ...base, S3_ENDPOINT: 'http://127.0.0.1:1' }, 5, /^care-reports: the object store at http:\/\/127\.0\.0\.1:1 cannot be reached \(.*\); check S3_ENDPOINT, S3_REGION and the network\n$/],
      [{ ...base, STORAGE_URL: 'gs://bucket' }, 2, /STORAGE_URL: must be s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX/],
    ];
    const results = await Promise.all(cases.map(([e]) => careReports(['worker'], { LOG_LEVEL: 'silent', ...e })));
    results.forEach((r, i) => {
      assert.equal(r.code, cases[i]![1], r.stderr);
      assert.match(r.stderr, cases[i]![2]);
    });
    // No credentials anywhere: the SDK reads them from the process's own environment, so this one runs as a process.
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    const noCredentials = await run(process.execPath, ['src/cli/main.ts', 'worker'], {
      cwd: root,
      env: { ...bare, ...base, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true', LOG_LEVEL: 'silent' },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    assert.equal(noCredentials.code, 3, noCredentials.stderr);
    assert.match(noCredentials.stderr, /^care-reports: no credentials for the object store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance or task role\n$/);
  });
});
