/**
 * `npm run bench:import [-- --conversations N]`: bulk-import throughput.
 * Writes N demo conversations and their posts as NDJSON files, imports them
 * with the real import path (validation, COPY or staged merge into the
 * indexed care tables) into a company, and in the same run loads the same
 * rows with `psql \copy … FROM` twice: into plain unindexed tables (the raw
 * rate PostgreSQL can take rows at) and into tables with the care tables'
 * keys and indexes (PostgreSQL's own rate for the work an import cannot
 * skip). Every run uses a database of its own, created and migrated for it,
 * so that runs do not measure each other's dead rows. Results go to
 * bench-results/.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createCompany } from '../src/accounts/accounts.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { DEMO_DEFAULTS, demoTables } from '../src/demo/generator.ts';
import { demoRecords } from '../src/demo/seed.ts';
import { allFields, findEntity, type EntityDef } from '../src/ingest/entities.ts';
import { csvCell } from '../src/ingest/copy.ts';
import { importFile } from '../src/ingest/import.ts';
import { recordColumns } from '../src/ingest/store.ts';
import { adminQuery, withDatabase } from '../test/helpers/cluster.ts';
import { writeBenchResults } from './bench-results.ts';

const { values: args } = parseArgs({
  options: {
    conversations: { type: 'string', default: '1000000' },
    'data-dir': { type: 'string', default: '.bench' },
  },
});
const N = Number(args.conversations);
const root = path.resolve(import.meta.dirname, '..');
const benchDir = path.resolve(root, args['data-dir']);
const dir = path.join(benchDir, 'import');
await fsp.mkdir(dir, { recursive: true });
const say = (s: string) => process.stdout.write(`${s}\n`);
const ENTITY_NAMES = ['conversations', 'posts'] as const;

// 1. The files: NDJSON records as the seed generates them, and CSV of the same records for psql.
say(`writing ${N.toLocaleString('en')} conversations and their posts …`);
const opts = { ...DEMO_DEFAULTS, conversations: N, seed: 42 };
const tables = demoTables('0', opts);
const counts: Record<string, number> = {};
for (const name of ENTITY_NAMES) {
  const entity = findEntity(name)!;
  const table = tables.find((t) => t.table === entity.table)!;
  const fields = allFields(entity).filter((f) => f.column);
  const ndjson = fs.createWriteStream(path.join(dir, `${name}.ndjson`));
  const csv = fs.createWriteStream(path.join(dir, `${name}.csv`));
  const write = async (s: fs.WriteStream, text: string) => {
    if (!s.write(text)) await new Promise<void>((r) => s.once('drain', () => r()));
  };
  let n = 0;
  for (const { value } of demoRecords(entity, table, opts.to.toISOString(), new Map())) {
    const record = value as Record<string, string | number | string[] | null>;
    await write(ndjson, JSON.stringify(record) + '\n');
    await write(csv, fields.map((f) => csvCell(record[f.name] ?? null)).join(',') + '\n');
    n++;
  }
  counts[name] = n;
  await Promise.all([ndjson, csv].map((s) => new Promise<void>((r) => s.end(() => r()))));
}

// 2. The import path into a fresh company, and psql \copy into unindexed tables.
const config = loadConfig({ DATA_DIR: path.join(benchDir, 'data'), EMBEDDED_PG_PORT: '54339', DEMO_DATA: 'false', LOG_LEVEL: 'warn' });
const server = await openDatabase(config, { startEmbedded: true, log: () => {} });
// The bench database is created by the embedded server's superuser, owned by the owner role (neither the service
// role nor the owner may create databases), each statement on a connection of its own; the server stops whatever happens.
const adminUrl = server.embedded?.adminUrl;
if (!adminUrl) {
  await server.close();
  console.error(`bench:import: another process runs the embedded server under ${path.join(benchDir, 'data')}; stop it first (the bench creates its database as that server's superuser)`);
  process.exit(2);
}
let opened: Database | undefined;
try {
  const owner = decodeURIComponent(new URL(server.ownerUrl).username);
  await adminQuery(adminUrl, 'DROP DATABASE IF EXISTS care_import_bench');
  await adminQuery(adminUrl, `CREATE DATABASE care_import_bench OWNER ${pg.escapeIdentifier(owner)}`);
  const inBench = (url: string) => withDatabase(url, 'care_import_bench');
  const db = (opened = await openDatabase({ ...config, databaseUrl: inBench(server.url), databaseOwnerUrl: inBench(server.ownerUrl) }, { startEmbedded: false, log: () => {} }));
  const client = await db.pool.connect();
  const company = await createCompany(client, { key: 'import-bench', name: 'Import bench', timezone: 'UTC' }).finally(() => client.release());

  const results: Record<string, unknown> = { date: new Date().toISOString(), records: counts };
  const importMs: Record<string, number> = {};
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  const cpu0 = process.cpuUsage();
  for (const entity of ENTITY_NAMES) {
    const t0 = performance.now();
    const r = await importFile(db.pool, company.id, findEntity(entity)!, path.join(dir, `${entity}.ndjson`));
    importMs[entity] = performance.now() - t0;
    if (r.inserted !== counts[entity]) throw new Error(`import of ${entity} inserted ${r.inserted} of ${counts[entity]} records`);
    say(`import ${entity}: ${r.received.toLocaleString('en')} records in ${(importMs[entity] / 1000).toFixed(1)} s`);
  }
  // The CPU this process spent reading, validating and encoding: a floor under the import's time whatever the server does.
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  results['rssBeforeImport'] = rssBefore;
  results['rssPeakDuringImport'] = rssPeak;
  const importCpuMs = (cpu.user + cpu.system) / 1000;
  results['importProcessCpuMs'] = importCpuMs;

  const psql = (sql: string) => {
    const r = spawnSync('psql', [db.ownerUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  /** psql \copy of each file into a table made by `create(table, entity)`: milliseconds by entity. */
  const copyAll = (create: (table: string, entity: EntityDef) => string, columns: (entity: EntityDef) => string) => {
    const ms: Record<string, number> = {};
    for (const name of ENTITY_NAMES) {
      const entity = findEntity(name)!;
      psql(`DROP TABLE IF EXISTS bench_${entity.table}; ${create(`bench_${entity.table}`, entity)}`);
      const t0 = performance.now();
      psql(`\\copy bench_${entity.table} ${columns(entity)} FROM '${path.join(dir, `${name}.csv`)}' WITH (FORMAT csv)`);
      ms[name] = performance.now() - t0;
      psql(`DROP TABLE bench_${entity.table}`);
    }
    return ms;
  };
  say('psql \\copy …');
  const rawMs = copyAll((t, e) => `CREATE TABLE ${t} (${recordColumns(e)})`, () => '');
  const indexedMs = copyAll(
    (t, e) => `CREATE TABLE ${t} (LIKE ${e.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES); ALTER TABLE ${t} ALTER company_id SET DEFAULT ${company.id}`,
    (e) => `(${allFields(e).filter((f) => f.column).map((f) => f.column).join(', ')})`,
  );

  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  const rows: [string, number, number, number, number][] = [
    ...ENTITY_NAMES.map((n) => [n, counts[n]!, importMs[n]!, rawMs[n]!, indexedMs[n]!] as [string, number, number, number, number]),
    ['all', sum(counts), sum(importMs), sum(rawMs), sum(indexedMs)],
  ];
  const cell = (n: number, ms: number) => `${(ms / 1000).toFixed(1)} s, ${Math.round(n / (ms / 1000)).toLocaleString('en')}/s`;
  say('\n| records | care-reports import (validate, then COPY or merge into the indexed care tables) | psql \\copy FROM into unindexed tables | psql \\copy FROM into tables with the same keys and indexes | import / unindexed | import / indexed |');
  say('| --- | --- | --- | --- | --- | --- |');
  for (const [name, n, imp, raw, idx] of rows) {
    say(`| ${name}: ${n.toLocaleString('en')} | ${cell(n, imp)} | ${cell(n, raw)} | ${cell(n, idx)} | ${(raw / imp).toFixed(2)}× | ${(idx / imp).toFixed(2)}× |`);
    results[name] = { records: n, importMs: imp, psqlCopyMs: raw, psqlCopyIndexedMs: idx, ratioImportToRawCopy: raw / imp, ratioImportToIndexedCopy: idx / imp };
  }
  const mb = (b: number) => `${Math.round(b / 1048576)} MB`;
  say(`\nMemory of the importing process: ${mb(rssBefore)} before the import, at most ${mb(rssPeak)} during it.`);
  say(`CPU time of the importing process (read, validate, encode): ${(importCpuMs / 1000).toFixed(1)} s. With a server that cost nothing, the import could reach ${(sum(rawMs) / importCpuMs).toFixed(2)}× the unindexed COPY at most.`);
  say(`\nwritten to ${await writeBenchResults('import-', results)}`);
} finally {
  await opened?.close();
  await adminQuery(adminUrl, 'DROP DATABASE IF EXISTS care_import_bench').catch(() => undefined);
  await server.close();
}
process.exit(0);
