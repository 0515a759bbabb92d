/**
 * `npm test`: starts a PostgreSQL cluster (the embedded server), builds the
 * template database the tests clone, runs every test file with node's test
 * runner, and stops the cluster, whatever the outcome.
 */
import { spawn } from 'node:child_process';
import { prepareTemplate, startCluster } from '../test/helpers/cluster.ts';

const started = Date.now();
const cluster = await startCluster();
// The cluster runs in a session of its own: Ctrl-C on the tests must stop it too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cluster.stop().finally(() => process.exit(130)));
}
let code: number;
try {
  await prepareTemplate(cluster.adminUrl);
  process.stdout.write(`test database ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const files = process.argv.slice(2);
  code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--test', '--test-concurrency=3', '--test-timeout=300000', ...(files.length ? files : ['test/**/*.test.ts'])],
      { stdio: 'inherit', env: { ...process.env, CARE_TEST_ADMIN_URL: cluster.adminUrl } },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
} finally {
  await cluster.stop();
}
process.stdout.write(`npm test took ${((Date.now() - started) / 1000).toFixed(1)} s in all (the goal is at most 120 s on 2 cores)\n`);
process.exit(code);
