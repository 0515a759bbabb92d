/**
 * `npm test`: starts a PostgreSQL cluster (the embedded server) and an
 * S3-compatible server, runs every test file with node's test runner while it
 * builds the template database the files clone (a file that needs it waits
 * for it), and stops both servers, whatever the outcome.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { strippedSource } from './stripped-ts-cache.mjs';
import { prepareTemplate, startCluster } from '../test/helpers/cluster.ts';
import { startS3Server } from '../test/helpers/s3-server.ts';

/**
 * The longest files start first, so that the run does not end with one of
 * them running alone; those that need no template lead, as it is still being
 * built.
 */
const FIRST = ['signals', 'embedded-start', 'multi-process', 'packages', 'object-storage', 'exports-posts-and-actions', 'runs', 'bad-input'].map((f) => `test/${f}.test.ts`);

const started = Date.now();
const secs = () => ((Date.now() - started) / 1000).toFixed(1);
const root = path.resolve(import.meta.dirname, '..');
const all = (await fs.readdir(path.join(root, 'test'))).filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`).sort();
const files = process.argv.length > 2 ? process.argv.slice(2) : [...FIRST.filter((f) => all.includes(f)), ...all.filter((f) => !FIRST.includes(f))];

/**
 * The processes of the run load the project's TypeScript through one cache of
 * stripped sources (see stripped-ts-cache.mjs), made for this run (another
 * run in the same checkout has its own) and filled before they start; Node's
 * compile cache keeps the compiled code of the dependencies beside it.
 */
async function compileCaches(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-test-cache-'));
  const stripped = path.join(dir, 'stripped');
  await fs.mkdir(stripped);
  for (const top of ['src', 'test', 'scripts']) {
    for (const f of await fs.readdir(path.join(root, top), { recursive: true })) {
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) strippedSource(stripped, path.join(root, top, f));
    }
  }
  const hook = pathToFileURL(path.join(root, 'scripts', 'stripped-ts-cache.mjs')).href;
  return {
    dir,
    env: {
      NODE_OPTIONS: [process.env['NODE_OPTIONS'], `--import ${hook}`].filter(Boolean).join(' '),
      CARE_TS_CACHE: stripped,
      NODE_COMPILE_CACHE: path.join(dir, 'compiled'),
    },
  };
}

const [cluster, s3, caches] = await Promise.all([startCluster(), startS3Server(), compileCaches()]);
const stopServers = () => Promise.all([cluster.stop(), s3.stop(), fs.rm(caches.dir, { recursive: true, force: true })]);
// The cluster runs in a session of its own: Ctrl-C on the tests must stop it too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void stopServers().finally(() => process.exit(130)));
}
let code: number;
try {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=3', '--test-timeout=300000', ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...caches.env, CARE_TEST_ADMIN_URL: cluster.adminUrl, CARE_TEST_S3_ENDPOINT: s3.endpoint, CARE_TEST_S3_LOG: s3.logFile },
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  try {
    await prepareTemplate(cluster.adminUrl);
    process.stdout.write(`# test database ready after ${secs()} s\n`);
  } catch (e) {
    child.kill('SIGTERM');
    await exited;
    throw e;
  }
  code = await exited;
} finally {
  await stopServers();
}
process.stdout.write(`npm test took ${secs()} s in all (the goal is at most 120 s on 2 cores)\n`);
process.exit(code);
