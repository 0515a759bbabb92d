/**
 * A database of this test file's own: a clone of the run's template (see
 * scripts/test.ts), or, when a file runs alone, of a template in a cluster
 * started for this process.
 */
import { after } from 'node:test';
import { adminQuery, prepareTemplate, startCluster, TEMPLATE_DB, templateReady, uniqueName, withDatabase } from './cluster.ts';

let ownCluster: Promise<string> | undefined;

let fromRun: Promise<string> | undefined;

async function adminUrl(): Promise<string> {
  const runUrl = process.env['CARE_TEST_ADMIN_URL'];
  // npm test builds the template while the first files run: wait for it.
  if (runUrl) return (fromRun ??= templateReady(runUrl).then(() => runUrl));
  ownCluster ??= (async () => {
    const cluster = await startCluster();
    after(() => cluster.stop());
    await prepareTemplate(cluster.adminUrl);
    return cluster.adminUrl;
  })();
  return ownCluster;
}

/**
 * Databases are dropped once the file's tests and every `after` hook are
 * done (when the process is about to exit): a drop in an `after` hook could
 * run before a later hook has stopped the service that still uses it.
 */
const toDrop: { admin: string; name: string }[] = [];
process.on('beforeExit', () => {
  const batch = toDrop.splice(0);
  if (batch.length > 0) void Promise.all(batch.map((d) => adminQuery(d.admin, `DROP DATABASE IF EXISTS ${d.name} WITH (FORCE)`).catch(() => undefined)));
});

/** A fresh database cloned from the template; dropped when the file's process ends. */
export async function testDatabase(): Promise<string> {
  const admin = await adminUrl();
  const name = uniqueName('t');
  await adminQuery(admin, `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`);
  toDrop.push({ admin, name });
  return withDatabase(admin, name);
}

/** An empty database (no migrations), for tests of the migrator itself. */
export async function emptyDatabase(): Promise<string> {
  const admin = await adminUrl();
  const name = uniqueName('e');
  await adminQuery(admin, `CREATE DATABASE ${name}`);
  toDrop.push({ admin, name });
  return withDatabase(admin, name);
}
