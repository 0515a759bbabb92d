/**
 * The client and CLI packages as other projects get them: packed with npm,
 * installed from the tarballs into an empty project with nothing fetched,
 * then used there against a live service on the demo data: an ES module
 * script creates, waits, downloads and checks a file (on this Node.js and
 * on the machine's own `node` when that is another major); the installed
 * `care-reports` command writes the quick start's export, byte for byte what
 * curl gets. The catalog types are current and catch a misspelled column
 * and a parameter the export does not take; the browser entry bundles
 * without Node's modules.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { build } from 'esbuild';
import { renderClientCatalog } from '../src/exports/catalog/client-types.ts';
import { PASSWORD } from './helpers/cluster.ts';
import { startTestService } from './helpers/service.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const START = Date.UTC(2019, 2, 1);
const END = Date.UTC(2019, 2, 8);

const tarballs: Record<'client' | 'cli', string> = { client: '', cli: '' };

/**
 * The environment of what a user runs (npm, the machine's own node, the installed command), which may be another
 * Node.js than this one: without the test runner's hooks for this repository's TypeScript.
 */
const userEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: (process.env['NODE_OPTIONS'] ?? '').replace(/--import \S*stripped-ts-cache\.mjs/g, '').trim() };
  delete env['CARE_TS_CACHE'];
  delete env['NODE_COMPILE_CACHE'];
  return env;
};

/** The machine's own node (outside any node_modules, as `npm test` puts this repository's Node.js first on PATH), if any. */
async function machineNode(): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir || dir.includes('node_modules')) continue;
    const candidate = path.join(dir, 'node');
    if (await fs.access(candidate, fs.constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}
const project = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-user-'));
after(() => fs.rm(project, { recursive: true, force: true }));

/** Packs both packages (npm pack runs each one's prepack, the build) and installs the tarballs into the empty project, offline. */
async function install(): Promise<void> {
  const packed = path.join(project, 'packed');
  await fs.mkdir(packed);
  const out = await run('npm', ['pack', '--workspace', 'packages/client', '--workspace', 'packages/cli', '--pack-destination', packed, '--json'], { cwd: root, env: userEnv() });
  for (const p of JSON.parse(out.stdout) as { name: string; filename: string }[]) {
    tarballs[p.name === '@care-reports/client' ? 'client' : 'cli'] = path.join(packed, p.filename);
  }
  await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'a-user-project', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarballs.client, tarballs.cli], { cwd: project, env: userEnv() });
}

// Started at the top level, so that the service's clean-up belongs to the file; a real socket, as the packages' users have.
const [svc] = await Promise.all([startTestService({}, { listen: true }), install()]);

const env = () => ({ ...userEnv(), CARE_REPORTS_URL: svc.base, CARE_REPORTS_USER: 'demo', CARE_REPORTS_PASSWORD: PASSWORD, CARE_REPORTS_COMPANY: 'demo' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the packages as installed from their tarballs', () => {
  it('the client package holds its build and no server: no dependency at all', async () => {
    const installed = JSON.parse(await fs.readFile(path.join(project, 'node_modules', '@care-reports', 'client', 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(installed['dependencies'], undefined);
    const files = await fs.readdir(path.join(project, 'node_modules', '@care-reports', 'client', 'dist'));
    assert.ok(files.includes('index.js') && files.includes('index.d.ts') && files.includes('node.js') && files.includes('catalog.d.ts'), files.join(' '));
    const cli = JSON.parse(await fs.readFile(path.join(project, 'node_modules', '@care-reports', 'cli', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(cli.dependencies), ['@care-reports/client']);
    // Two packages in all: nothing of the server (no pg, no PostgreSQL binaries) came with them.
    assert.deepEqual((await fs.readdir(path.join(project, 'node_modules'))).filter((n) => !n.startsWith('.')), ['@care-reports']);
  });

  it('an ES module script creates, waits, downloads to a path and checks the checksum, on each Node.js at hand', async () => {
    const script = path.join(project, 'export.mjs');
    await fs.writeFile(
      script,
      `import { CareReportsClient } from '@care-reports/client/node';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
const client = new CareReportsClient({ baseUrl: process.env.CARE_REPORTS_URL, username: 'demo', password: process.env.CARE_REPORTS_PASSWORD });
const run = await client.createExport('conversation', { companyKey: 'demo', startTime: ${START}, endTime: ${END}, reportFormat: 'csv', conversationReportType: 'CREATED', reportMetrics: ['CONVERSATION_ID', 'STATUS'] });
const done = await client.waitForRun(run.statusUrl);
const file = process.argv[2];
const bytes = await client.download(done.downloadUrl, file, { expect: done });
const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
console.log(JSON.stringify({ bytes, sha256, published: done.fileSha256, rows: done.totalCount }));
`,
    );
    const nodes = [process.execPath];
    const other = await machineNode();
    const version = other && spawnSync(other, ['-p', 'process.versions.node'], { encoding: 'utf8', env: userEnv() });
    if (version && version.status === 0 && version.stdout.split('.')[0] !== process.versions.node.split('.')[0]) nodes.push(other);
    console.log(`the script runs on ${nodes.map((n) => spawnSync(n, ['-v'], { encoding: 'utf8', env: userEnv() }).stdout.trim()).join(' and ')}`);
    for (const node of nodes) {
      const file = path.join(project, `conversations-${nodes.indexOf(node)}.csv`);
      const { stdout } = await run(node, [script, file], { cwd: project, env: env() });
      const r = JSON.parse(stdout) as { bytes: number; sha256: string; published: string; rows: number };
      const body = await fs.readFile(file);
      assert.equal(r.bytes, body.length, `${node}: the size returned is the file's`);
      assert.equal(r.sha256, r.published, `${node}: the file's SHA-256 is the one the run published`);
      assert.equal(body.toString('utf8').trimEnd().split('\n').length, r.rows + 1, `${node}: a header and one line per row`);
      assert.ok(r.rows > 10);
    }
  });

  it('the installed care-reports command writes the quick start export byte for byte as curl gets it', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'care-reports');
    const mine = path.join(project, 'quickstart.csv');
    await run(bin, ['export', 'conversation', '--from', String(START), '--to', String(END), '--locale', 'en', '-o', mine, '--quiet'], { cwd: project, env: env() });

    // The quick start with curl: create, poll until closed, follow the download's redirect.
    const auth = ['-s', '-u', `demo:${PASSWORD}`];
    const created = JSON.parse((await run('curl', [...auth, `${svc.base}/api/public/reports/report/conversation?reportFormat=csv&locale=en_US&companyKey=demo&startTime=${START}&endTime=${END}`])).stdout) as { result: { statusUrl: string } };
    let downloadUrl = '';
    for (let i = 0; i < 600 && !downloadUrl; i++) {
      const s = JSON.parse((await run('curl', [...auth, created.result.statusUrl])).stdout) as { result: { result: { runnerState: string }; jobInfo: { downloadUrl: string } } };
      if (s.result.result.runnerState === 'CLOSED') downloadUrl = s.result.jobInfo.downloadUrl;
      else await new Promise((r) => setTimeout(r, 50));
    }
    const viaCurl = path.join(project, 'curl.csv');
    await run('curl', [...auth, '-L', '--fail', '-o', viaCurl, downloadUrl]);
    const [a, b] = await Promise.all([fs.readFile(mine), fs.readFile(viaCurl)]);
    assert.ok(a.length > 1000);
    assert.equal(sha256(a), sha256(b), 'the same bytes');
  });

  it('an expected failure of the command is one line and its exit code', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'care-reports');
    const r = await run(bin, ['export', 'conversation', '--from', '2019-03-01', '--to', '2019-03-02'], { cwd: project, env: { ...env(), CARE_REPORTS_PASSWORD: 'wrong-password' } }).then(
      () => assert.fail('a wrong password must fail'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^care-reports: 401: [^\n]+\n$/);
  });
});

describe('the client types', () => {
  it('packages/client/src/catalog.ts is generated from the catalog and up to date (npm run docs)', async () => {
    assert.equal(await fs.readFile(path.join(root, 'packages', 'client', 'src', 'catalog.ts'), 'utf8'), renderClientCatalog());
  });

  it('the compiler, on the installed types, refuses a misspelled column and a parameter the export does not take, and takes a right call', async () => {
    const dir = path.join(project, 'typing');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2023', 'dom'], types: [], strict: true, noEmit: true }, files: ['use.ts'] }),
    );
    await fs.writeFile(
      path.join(dir, 'use.ts'),
      `import { CareReportsClient } from '@care-reports/client';
const client = new CareReportsClient({ baseUrl: 'http://localhost:8080', username: 'demo', password: 'secret' });
export const right = client.createExport('conversation', { companyKey: 'demo', startTime: 1551398400000, endTime: 1551484800000, conversationReportType: 'CREATED', reportMetrics: ['CONVERSATION_ID', 'PRIORITY'], priorities: [0, 1] });
export const misspelled = client.createExport('conversation', { companyKey: 'demo', startTime: 1551398400000, endTime: 1551484800000, reportMetrics: ['CONVERSATION_IDD'] });
export const notTaken = client.createExport('conversation', { companyKey: 'demo', startTime: 1551398400000, endTime: 1551484800000, teamIds: [6222] });
`,
    );
    const r = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.equal(errors.length, 2, r.stdout);
    assert.match(errors[0]!, /^use\.ts\(4,.*'"CONVERSATION_IDD"' is not assignable/);
    assert.match(errors[1]!, /^use\.ts\(5,.*'teamIds' does not exist/);
  });

  it('the browser entry bundles for a browser without any of Node’s modules; the Node entry does not', async () => {
    const entry = (name: string) => path.join(project, 'node_modules', '@care-reports', 'client', 'dist', name);
    const bundled = await build({ entryPoints: [entry('index.js')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    const text = bundled.outputFiles[0]!.text;
    assert.ok(text.includes('CareReportsClient') && text.includes('/api/public/reports/report/'), 'the bundle holds the client');
    assert.doesNotMatch(text, /from ["']node:|require\(["']node:/);
    await assert.rejects(build({ entryPoints: [entry('node.js')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' }), /node:/);
  });
});
