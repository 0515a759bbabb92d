/**
 * `care-reports import`: NDJSON and CSV files staged with COPY and merged
 * set-based, with the ingest API's rules: idempotent, newest updatedAt wins
 * (within the file too), whole file or nothing, unknown references reported.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { createCompany } from '../src/accounts/accounts.ts';
import { inTransaction } from '../src/db/database.ts';
import { findEntity } from '../src/ingest/entities.ts';
import { importFile, ImportRejected, importRecords, type ImportResult } from '../src/ingest/import.ts';
import type { SourceRecord } from '../src/ingest/read.ts';
import { careReports } from './helpers/cli.ts';
import { startTestService } from './helpers/service.ts';

const root = path.resolve(import.meta.dirname, '..');
const svc = await startTestService({}, { api: false, worker: false });
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-import-'));
after(() => fs.rm(tmp, { recursive: true, force: true }));

/** `care-reports import … --company demo`, in-process (the standard-input case below runs the real process). */
async function careImport(...args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await careReports(['import', ...args, '--company', 'demo'], { DATABASE_URL: svc.config.databaseUrl!, LOG_LEVEL: 'silent' });
  return { code: r.code, stderr: r.stderr };
}

const rows = async (sql: string) => (await svc.pool.query(sql)).rows as Record<string, unknown>[];
const conv = (id: number, over: object = {}) => ({
  id, displayId: `C-${id}`, network: 'SMS', status: 'OPEN', priority: 1, authorId: 5000001, createdAt: '2019-06-01T10:00:00Z', updatedAt: '2019-06-01T10:00:00Z', ...over,
});
const queue = (id: number, name = `Queue ${id}`) => JSON.stringify({ id, name, updatedAt: '2019-01-01T00:00:00Z' });
const ofDemo = (table: string, where: string) => `SELECT t.*, t.updated_at::text AS u FROM ${table} t JOIN companies c ON c.id = t.company_id WHERE c.key = 'demo' AND ${where} ORDER BY 2, 3`;

describe('care-reports import', () => {
  it('loads NDJSON once: a repeat changes nothing, the newest version in the file wins, unknown references are reported', async () => {
    const file = path.join(tmp, 'conversations.ndjson');
    const records = [
      conv(910001),
      conv(910002, { status: 'CLOSED', closedAt: '2019-06-02T00:00:00Z', updatedAt: '2019-06-02T00:00:00Z' }),
      conv(910002), // an older version later in the file
      conv(910003, { authorId: 77777777 }),
    ];
    await fs.writeFile(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const first = await careImport('conversations', file);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /conversations: 4 records in [\d.]+ s \([\d,]+\/s\): 3 inserted, 0 updated, 1 unchanged/);
    assert.match(first.stderr, /1 references to unknown ids, e\.g\.:\n {2}line 4: authorId 77777777 \(no such authors\)/);
    const loaded = await rows(ofDemo('conversations', 't.conversation_id BETWEEN 910001 AND 910003'));
    assert.deepEqual(loaded.map((r) => [String(r['conversation_id']), r['status']]), [['910001', 'OPEN'], ['910002', 'CLOSED'], ['910003', 'OPEN']]);
    const again = await careImport('conversations', file);
    assert.match(again.stderr, /4 records .*: 0 inserted, 0 updated, 4 unchanged/);
    assert.deepEqual(await rows(ofDemo('conversations', 't.conversation_id BETWEEN 910001 AND 910003')), loaded);
  });

  it('reads CSV with the field names as header, cells typed by the schema', async () => {
    const file = path.join(tmp, 'authors.csv');
    await fs.writeFile(file, 'id,handle,displayName,network,followerCount,firstSeenAt,updatedAt\n' +
      '6000001,@ana,"Ana, ""the"" customer",TWITTER,12,2019-01-01T00:00:00Z,2019-01-02T00:00:00Z\n' +
      '6000002,@bo,Bo,EMAIL,,2019-01-01T00:00:00Z,2019-01-02T00:00:00Z\n');
    const r = await careImport('authors', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2 inserted/);
    const got = await rows(ofDemo('authors', 't.author_id IN (6000001, 6000002)'));
    assert.deepEqual(got.map((x) => [x['display_name'], x['follower_count']]), [['Ana, "the" customer', 12], ['Bo', 0]]);
  });

  it('agents bring their team memberships', async () => {
    const file = path.join(tmp, 'agents.ndjson');
    await fs.writeFile(file, JSON.stringify({ id: 3001, displayId: 'a.3001', name: 'Kai', email: 'kai@example.com', role: 'EXPERT', createdAt: '2019-01-01T00:00:00Z', teamIds: [6223, 6225], updatedAt: '2019-01-02T00:00:00Z' }) + '\n');
    const r = await careImport('agents', file);
    assert.equal(r.code, 0, r.stderr);
    const teams = await rows(`SELECT team_id::text AS t FROM team_members m JOIN companies c ON c.id = m.company_id WHERE c.key = 'demo' AND agent_id = 3001 ORDER BY 1`);
    assert.deepEqual(teams.map((x) => x['t']), ['6223', '6225']);
  });

  it('a bad record rejects the whole file with its line, field and reason; nothing is written', async () => {
    const file = path.join(tmp, 'bad.ndjson');
    await fs.writeFile(file, [JSON.stringify(conv(920001)), JSON.stringify(conv(920002)), '{"id": 920003,', JSON.stringify(conv(920004, { priority: 7 }))].join('\n') + '\n');
    const before = await rows(`SELECT count(*)::int AS n FROM conversations`);
    const r = await careImport('conversations', file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /2 problems in the file, nothing was written; first: line 3: not valid JSON/);
    assert.match(r.stderr, /line 4, priority: 7 is above the maximum 5/);
    assert.deepEqual(await rows(`SELECT count(*)::int AS n FROM conversations`), before);
    const unknown = await careImport('tickets', file);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /there is no entity 'tickets'/);
  });

  it('CSV columns named __proto__, constructor or toString are unknown fields, not dropped', async () => {
    const file = path.join(tmp, 'proto.csv');
    await fs.writeFile(file, 'id,name,updatedAt,__proto__,constructor,toString\n930101,a,2019-01-01T00:00:00Z,x,y,z\n');
    const demo = String((await rows(`SELECT id FROM companies WHERE key = 'demo'`))[0]!['id']);
    const refused = await importFile(svc.pool, demo, findEntity('work-queues')!, file).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof ImportRejected, String(refused));
    assert.deepEqual(refused.errors.map((x) => [x.line, x.field]), [[2, '__proto__'], [2, 'constructor'], [2, 'toString']]);
  });

  it('a file that cannot be read on (bad CSV, bytes that are not UTF-8, a line of 17 MB) is refused with its line; nothing is written', async () => {
    const files: [string, string | Buffer, RegExp][] = [
      ['unclosed.csv', 'id,name,updatedAt\n930001,"open,2019-01-01T00:00:00Z\n930002,b,2019-01-01T00:00:00Z\n', /line 3: not valid CSV \(Quote Not Closed/],
      ['columns.csv', 'id,name,updatedAt\n930001,a,2019-01-01T00:00:00Z,extra\n', /line 2: not valid CSV \(Invalid Record Length: columns length is 3, got 4/],
      ['latin1.ndjson', Buffer.concat([Buffer.from(`${queue(930001, 'a')}\n${queue(930002, 'b')}\n`), Buffer.from('{"id":930003,"name":"caf\xe9","updatedAt":"2019-01-01T00:00:00Z"}\n', 'latin1')]), /line 3: not valid UTF-8; save the file as UTF-8/],
      ['latin1.csv', Buffer.from('id,name,updatedAt\n930001,caf\xe9,2019-01-01T00:00:00Z\n', 'latin1'), /line 2: not valid UTF-8/],
      ['long.ndjson', `${queue(930001, 'a')}\n${'x'.repeat(17 * 1024 * 1024)}`, /line 2: a line longer than 16,777,216 characters/],
    ];
    const count = async () => (await rows(`SELECT count(*)::int AS n FROM work_queues WHERE workqueue_id BETWEEN 930001 AND 930003`))[0]!['n'];
    for (const [name, content, reason] of files) {
      const file = path.join(tmp, name);
      await fs.writeFile(file, content);
      const r = await careImport('work-queues', file);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, reason, name);
      assert.equal(await count(), 0, name);
    }
  });

  it('--dry-run reads, checks and writes the whole file, reports, and leaves the database as it was', async () => {
    const file = path.join(tmp, 'dry.ndjson');
    await fs.writeFile(file, [conv(932001), conv(932002, { authorId: 77777777 })].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const dry = await careImport('conversations', file, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, /2 records .*: 2 inserted, 0 updated, 0 unchanged \(dry run: all rolled back, nothing was written\)/);
    assert.match(dry.stderr, /line 2: authorId 77777777 \(no such authors\)/);
    assert.deepEqual(await rows(ofDemo('conversations', 't.conversation_id IN (932001, 932002)')), []);
    const real = await careImport('conversations', file);
    assert.match(real.stderr, /2 inserted/);
    assert.equal((await rows(ofDemo('conversations', 't.conversation_id IN (932001, 932002)'))).length, 2);
  });

  it('a key another writer stores while a chunk of new keys is being copied fails the import whole, saying to run it again', async () => {
    const company = (await svc.pool.query<{ id: string }>(`SELECT id FROM companies WHERE key = 'demo'`)).rows[0]!.id;
    const file = path.join(tmp, 'race.ndjson');
    await fs.writeFile(file, [conv(933001), conv(933002), conv(933003)].map((r) => JSON.stringify(r)).join('\n') + '\n');
    // Another writer has inserted 933002 and not committed yet: the import's check cannot see it, its COPY waits on it.
    const other = await svc.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO conversations (company_id, conversation_id, display_id, network, status, priority, author_id, created_at, updated_at)
         VALUES ($1, 933002, 'other', 'SMS', 'OPEN', 1, 5000001, '2019-06-01T10:00:00Z', '2019-06-01T10:00:00Z')`,
        [company],
      );
      const importing = importFile(svc.pool, company, findEntity('conversations')!, file);
      importing.catch(() => undefined);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const waiting = await svc.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY conversations%'`);
        if (waiting.rowCount) break;
        if (Date.now() > deadline) throw new Error('the import never waited on the other writer');
        await new Promise((r) => setTimeout(r, 20));
      }
      await other.query('COMMIT');
      await assert.rejects(importing, /another writer stored some of these conversations while the import ran, so nothing was imported; run the import again/);
    } finally {
      other.release();
    }
    const stored = await rows(ofDemo('conversations', 't.conversation_id BETWEEN 933001 AND 933003'));
    assert.deepEqual(stored.map((r) => [String(r['conversation_id']), r['display_id']]), [['933002', 'other']], 'only the other writer\'s row');
    const again = await careImport('conversations', file);
    assert.match(again.stderr, /3 records .*: 2 inserted, 0 updated, 1 unchanged/);
  });

  it('reads gzip files and standard input', async () => {
    const gz = path.join(tmp, 'queues.ndjson.gz');
    await fs.writeFile(gz, zlib.gzipSync(`${queue(931001)}\n${queue(931002)}\n`));
    const a = await careImport('work-queues', gz);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /2 records .*: 2 inserted/);
    const csvGz = path.join(tmp, 'queues.csv.gz');
    await fs.writeFile(csvGz, zlib.gzipSync('id,name,updatedAt\n931003,"From, CSV",2019-01-01T00:00:00Z\n'));
    assert.equal((await careImport('work-queues', csvGz)).code, 0);
    const child = spawn(process.execPath, ['src/cli/main.ts', 'import', 'work-queues', '-', '--company', 'demo'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: svc.config.databaseUrl!, LOG_LEVEL: 'silent' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(`${queue(931004)}\n`);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    const got = await rows(ofDemo('work_queues', 't.workqueue_id BETWEEN 931001 AND 931004'));
    assert.deepEqual(got.map((x) => x['name']), ['Queue 931001', 'Queue 931002', 'From, CSV', 'Queue 931004']);
    const broken = path.join(tmp, 'broken.ndjson.gz');
    await fs.writeFile(broken, Buffer.from('this is not gzip at all'));
    const b = await careImport('work-queues', broken);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /line 1: not a valid gzip file/);
  });

  describe('chunks: new records are copied straight in, the others merged, with the same outcome', () => {
    const conversations = findEntity('conversations')!;
    const T0 = Date.parse('2019-06-01T00:00:00Z');
    const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
    // Stored before the import: even ids 940002 … 940040, version "stored", 60 minutes after T0.
    const stored = Array.from({ length: 20 }, (_, i) => conv(940002 + 2 * i, { displayId: 'stored', updatedAt: at(60) }));
    // The file: 120 versions of ids 940001 … 940040 in a shuffled order, each with its own updatedAt,
    // about half of them older than the stored versions.
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const minutes = Array.from({ length: 120 }, (_, i) => i + 1).map((m) => m + (m >= 60 ? 1 : 0)); // never a tie with the stored 60
    for (let i = minutes.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [minutes[i], minutes[j]] = [minutes[j]!, minutes[i]!];
    }
    // Authors 5000001 … 5000006 are named; the company has the first three.
    const versions = minutes.map((m, i) => conv(940001 + rand(40), { displayId: `v${i}`, updatedAt: at(m), authorId: 5000001 + rand(6) }));
    const authors = [1, 2, 3].map((n) => ({ id: 5000000 + n, handle: `@a${n}`, displayName: `A ${n}`, network: 'SMS', firstSeenAt: at(0), updatedAt: at(0) }));
    const unknownAuthors = versions.filter((v) => v.authorId > 5000003).length;
    // The rule: the newest updatedAt of a key wins over the file and the stored version.
    const expected = new Map<number, { displayId: string; updatedAt: string }>();
    for (const r of [...stored, ...versions]) {
      const have = expected.get(r.id);
      if (!have || r.updatedAt > have.updatedAt) expected.set(r.id, r);
    }
    const newIds = new Set(versions.map((r) => r.id).filter((id) => id % 2 === 1));
    const records = (list: object[]): SourceRecord[] => list.map((value, i) => ({ line: i + 1, value }));

    /** Imports into a new company; also says whether the staged merge was used. */
    async function load(key: string, list: object[], chunkSize: number, before: object[] = []): Promise<ImportResult & { staged: boolean; table: [number, string, string][] }> {
      return inTransaction(svc.pool, async (client) => {
        const company = await createCompany(client, { key, name: key, timezone: 'UTC' });
        await importRecords(client, company.id, findEntity('authors')!, records(authors));
        if (before.length) await importRecords(client, company.id, conversations, records(before));
        await client.query('DROP TABLE IF EXISTS care_stage');
        const r = await importRecords(client, company.id, conversations, records(list), { chunkSize });
        const staged = (await client.query<{ s: boolean }>(`SELECT to_regclass('pg_temp.care_stage') IS NOT NULL AS s`)).rows[0]!.s;
        const table = await client.query<{ id: string; d: string; u: string }>(
          `SELECT conversation_id::text AS id, display_id AS d, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS u FROM conversations WHERE company_id = $1 ORDER BY 1`,
          [company.id],
        );
        return { ...r, staged, table: table.rows.map((x) => [Number(x.id), x.d, x.u] as [number, string, string]) };
      });
    }

    for (const chunkSize of [1, 7, 50_000]) {
      it(`chunks of ${chunkSize}: the table holds the newest version of every key`, async () => {
        const r = await load(`chunks-${chunkSize}`, versions, chunkSize, stored);
        assert.deepEqual(r.table, [...expected].sort((a, b) => a[0] - b[0]).map(([id, v]) => [id, v.displayId, v.updatedAt]));
        assert.equal(r.received, 120);
        assert.equal(r.inserted, newIds.size, 'each new key is inserted once');
        assert.equal(r.staged, true, 'chunks meeting stored keys or repeating one are merged');
        assert.ok(unknownAuthors > 10 && unknownAuthors < 110);
        assert.equal(r.unknownReferenceCount, unknownAuthors, 'versions naming authors 5000004 … 5000006, which this company lacks');
        assert.deepEqual(
          r.unknownReferences.slice(0, 3).map((u) => [u.line, u.id]),
          versions.map((v, i) => [i + 1, String(v.authorId)]).filter(([, id]) => Number(id) > 5000003).slice(0, 3),
        );
      });
    }

    it('a file of new keys, none twice, is copied straight into the table', async () => {
      const fresh = Array.from({ length: 30 }, (_, i) => conv(950001 + ((i * 7) % 30), { displayId: `n${i}` }));
      const r = await load('chunks-fresh', fresh, 8, stored);
      assert.equal(r.staged, false, 'no staging table was made');
      assert.equal(r.inserted, 30);
      assert.deepEqual(r.table.filter(([id]) => id >= 950001).map(([id, d]) => [id, d]), fresh.map((x, i) => [x.id, `n${i}`]).sort((a, b) => (a[0] as number) - (b[0] as number)));
    });
  });

  it('deleting a company deletes its imported rows with it', async () => {
    const count = async () =>
      (await svc.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM conversations t JOIN companies c ON c.id = t.company_id WHERE c.key = 'chunks-fresh'`)).rows[0]!.n;
    const id = (await svc.pool.query<{ id: string }>(`SELECT id FROM companies WHERE key = 'chunks-fresh'`)).rows[0]!.id;
    assert.ok((await count()) > 0);
    await svc.pool.query('DELETE FROM companies WHERE id = $1', [id]);
    const left = await svc.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM conversations WHERE company_id = $1) + (SELECT count(*) FROM authors WHERE company_id = $1)::int AS n`,
      [id],
    );
    assert.equal(Number(left.rows[0]!.n), 0);
  });

  it('NDJSON lines are read whole across read boundaries: a BOM, CRLF, blank lines, multi-byte text, no final newline', async () => {
    const company = await createCompany(svc.pool, { key: 'ndjson-lines', name: 'lines', timezone: 'UTC' });
    // About 3 KB a line, so that 64 KB reads end inside lines and inside the four bytes of an emoji.
    const names = Array.from({ length: 300 }, (_, i) => `${i} ${'é😀,"x"'.repeat(200 + (i % 7))}`);
    const line = (i: number) => JSON.stringify({ id: 7000001 + i, handle: `@h${i}`, displayName: names[i], network: 'SMS', firstSeenAt: '2019-01-01T00:00:00Z', updatedAt: '2019-01-01T00:00:00Z' });
    const text = '\ufeff' + names.map((_, i) => line(i) + (i % 3 === 0 ? '\r\n' : '\n') + (i % 50 === 0 ? '\n' : '')).join('').replace(/\r?\n$/, '');
    const file = path.join(tmp, 'lines.ndjson');
    await fs.writeFile(file, text);
    const r = await importFile(svc.pool, company.id, findEntity('authors')!, file);
    assert.equal(r.inserted, 300);
    const got = await rows(`SELECT display_name AS d FROM authors WHERE company_id = ${company.id} ORDER BY author_id`);
    assert.deepEqual(got.map((x) => x['d']), names);
  });
});
