/**
 * `npm run bench:import [-- --conversations N]`: bulk-import throughput.
 * Writes N demo conversations and their posts as NDJSON files, imports them
 * with the real import path (validation, staging COPY, set-based merge into
 * the indexed tables) into a fresh company, and in the same run loads the
 * same rows with `psql \copy … FROM` into plain unindexed tables: the raw rate
 * PostgreSQL can take rows at. Results go to bench-results/.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createCompany, findCompanyByKey } from '../src/accounts/accounts.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { DEMO_DEFAULTS, demoTables } from '../src/demo/generator.ts';
import { demoRecords } from '../src/demo/seed.ts';
import { allFields, findEntity } from '../src/ingest/entities.ts';
import { csvCell, importFile } from '../src/ingest/import.ts';
import { recordColumns } from '../src/ingest/store.ts';

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
const db = await openDatabase(config, { startEmbedded: true, log: () => {} });
try {
  const old = await findCompanyByKey(db.pool, 'import-bench');
  if (old) await db.pool.query('DELETE FROM companies WHERE id = $1', [old.id]);
  const client = await db.pool.connect();
  const company = await createCompany(client, { key: 'import-bench', name: 'Import bench', timezone: 'UTC' }).finally(() => client.release());

  const results: Record<string, unknown> = { date: new Date().toISOString(), records: counts };
  let importMs = 0;
  for (const entity of ENTITY_NAMES) {
    const t0 = performance.now();
    const r = await importFile(db.pool, company.id, findEntity(entity)!, path.join(dir, `${entity}.ndjson`));
    const ms = performance.now() - t0;
    importMs += ms;
    results[`import_${entity}`] = { records: r.received, inserted: r.inserted, ms, recordsPerSecond: r.received / (ms / 1000) };
    say(`import ${entity}: ${r.received.toLocaleString('en')} records in ${(ms / 1000).toFixed(1)} s (${Math.round(r.received / (ms / 1000)).toLocaleString('en')}/s)`);
  }

  const psql = (sql: string) => {
    const r = spawnSync('psql', [db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  for (const name of ENTITY_NAMES) psql(`DROP TABLE IF EXISTS raw_${findEntity(name)!.table}; CREATE TABLE raw_${findEntity(name)!.table} (${recordColumns(findEntity(name)!)})`);
  let rawMs = 0;
  for (const name of ENTITY_NAMES) {
    const t0 = performance.now();
    psql(`\\copy raw_${findEntity(name)!.table} FROM '${path.join(dir, `${name}.csv`)}' WITH (FORMAT csv)`);
    rawMs += performance.now() - t0;
    psql(`DROP TABLE raw_${findEntity(name)!.table}`);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  results['import'] = { records: total, ms: importMs, recordsPerSecond: total / (importMs / 1000) };
  results['psqlCopy'] = { rows: total, ms: rawMs, rowsPerSecond: total / (rawMs / 1000) };
  results['ratioImportToRawCopy'] = rawMs / importMs;
  say(`\n| ${N.toLocaleString('en')} conversations + ${counts['posts']!.toLocaleString('en')} posts | time | rate |\n| --- | --- | --- |`);
  say(`| care-reports import (validate, stage, merge into indexed tables) | ${(importMs / 1000).toFixed(1)} s | ${Math.round(total / (importMs / 1000)).toLocaleString('en')} records/s |`);
  say(`| psql \\copy FROM into unindexed tables | ${(rawMs / 1000).toFixed(1)} s | ${Math.round(total / (rawMs / 1000)).toLocaleString('en')} rows/s |`);
  say(`| import / raw COPY | ${(rawMs / importMs).toFixed(2)}× | |`);
  await db.pool.query('DELETE FROM companies WHERE id = $1', [company.id]);
  const out = path.join(root, 'bench-results');
  await fsp.mkdir(out, { recursive: true });
  const file = path.join(out, `import-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await fsp.writeFile(file, JSON.stringify(results, null, 2));
  say(`\nwritten to ${path.relative(root, file)}`);
} finally {
  await db.close();
}
process.exit(0);
