/**
 * The ingest API: idempotent upserts decided by updatedAt, whole-batch
 * rejection with line/field/reason, unknown references reported, limits and
 * malformed bodies, auth and company isolation, and a small hand-written data
 * set coming back exactly through the exports.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createCompany, createUser, grant } from '../src/accounts/accounts.ts';
import { renderIngestMarkdown } from '../src/ingest/describe.ts';
import { ENTITIES, findEntity } from '../src/ingest/entities.ts';
import { MAX_PROBLEMS_LISTED } from '../src/ingest/rejection.ts';
import { MAX_RECORDS, validateRecords } from '../src/ingest/validate.ts';
import { basic, exportFile, failuresOf, getJson, startTestService } from './helpers/service.ts';
import { PASSWORD } from './helpers/cluster.ts';

const svc = await startTestService();
await grant(svc.pool, 'demo', 'INGEST');
await grant(svc.pool, 'acme', 'INGEST');

const ingest = (entity: string, body: string | Buffer, user = 'demo', type = 'application/x-ndjson') =>
  getJson(`${svc.base}/api/v2/ingest/${entity}`, { ...basic(user), 'Content-Type': type }, { method: 'POST', body });
const ndjson = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
type DbRow = Record<string, unknown>;
const snapshot = async (table: string, where = 'true'): Promise<DbRow[]> =>
  (await svc.pool.query<DbRow>(`SELECT t.*, t.updated_at::text AS u FROM ${table} t JOIN companies c ON c.id = t.company_id WHERE c.key = 'demo' AND ${where} ORDER BY 2, 3`)).rows;

const conv = (id: number, over: object = {}) => ({
  id, displayId: `C-${id}`, network: 'EMAIL', status: 'OPEN', priority: 3, workqueueId: 501, authorId: 5000001,
  createdAt: '2019-06-01T10:00:00Z', updatedAt: '2019-06-01T10:00:00Z', ...over,
});

describe('upserts', () => {
  it('the same batch twice leaves the database as the first left it', async () => {
    const batch = ndjson([conv(900001), conv(900002, { tags: ['vip'] })]);
    const first = await ingest('conversations', batch);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.result, { received: 2, inserted: 2, updated: 0, unchanged: 0, unknownReferenceCount: 0, unknownReferences: [] });
    const after1 = await snapshot('conversations', 't.conversation_id IN (900001, 900002)');
    const second = await ingest('conversations', batch);
    assert.deepEqual(second.body.result, { received: 2, inserted: 0, updated: 0, unchanged: 2, unknownReferenceCount: 0, unknownReferences: [] });
    assert.deepEqual(await snapshot('conversations', 't.conversation_id IN (900001, 900002)'), after1);
    assert.deepEqual(after1.map((r) => r['tags']), [[], ['vip']]);
  });

  it('the newest version wins, whatever order versions arrive in, across and within batches', async () => {
    const closed = conv(900010, { status: 'CLOSED', closedAt: '2019-06-02T10:00:00Z', updatedAt: '2019-06-02T10:00:00Z' });
    assert.equal((await ingest('conversations', ndjson([closed]))).body.result.inserted, 1);
    const late = await ingest('conversations', ndjson([conv(900010)]));
    assert.equal(late.body.result.unchanged, 1, 'an older version is left out');
    const [row] = await snapshot('conversations', 't.conversation_id = 900010');
    assert.equal(row!['status'], 'CLOSED');
    const reopened = conv(900010, { status: 'OPEN', reopenCount: 1, updatedAt: '2019-06-03T10:00:00Z' });
    const within = await ingest('conversations', ndjson([reopened, closed]));
    assert.equal(within.body.result.updated, 1);
    const [row2] = await snapshot('conversations', 't.conversation_id = 900010');
    assert.deepEqual([row2!['status'], row2!['reopen_count'], row2!['closed_at']], ['OPEN', 1, null]);
  });

  it('a newer version replaces seeded demo data (stamped with the end of its period)', async () => {
    const r = await ingest('work-queues', ndjson([{ id: 501, name: 'General (renamed)', updatedAt: '2020-01-01T00:00:00Z' }]));
    assert.deepEqual(r.body.result, { received: 1, inserted: 0, updated: 1, unchanged: 0, unknownReferenceCount: 0, unknownReferences: [] });
    const older = await ingest('work-queues', ndjson([{ id: 502, name: 'Billing (old)', updatedAt: '2019-01-01T00:00:00Z' }]));
    assert.equal(older.body.result.unchanged, 1, 'a version older than the seeded one is left out');
  });

  it('an agent disabled later replaces the earlier version, memberships included', async () => {
    const agent = { id: 1999, displayId: 'agent.1999', name: 'Zoë Ng', email: 'zoe@example.com', role: 'AGENT', createdAt: '2019-01-01T00:00:00Z', teamIds: [6222, 6223], updatedAt: '2019-02-01T00:00:00Z' };
    await ingest('agents', ndjson([agent]));
    await ingest('agents', ndjson([{ ...agent, enabled: false, teamIds: [6224], updatedAt: '2019-03-01T00:00:00Z' }]));
    const [a] = await snapshot('agents', 't.agent_id = 1999');
    assert.equal(a!['enabled'], false);
    const teams = await svc.pool.query<{ team_id: string }>(`SELECT team_id::text FROM team_members m JOIN companies c ON c.id = m.company_id WHERE c.key = 'demo' AND agent_id = 1999`);
    assert.deepEqual(teams.rows.map((r) => r.team_id), ['6224']);
  });
});

describe('dry run', () => {
  it('?dryRun=true answers what the batch would do and writes nothing', async () => {
    const batch = ndjson([conv(900201), conv(900202, { authorId: 77777777 })]);
    const url = (q: string) => `${svc.base}/api/v2/ingest/conversations?${q}`;
    const post = (q: string) => getJson(url(q), { ...basic('demo'), 'Content-Type': 'application/x-ndjson' }, { method: 'POST', body: batch });
    const dry = await post('dryRun=true');
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(dry.body.result, {
      received: 2, inserted: 2, updated: 0, unchanged: 0, unknownReferenceCount: 1,
      unknownReferences: [{ line: 2, field: 'authorId', id: '77777777', entity: 'authors' }], dryRun: true,
    });
    assert.deepEqual(await snapshot('conversations', 't.conversation_id IN (900201, 900202)'), [], 'nothing was written');
    const bad = await post('dryRun=yes');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message ?? '', /dryRun "yes" is not valid; give true or false/);
    const real = await post('dryRun=false');
    assert.equal(real.body.result.inserted, 2);
    assert.equal((await snapshot('conversations', 't.conversation_id IN (900201, 900202)')).length, 2);
  });

  it('a misspelled dryRun, or any other query parameter, is refused instead of writing the batch', async () => {
    const batch = ndjson([conv(900211)]);
    for (const [q, message] of [
      ['dryrun=true', /^unknown parameter 'dryrun'; did you mean dryRun\?/],
      ['dry_run=true', /^unknown parameter 'dry_run'; did you mean dryRun\?/],
      ['constructor=1', /^unknown parameter 'constructor'; ingest takes only dryRun/],
      ['__proto__=1', /^unknown parameter '__proto__'/],
      ['companyKey=acme', /^unknown parameter 'companyKey'; .*the company is always the caller's/],
    ] as const) {
      const r = await getJson(`${svc.base}/api/v2/ingest/conversations?${q}`, { ...basic('demo'), 'Content-Type': 'application/x-ndjson' }, { method: 'POST', body: batch });
      assert.equal(r.status, 400, q);
      assert.equal(r.body.code, 'BAD_PARAMETER');
      assert.match(r.body.message ?? '', message);
    }
    assert.deepEqual(await snapshot('conversations', 't.conversation_id = 900211'), [], 'nothing was written');
  });
});

describe('validation rejects the whole batch', () => {
  it('one bad record: every problem with its line, field and reason, and nothing written', async () => {
    const before = await snapshot('conversations');
    const r = await ingest('conversations', ndjson([
      conv(900100),
      { ...conv(900101), priority: 9 },
      { ...conv(900102), network: 'FAX', closedAt: 'yesterday' },
      { ...conv(900103), createdAt: '2099-01-01T00:00:00Z' },
      { ...conv(900104), id: undefined },
      { ...conv(900105), companyKey: 'acme' },
    ]));
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'INVALID_RECORDS');
    assert.match(r.body.message ?? '', /^6 problems in the batch, nothing was written; first: line 2, priority: 9 is above the maximum 5/);
    assert.deepEqual(r.body.errors, [
      { line: 2, field: 'priority', reason: '9 is above the maximum 5' },
      { line: 3, field: 'network', reason: '"FAX" is not one of TWITTER, FACEBOOK, INSTAGRAM, WHATSAPP, CHAT, EMAIL, SMS' },
      { line: 3, field: 'closedAt', reason: 'must be an ISO 8601 time with offset (2019-03-01T12:00:00Z) or epoch milliseconds, not "yesterday"' },
      { line: 4, field: 'createdAt', reason: '2099-01-01T00:00:00.000Z is in the future' },
      { line: 5, field: 'id', reason: 'missing id' },
      { line: 6, field: 'companyKey', reason: r.body.errors![5]!.reason },
    ]);
    assert.match(r.body.errors[5]!.reason, /^unknown field; conversations records have id, displayId/);
    assert.deepEqual(await snapshot('conversations'), before, 'the database is unchanged');
  });

  it('a smart view’s filter is checked as the exports will apply it', async () => {
    const r = await ingest('smart-views', ndjson([
      { id: 9100, name: 'ok', filter: { networks: ['SMS'], priorities: [4, 5], workqueueIds: ['501'], businessHours: false }, updatedAt: '2019-01-01T00:00:00Z' },
      { id: 9101, name: 'bad', filter: { priorities: ['high'] }, updatedAt: '2019-01-01T00:00:00Z' },
      { id: 9102, name: 'bad', filter: { channel: 'SMS' }, updatedAt: '2019-01-01T00:00:00Z' },
    ]));
    assert.deepEqual(r.body.errors, [
      { line: 2, field: 'filter', reason: 'priorities must be a list of priorities 0 to 5' },
      { line: 3, field: 'filter', reason: "unknown filter 'channel'; a filter has networks, priorities, workqueueIds, tags and businessHours" },
    ]);
  });

  it('times: a day the calendar lacks is refused; a UTC time keeps its microseconds, an offset time is read as the same instant', async () => {
    const r = await ingest('conversations', ndjson([{ ...conv(900120), createdAt: '2019-02-29T10:00:00Z' }, { ...conv(900121), createdAt: '2020-04-31T10:00:00Z' }]));
    assert.deepEqual(r.body.errors, [
      { line: 1, field: 'createdAt', reason: '"2019-02-29T10:00:00Z" is not a valid time' },
      { line: 2, field: 'createdAt', reason: '"2020-04-31T10:00:00Z" is not a valid time' },
    ]);
    const ok = await ingest('conversations', ndjson([
      { ...conv(900122), createdAt: '2020-02-29T10:00:00.123456Z' },
      { ...conv(900123), createdAt: '2019-06-01T12:00:00+02:00', closedAt: 1559390400000 },
    ]));
    assert.equal(ok.body.result?.inserted, 2, JSON.stringify(ok.body));
    const got = await svc.pool.query<{ c: string; d: string | null }>(
      `SELECT to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS c, to_char(t.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS d
         FROM conversations t JOIN companies c ON c.id = t.company_id WHERE c.key = 'demo' AND conversation_id IN (900122, 900123) ORDER BY conversation_id`,
    );
    assert.deepEqual(got.rows, [
      { c: '2020-02-29 10:00:00.123456', d: null },
      { c: '2019-06-01 10:00:00.000000', d: '2019-06-01 12:00:00.000000' },
    ]);
  });

  it('text holding U+0000, which PostgreSQL cannot store, is refused with its field', async () => {
    const r = await ingest('conversations', ndjson([{ ...conv(900130), displayId: 'C\u0000' }, { ...conv(900131), tags: ['ok', 'b\u0000d'] }]));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, [
      { line: 1, field: 'displayId', reason: 'must not contain the character U+0000' },
      { line: 2, field: 'tags', reason: 'must not contain the character U+0000' },
    ]);
  });

  it('a count beyond what its column holds is refused with the limit, not failed in the database', async () => {
    const author = { id: 5900001, handle: '@big', displayName: 'Big', network: 'SMS', firstSeenAt: '2019-01-01T00:00:00Z', updatedAt: '2019-01-01T00:00:00Z' };
    const r = await ingest('authors', ndjson([{ ...author, followerCount: 3_000_000_000 }]));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(r.body.errors, [{ line: 1, field: 'followerCount', reason: '3000000000 is above the maximum 2147483647' }]);
    const c = await ingest('conversations', ndjson([{ ...conv(900140), reopenCount: 2_147_483_648 }]));
    assert.deepEqual(c.body.errors, [{ line: 1, field: 'reopenCount', reason: '2147483648 is above the maximum 2147483647' }]);
  });

  it('epoch milliseconds beyond the year 9999 and text with a lone surrogate are refused with their fields', async () => {
    const r = await ingest('conversations', [
      JSON.stringify({ ...conv(900150), createdAt: 9_000_000_000_000_000 }),
      JSON.stringify({ ...conv(900151), closedAt: 253402300800000 }),
      `{"id":900152,"displayId":"C-\\ud800","network":"SMS","status":"OPEN","priority":1,"authorId":5000001,"createdAt":"2019-06-01T10:00:00Z","updatedAt":"2019-06-01T10:00:00Z"}`,
    ].join('\n'));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(r.body.errors, [
      { line: 1, field: 'createdAt', reason: '9000000000000000 is not a valid time' },
      { line: 2, field: 'closedAt', reason: '253402300800000 is not a valid time' },
      { line: 3, field: 'displayId', reason: 'must be valid Unicode (it holds a lone surrogate)' },
    ]);
  });

  it('a value nested 100,000 deep is refused, not a stack overflow', async () => {
    const deep = `{"id":9200,"name":"deep","updatedAt":"2019-01-01T00:00:00Z","filter":{"networks":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const r = await ingest('smart-views', deep + '\n');
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(r.body.errors, [{ line: 1, field: 'filter', reason: 'is nested deeper than 32 levels' }]);
  });

  it('a value nested deep in a field of any type is refused with a short reason, not a stack overflow', async () => {
    // JSON.stringify overflows the stack from a few thousand levels on (the report had 2,000,000); JSON.parse does not.
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = [
      JSON.stringify({ ...conv(900160), priority: 'DEEP' }),
      JSON.stringify({ ...conv(900161), network: 'DEEP', authorId: 'DEEP', createdAt: 'DEEP', surveyScore: 'DEEP' }),
    ].join('\n').replaceAll('"DEEP"', deep);
    const r = await ingest('conversations', body);
    assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 500));
    assert.equal(r.body.code, 'INVALID_RECORDS');
    const cut = `${'['.repeat(60)}…`;
    assert.deepEqual(r.body.errors, [
      { line: 1, field: 'priority', reason: `must be a whole number, not ${cut}` },
      { line: 2, field: 'network', reason: `${cut} is not one of TWITTER, FACEBOOK, INSTAGRAM, WHATSAPP, CHAT, EMAIL, SMS` },
      { line: 2, field: 'authorId', reason: `must be a positive whole-number id, not ${cut}` },
      { line: 2, field: 'createdAt', reason: `must be an ISO 8601 time with offset (2019-03-01T12:00:00Z) or epoch milliseconds, not ${cut}` },
      { line: 2, field: 'surveyScore', reason: `must be a whole number, not ${cut}` },
    ]);
    const agent = JSON.stringify({ ...findEntity('agents')!.example, enabled: 'DEEP', teamIds: ['DEEP'] }).replaceAll('"DEEP"', deep);
    const a = await ingest('agents', agent);
    assert.deepEqual(a.body.errors, [
      { line: 1, field: 'enabled', reason: `must be true or false, not ${cut}` },
      { line: 1, field: 'teamIds', reason: `item ${cut}: must be a positive whole-number id, not ${cut}` },
    ]);
  });

  it('a reason shows a long value cut short', async () => {
    const r = await ingest('conversations', ndjson([{ ...conv(900170), network: 'X'.repeat(100_000) }]));
    assert.deepEqual(r.body.errors, [{ line: 1, field: 'network', reason: `"${'X'.repeat(59)}… is not one of TWITTER, FACEBOOK, INSTAGRAM, WHATSAPP, CHAT, EMAIL, SMS` }]);
  });

  it('fields named constructor, __proto__, toString and hasOwnProperty are unknown fields, in NDJSON and in a JSON array', async () => {
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const line = JSON.stringify(conv(900180)).replace(/}$/, `,${names.map((n) => `"${n}":{"id":1}`).join(',')}}`);
    for (const [body, type] of [[`${line}\n`, 'application/x-ndjson'], [`[${line}]`, 'application/json']] as const) {
      const r = await ingest('conversations', body, 'demo', type);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.deepEqual(r.body.errors!.map((e) => [e.line, e.field]), names.map((n) => [1, n]));
      assert.match(r.body.errors![0]!.reason, /^unknown field; conversations records have id, displayId/);
    }
    for (const entity of ['constructor', '__proto__', 'toString']) {
      const r = await ingest(entity, `${line}\n`);
      assert.equal(r.status, 404, entity);
      assert.equal(r.body.code, 'NOT_FOUND');
    }
    const near = await ingest('conversation', `${line}\n`);
    assert.match(near.body.message ?? '', /^there is no entity 'conversation'; did you mean conversations\?/);
  });

  it('10,000 records with 180 unknown fields each: every problem counted, the first 1,000 kept, never all 1.8 million', async () => {
    // Two capitals each: no field of a record is named so.
    const keys = Array.from({ length: 180 }, (_, i) => `${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`);
    const queue = { id: 970001, name: 'q', updatedAt: '2019-01-01T00:00:00Z', ...Object.fromEntries(keys.map((k) => [k, 0])) };
    // The check keeps what it lists bounded, whatever the batch holds.
    const { problems } = validateRecords(findEntity('work-queues')!, Array.from({ length: MAX_RECORDS }, (_, i) => ({ line: i + 1, value: queue })));
    assert.equal(problems.count, MAX_RECORDS * 180);
    assert.equal(problems.listed.length, MAX_PROBLEMS_LISTED);
    // And the API answers with the count and that first page (a tenth of the batch keeps the test quick).
    const r = await ingest('work-queues', ndjson(Array.from({ length: MAX_RECORDS / 10 }, (_, i) => ({ ...queue, id: 970001 + i }))));
    assert.equal(r.status, 400);
    assert.match(r.body.message ?? '', /^180000 problems in the batch, nothing was written; first: line 1, AA: unknown field/);
    assert.equal(r.body.errors!.length, MAX_PROBLEMS_LISTED);
    assert.deepEqual(r.body.errors!.at(-1), { line: 6, field: keys[1000 - 5 * 180 - 1], reason: r.body.errors![0]!.reason });
  });

  it('agent states, keyed by agent, device and start, are inserted and then left unchanged', async () => {
    const state = { agentId: 1001, device: 'MOBILE', startedAt: '2019-03-01T10:00:00.250Z', endedAt: '2019-03-01T11:00:00Z', state: 'YELLOW', updatedAt: '2019-03-01T11:00:00Z' };
    const first = await ingest('agent-states', JSON.stringify([state]), 'demo', 'application/json');
    assert.deepEqual(first.body.result, { received: 1, inserted: 1, updated: 0, unchanged: 0, unknownReferenceCount: 0, unknownReferences: [] });
    const again = await ingest('agent-states', ndjson([state]));
    assert.deepEqual(again.body.result, { received: 1, inserted: 0, updated: 0, unchanged: 1, unknownReferenceCount: 0, unknownReferences: [] });
    const stored = await svc.pool.query<{ s: string }>(
      `SELECT t.state AS s FROM agent_states t JOIN companies c ON c.id = t.company_id WHERE c.key = 'demo' AND t.agent_id = 1001 AND t.device = 'MOBILE' AND t.started_at = '2019-03-01T10:00:00.250Z'`,
    );
    assert.deepEqual(stored.rows, [{ s: 'YELLOW' }]);
  });

  it('agent states must end after they start; a JSON array reports positions', async () => {
    const r = await ingest('agent-states', JSON.stringify([{ agentId: 1001, device: 'CONSOLE', startedAt: '2019-03-01T10:00:00Z', endedAt: '2019-03-01T09:00:00Z', state: 'GREEN', updatedAt: '2019-03-01T10:00:00Z' }]), 'demo', 'application/json');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, [{ line: 1, field: 'endedAt', reason: 'must be after startedAt' }]);
  });
});

describe('no value makes a server error', () => {
  const weird: unknown[] = [
    null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53, 9e15, -9e15, 1e308, '', ' ', 'x'.repeat(100_001), '\u0000', '\ud800', 'a\udc00b',
    '2019-02-30T00:00:00Z', '9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z', '2019-01-01T00:00:00+15:59', '2019-01-01T00:00:00+23:59',
    '2019-01-01T24:00:00Z', '2019-01-01T23:59:59.999999Z', '1e3', '-5', '9223372036854775807', '9223372036854775808', '00000000000000000001',
    [], [null], ['\u0000'], [1e30], ['1', '1'], {}, { a: '\ud800' }, { networks: ['SMS'], priorities: [9] },
  ];
  it('each field of each entity, set to each of 40 awkward values: 200 or 400, never 5xx', { timeout: 120_000 }, async () => {
    const cases: [string, string, unknown][] = [];
    for (const e of ENTITIES) for (const f of [...e.fields.map((x) => x.name), 'updatedAt']) for (const v of weird) cases.push([e.name, f, v]);
    const failures = await failuresOf(cases, async ([name, field, value]) => {
      const e = ENTITIES.find((x) => x.name === name)!;
      const r = await ingest(name, JSON.stringify({ ...e.example, [field]: value }) + '\n');
      return r.status !== 200 && r.status !== 400 ? `${name}.${field} = ${JSON.stringify(value)?.slice(0, 40)}: ${r.status} ${r.body.message}` : undefined;
    });
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases`);
  });
});

describe('concurrent batches', () => {
  it('batches naming the same keys in opposite orders, sent at once, all succeed and the newest versions win', async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => 960001 + i);
    const batch = (order: number[], version: number) => ndjson(order.map((id) => conv(id, { displayId: `v${version}`, updatedAt: `2019-06-0${version}T10:00:00Z` })));
    for (let round = 1; round <= 3; round++) {
      const answers = await Promise.all([
        ingest('conversations', batch(ids, 2 * round)),
        ingest('conversations', batch([...ids].reverse(), 2 * round + 1)),
      ]);
      assert.deepEqual(answers.map((a) => a.status), [200, 200], JSON.stringify(answers.map((a) => a.body.message)));
    }
    const stored = await svc.pool.query<{ d: string; n: number }>(
      `SELECT display_id AS d, count(*)::int AS n FROM conversations t JOIN companies c ON c.id = t.company_id WHERE c.key = 'demo' AND conversation_id BETWEEN 960001 AND 962000 GROUP BY 1`,
    );
    assert.deepEqual(stored.rows, [{ d: 'v7', n: 2000 }]);
  });
});

describe('references', () => {
  it('unknown ids are reported with their lines, and the records are kept', async () => {
    const r = await ingest('posts', ndjson([
      { id: 990001, conversationId: 100001, type: 'INCOMING', authorId: 5000001, postedAt: '2019-01-01T10:00:00Z', content: 'ok', updatedAt: '2019-01-01T10:00:00Z' },
      { id: 990002, conversationId: 123456789, type: 'RESPONSE', agentId: 424242, postedAt: '2019-01-01T10:00:00Z', content: 'early', updatedAt: '2019-01-01T10:00:00Z' },
    ]));
    assert.equal(r.status, 200);
    assert.equal(r.body.result.inserted, 2);
    assert.deepEqual(r.body.result.unknownReferences, [
      { line: 2, field: 'conversationId', id: '123456789', entity: 'conversations' },
      { line: 2, field: 'agentId', id: '424242', entity: 'agents' },
    ]);
    assert.equal(r.body.result.unknownReferenceCount, 2);
  });

  it('a batch of 3,000 posts whose conversations are not there yet: all counted, the first 1,000 listed by line', async () => {
    const posts = Array.from({ length: 3000 }, (_, i) => ({ id: 991001 + i, conversationId: 88000000 + i, type: 'INCOMING', authorId: 5000001, postedAt: '2019-01-01T10:00:00Z', content: 'x', updatedAt: '2019-01-01T10:00:00Z' }));
    const r = await ingest('posts', ndjson(posts));
    assert.equal(r.body.result.inserted, 3000);
    assert.equal(r.body.result.unknownReferenceCount, 3000);
    const listed = r.body.result.unknownReferences as { line: number; id: string }[];
    assert.equal(listed.length, 1000);
    assert.deepEqual(listed.map((u) => [u.line, u.id]), posts.slice(0, 1000).map((p, i) => [i + 1, String(p.conversationId)]));
  });
});

describe('bodies, limits and access', () => {
  it('malformed JSON, a non-array body, a wrong type, bad UTF-8, and an unknown entity', async () => {
    const cases: [Promise<{ status: number; body: { message: string | null } }>, number, RegExp][] = [
      [ingest('teams', '{"id": 1,\n'), 400, /line 1 is not valid JSON/],
      [ingest('teams', '{"id": 1}', 'demo', 'application/json'), 400, /a JSON body must be an array of records/],
      [ingest('teams', 'id,name\n1,x', 'demo', 'text/csv'), 415, /Content-Type 'text\/csv' is not accepted; send application\/x-ndjson/],
      [ingest('teams', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'demo'), 400, /not valid UTF-8/],
      [ingest('tickets', '{}'), 404, /there is no entity 'tickets'; ingest one of teams, agents/],
      [ingest('teams', ''), 400, /the body is empty/],
    ];
    for (const [p, status, message] of cases) {
      const r = await p;
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(r.body.message ?? '', message);
    }
  });

  it('too many records, or too many bytes, is a 413 naming the limit', async () => {
    const many = ndjson(Array.from({ length: MAX_RECORDS + 1 }, (_, i) => ({ id: 500000 + i, name: 'q', updatedAt: '2019-01-01T00:00:00Z' })));
    const r = await ingest('work-queues', many);
    assert.equal(r.status, 413);
    assert.match(r.body.message ?? '', new RegExp(`${MAX_RECORDS + 1} records, over the limit of ${MAX_RECORDS}`));
    const big = await ingest('work-queues', Buffer.alloc(17 * 1024 * 1024, 0x20));
    assert.equal(big.status, 413);
    assert.match(big.body.message ?? '', /over the limit of 16777216 bytes/);
  });

  it('needs the INGEST permission and writes only into the caller’s company', async () => {
    assert.equal((await ingest('teams', ndjson([{ id: 1, uuid: '00000000-0000-0000-0000-000000000001', name: 'x', updatedAt: '2019-01-01T00:00:00Z' }]), 'demo2')).status, 403);
    assert.equal((await getJson(`${svc.base}/api/v2/ingest/teams`, { ...basic('demo', 'wrong-password'), 'Content-Type': 'application/x-ndjson' }, { method: 'POST', body: '{}' })).status, 401);
    // acme writes a conversation with an id demo also has: it lands in acme only.
    const demoBefore = await snapshot('conversations', 't.conversation_id = 100001');
    const r = await ingest('conversations', ndjson([conv(100001, { displayId: 'ACME-1', updatedAt: '2030-01-01T00:00:00Z', createdAt: '2019-01-01T00:00:00Z' })]), 'acme');
    assert.equal(r.status, 400, 'a time in the future is refused');
    const ok = await ingest('conversations', ndjson([conv(100001, { displayId: 'ACME-1', updatedAt: '2025-01-01T00:00:00Z' })]), 'acme');
    assert.equal(ok.status, 200);
    assert.deepEqual(await snapshot('conversations', 't.conversation_id = 100001'), demoBefore, "demo's conversation is untouched");
    const acme = await svc.pool.query<{ display_id: string }>(`SELECT display_id FROM conversations t JOIN companies c ON c.id = t.company_id WHERE c.key = 'acme' AND conversation_id = 100001`);
    assert.equal(acme.rows[0]!.display_id, 'ACME-1');
  });
});

describe('a hand-written data set comes back exactly through the exports', () => {
  it('conversation and combined', async () => {
    const client = await svc.pool.connect();
    try {
      await createCompany(client, { key: 'tiny', name: 'Tiny', timezone: 'UTC' });
    } finally {
      client.release();
    }
    await createUser(svc.pool, { companyKey: 'tiny', username: 'tiny', password: PASSWORD });
    await grant(svc.pool, 'tiny', 'INGEST');
    await grant(svc.pool, 'tiny', 'ANALYTICS_REPORTS_API');
    const u = '2019-05-02T00:00:00Z';
    const steps: [string, object[]][] = [
      ['teams', [{ id: 10, uuid: '00000000-0000-0000-0000-000000000010', name: 'Alpha', updatedAt: u }]],
      ['agents', [{ id: 20, displayId: 'a.20', name: 'Ada', email: 'ada@example.com', role: 'AGENT', createdAt: '2019-01-01T00:00:00Z', teamIds: [10], updatedAt: u }]],
      ['work-queues', [{ id: 30, name: 'Main', updatedAt: u }]],
      ['authors', [{ id: 40, handle: '@cust', displayName: 'Customer, "Q"', network: 'CHAT', firstSeenAt: '2019-01-01T00:00:00Z', updatedAt: u }]],
      ['conversations', [
        { id: 50, displayId: 'T-50', network: 'CHAT', status: 'CLOSED', priority: 1, workqueueId: 30, assignedAgentId: 20, teamId: 10, authorId: 40, createdAt: '2019-05-01T10:00:00Z', firstAssignedAt: '2019-05-01T10:01:00Z', firstResponseAt: '2019-05-01T10:03:00Z', closedAt: '2019-05-01T11:00:00Z', handleTimeMs: 120000, tags: ['a', 'b'], sentiment: 'POSITIVE', surveyScore: 5, updatedAt: u },
        { id: 51, displayId: 'T-51', network: 'CHAT', status: 'OPEN', priority: 4, authorId: 40, createdAt: '2019-05-01T12:00:00Z', updatedAt: u },
      ]],
      ['posts', [
        { id: 60, conversationId: 50, type: 'INCOMING', authorId: 40, postedAt: '2019-05-01T10:00:00Z', content: 'Hi, "help",\nplease', updatedAt: u },
        { id: 61, conversationId: 50, type: 'RESPONSE', agentId: 20, postedAt: '2019-05-01T10:03:00Z', content: 'On it 👍', approvalStatus: 'NOT_REQUIRED', updatedAt: u },
        { id: 62, conversationId: 51, type: 'INCOMING', authorId: 40, postedAt: '2019-05-01T12:00:00Z', content: 'Again', updatedAt: u },
      ]],
    ];
    for (const [entity, records] of steps) {
      const r = await ingest(entity, ndjson(records), 'tiny');
      assert.equal(r.status, 200, `${entity}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body.result.unknownReferences, [], entity);
    }
    const range = `startTime=${Date.UTC(2019, 4, 1)}&endTime=${Date.UTC(2019, 4, 2)}`;
    const convCsv = (await exportFile(svc, `conversation?companyKey=tiny&${range}&reportFormat=csv&conversationReportType=CREATED&reportMetrics=CONVERSATION_ID&reportMetrics=STATUS&reportMetrics=ASSIGNED_AGENT_DISPLAY_ID&reportMetrics=TEAM_NAME&reportMetrics=AUTHOR_HANDLE&reportMetrics=CLOSED_TIME&reportMetrics=TIME_TO_FIRST_RESPONSE_MILLIS&reportMetrics=INCOMING_POST_COUNT&reportMetrics=RESPONSE_COUNT&reportMetrics=TAGS&reportMetrics=SURVEY_SCORE`, 'tiny')).toString('utf8');
    assert.equal(convCsv, [
      'CONVERSATION_ID,STATUS,ASSIGNED_AGENT_DISPLAY_ID,TEAM_NAME,AUTHOR_HANDLE,CLOSED_TIME,TIME_TO_FIRST_RESPONSE_MILLIS,INCOMING_POST_COUNT,RESPONSE_COUNT,TAGS,SURVEY_SCORE',
      '50,CLOSED,a.20,Alpha,@cust,2019-05-01T11:00:00.000+00:00,180000,1,1,"a,b",5',
      '51,OPEN,,,@cust,,,1,0,,',
      '',
    ].join('\n'));
    const combined = JSON.parse((await exportFile(svc, `combined?companyKey=tiny&${range}&reportFormat=json&reportMetrics=POST_ID&reportMetrics=POST_TYPE&reportMetrics=AGENT_ID&reportMetrics=TEAM_ID&reportMetrics=CONTENT`, 'tiny')).toString('utf8')) as unknown;
    assert.deepEqual(combined, [
      { POST_ID: '60', POST_TYPE: 'INCOMING', AGENT_ID: '', TEAM_ID: '10', CONTENT: 'Hi, "help",\nplease' },
      { POST_ID: '61', POST_TYPE: 'RESPONSE', AGENT_ID: '20', TEAM_ID: '10', CONTENT: 'On it 👍' },
      { POST_ID: '62', POST_TYPE: 'INCOMING', AGENT_ID: '', TEAM_ID: '', CONTENT: 'Again' },
    ]);
    const users = (await exportFile(svc, `user?companyKey=tiny&${range}&reportFormat=csv&reportMetrics=AGENT_ID&reportMetrics=NAME&reportMetrics=TEAM_IDS`, 'tiny')).toString('utf8');
    assert.equal(users, 'AGENT_ID,NAME,TEAM_IDS\n20,Ada,10\n');
  });
});

describe('the record schemas', () => {
  it('docs/ingest.md is generated from them and up to date (npm run docs), and every example is a valid record', async () => {
    const docs = await fs.readFile(new URL('../docs/ingest.md', import.meta.url), 'utf8');
    assert.equal(docs, renderIngestMarkdown(), 'docs/ingest.md is stale: run npm run docs');
    for (const e of ENTITIES) {
      assert.ok(docs.includes(`## ${e.name}\n`));
      const { problems } = validateRecords(e, [{ line: 1, value: e.example }]);
      assert.deepEqual(problems.listed, [], `the example of ${e.name} validates`);
    }
  });
});
