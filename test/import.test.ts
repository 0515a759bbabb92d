/**
 * `care-reports import`: NDJSON and CSV files staged with COPY and merged
 * set-based, with the ingest API's rules: idempotent, newest updatedAt wins
 * (within the file too), whole file or nothing, unknown references reported.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestService } from './helpers/service.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const svc = await startTestService({}, { api: false, worker: false });
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-import-'));

async function careImport(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(process.execPath, ['src/cli/main.ts', 'import', ...args, '--company', 'demo'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: svc.config.databaseUrl!, LOG_LEVEL: 'silent' },
    });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stderr: string };
    return { code: x.code, stderr: x.stderr };
  }
}

const rows = async (sql: string) => (await svc.pool.query(sql)).rows as Record<string, unknown>[];
const conv = (id: number, over: object = {}) => ({
  id, displayId: `C-${id}`, network: 'SMS', status: 'OPEN', priority: 1, authorId: 5000001, createdAt: '2019-06-01T10:00:00Z', updatedAt: '2019-06-01T10:00:00Z', ...over,
});
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
});
