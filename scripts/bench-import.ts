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
import { DEMO_DEFAULTS, DemoCompany } from '../src/demo/generator.ts';
import { findEntity } from '../src/ingest/entities.ts';
import { importFile } from '../src/ingest/import.ts';

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
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// 1. The files: NDJSON for the import, CSV of the same rows for psql.
say(`writing ${N.toLocaleString('en')} conversations and their posts …`);
const demo = new DemoCompany({ ...DEMO_DEFAULTS, conversations: N, seed: 42 });
const files = {
  conversations: fs.createWriteStream(path.join(dir, 'conversations.ndjson')),
  posts: fs.createWriteStream(path.join(dir, 'posts.ndjson')),
  conversationsCsv: fs.createWriteStream(path.join(dir, 'conversations.csv')),
  postsCsv: fs.createWriteStream(path.join(dir, 'posts.csv')),
};
const write = async (s: fs.WriteStream, text: string) => {
  if (!s.write(text)) await new Promise<void>((r) => s.once('drain', () => r()));
};
const csv = (values: unknown[]) => values.map((v) => (v === null || v === undefined ? '' : `"${String(v as string).replace(/"/g, '""')}"`)).join(',') + '\n';
let postCount = 0;
for (let i = 0; i < N; i++) {
  const v = demo.conversation(i);
  const updatedAt = iso(v.closedAt ?? v.createdAt)!;
  const record = {
    id: v.id, displayId: `C-${v.id}`, network: v.network, status: v.status, priority: v.priority, workqueueId: v.workqueueId,
    assignedAgentId: v.agentId, teamId: v.teamId, authorId: v.authorId, createdAt: iso(v.createdAt), firstAssignedAt: iso(v.firstAssignedAt),
    firstResponseAt: iso(v.firstResponseAt), closedAt: iso(v.closedAt), handleTimeMs: v.handleTimeMs, reopenCount: v.reopenCount,
    tags: v.tags, sentiment: v.sentiment, surveyScore: v.surveyScore, updatedAt,
  };
  await write(files.conversations, JSON.stringify(record) + '\n');
  await write(files.conversationsCsv, csv([...Object.values(record).map((x) => (Array.isArray(x) ? `{${x.join(',')}}` : x))]));
  for (const p of v.posts) {
    const post = {
      id: p.id, conversationId: v.id, type: p.type, authorId: p.type === 'INCOMING' ? v.authorId : null, agentId: p.agentId,
      postedAt: iso(p.at), language: v.language, sentiment: p.sentiment, content: p.content, approvalStatus: p.approval, updatedAt: iso(p.at),
    };
    await write(files.posts, JSON.stringify(post) + '\n');
    await write(files.postsCsv, csv(Object.values(post)));
    postCount++;
  }
}
await Promise.all(Object.values(files).map((s) => new Promise<void>((r) => s.end(() => r()))));

// 2. The import path into a fresh company, and psql \copy into unindexed tables.
const config = loadConfig({ DATA_DIR: path.join(benchDir, 'data'), EMBEDDED_PG_PORT: '54339', DEMO_DATA: 'false', LOG_LEVEL: 'warn' });
const db = await openDatabase(config, { startEmbedded: true, log: () => {} });
try {
  const old = await findCompanyByKey(db.pool, 'import-bench');
  if (old) await db.pool.query('DELETE FROM companies WHERE id = $1', [old.id]);
  const client = await db.pool.connect();
  const company = await createCompany(client, { key: 'import-bench', name: 'Import bench', timezone: 'UTC' }).finally(() => client.release());

  const results: Record<string, unknown> = { date: new Date().toISOString(), conversations: N, posts: postCount };
  let importMs = 0;
  for (const entity of ['conversations', 'posts'] as const) {
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
  psql(`DROP TABLE IF EXISTS raw_conversations, raw_posts;
        CREATE TABLE raw_conversations (id bigint, display_id text, network text, status text, priority int, workqueue_id bigint, assigned_agent_id bigint,
          team_id bigint, author_id bigint, created_at timestamptz, first_assigned_at timestamptz, first_response_at timestamptz, closed_at timestamptz,
          handle_time_ms bigint, reopen_count int, tags text[], sentiment text, survey_score int, updated_at timestamptz);
        CREATE TABLE raw_posts (id bigint, conversation_id bigint, post_type text, author_id bigint, agent_id bigint, posted_at timestamptz, language text,
          sentiment text, content text, approval_status text, updated_at timestamptz);`);
  let rawMs = 0;
  for (const [table, file] of [['raw_conversations', 'conversations.csv'], ['raw_posts', 'posts.csv']] as const) {
    const t0 = performance.now();
    psql(`\\copy ${table} FROM '${path.join(dir, file)}' WITH (FORMAT csv)`);
    rawMs += performance.now() - t0;
  }
  psql('DROP TABLE raw_conversations, raw_posts');
  const total = N + postCount;
  results['import'] = { records: total, ms: importMs, recordsPerSecond: total / (importMs / 1000) };
  results['psqlCopy'] = { rows: total, ms: rawMs, rowsPerSecond: total / (rawMs / 1000) };
  results['ratioImportToRawCopy'] = rawMs / importMs;
  say(`\n| ${N.toLocaleString('en')} conversations + ${postCount.toLocaleString('en')} posts | time | rate |\n| --- | --- | --- |`);
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
