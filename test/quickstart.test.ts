/**
 * The quick start, end to end through a real socket: create (GET, POST form,
 * POST JSON, the doubled path), poll statusUrl, follow the 307 without
 * credentials, and compare the file with rows read independently.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { basic, download, getJson, startTestService, waitClosed, type TestService } from './helpers/service.ts';
import { expectedConversations, OPEN_AT_END } from './helpers/expected.ts';

const START = 1551441600000; // 2019-03-01T12:00:00Z
const END = 1556712000000; // 2019-05-01T12:00:00Z
const ALL_COLUMNS = [
  'CONVERSATION_ID', 'CONVERSATION_DISPLAY_ID', 'NETWORK', 'STATUS', 'PRIORITY', 'WORKQUEUE_ID', 'WORKQUEUE_NAME', 'ASSIGNED_AGENT_ID',
  'ASSIGNED_AGENT_DISPLAY_ID', 'ASSIGNED_AGENT_NAME', 'TEAM_ID', 'TEAM_NAME', 'AUTHOR_ID', 'AUTHOR_HANDLE', 'CREATED_TIME',
  'FIRST_ASSIGNED_TIME', 'FIRST_RESPONSE_TIME', 'CLOSED_TIME', 'TIME_TO_FIRST_RESPONSE_MILLIS', 'HANDLE_TIME_MILLIS',
  'RESOLUTION_TIME_MILLIS', 'INCOMING_POST_COUNT', 'RESPONSE_COUNT', 'REOPEN_COUNT', 'TAGS', 'SENTIMENT', 'SURVEY_SCORE',
];

/** The full id set, and every value of a spread sample of rows (first, last and every 17th). Columns must include CONVERSATION_ID. */
function assertSameRows(actual: Record<string, string>[], expected: Map<string, Record<string, string>>, columns: string[]): void {
  assert.ok(columns.includes('CONVERSATION_ID'));
  assert.equal(actual.length, expected.size, 'row count');
  assert.deepEqual(new Set(actual.map((r) => r['CONVERSATION_ID'])), new Set(expected.keys()));
  const sample = actual.filter((_, i) => i === 0 || i === actual.length - 1 || i % 17 === 0);
  assert.ok(sample.length > 10, 'a meaningful sample');
  for (const row of sample) {
    assert.deepEqual(Object.keys(row), columns, 'columns in the asked order');
    const want = expected.get(row['CONVERSATION_ID']!);
    assert.ok(want, `row ${row['CONVERSATION_ID']} is expected`);
    for (const col of columns) assert.equal(row[col], want[col], `${col} of conversation ${row['CONVERSATION_ID']}`);
  }
}

// Started at the top level: helpers register their clean-up with the file's root `after`.
// A real socket: the quick start is what curl does.
const svc: TestService = await startTestService({}, { listen: true });

describe('quick start', () => {
  const h = basic('demo');

  it('GET create → poll → 307 → CSV equal to the database, every column, en_US times in UTC', async () => {
    const url = `${svc.base}/api/public/reports/report/conversation?reportFormat=csv&locale=en_US&companyKey=demo&startTime=${START}&endTime=${END}`;
    const created = await getJson(url, h);
    assert.equal(created.status, 200);
    assert.equal(created.body.status, 'PASS');
    assert.equal(created.body.message, null);
    const { workflowId, runId, downloadUrl, statusUrl } = created.body.result as Record<string, string>;
    assert.match(workflowId!, /^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a v3 UUID');
    assert.match(runId!, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(downloadUrl, '');
    assert.ok(statusUrl!.startsWith(`${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId!)}/status?analyticsAccessToken=`));

    const closed = await waitClosed(statusUrl!, h);
    const r = closed.result.result;
    assert.deepEqual({ runnerState: r.runnerState, detail: r.detail, reason: r.reason }, { runnerState: 'CLOSED', detail: 'COMPLETED', reason: null });
    assert.equal(typeof r.lastAcknowledgeTime, 'number');
    const file = await download(closed.result.jobInfo.downloadUrl as string, h);
    assert.ok(file.location.startsWith(`${svc.base}/files/`), 'redirected to this service');
    assert.match(file.contentType ?? '', /^text\/csv/);

    const text = file.body.toString('utf8');
    assert.ok(text.startsWith(`${ALL_COLUMNS.join(',')}\n`), 'header row names every column in catalog order');
    const rows = parse<Record<string, string>>(text, { columns: true, skip_empty_lines: false });
    assert.equal(r.totalCount, rows.length);
    assert.equal(r.currentCount, rows.length);
    const expected = await expectedConversations(svc.pool, { companyKey: 'demo', where: OPEN_AT_END, start: START, end: END, style: 'en' });
    assert.ok(expected.size > 500, `the quick start range has plenty of rows (${expected.size})`);
    assertSameRows(rows, expected, ALL_COLUMNS);
    // Ordered by creation time.
    const created2 = rows.map((x) => x['CONVERSATION_ID']!);
    assert.deepEqual(created2, [...created2].sort((a, b) => Number(a) - Number(b)));
  });

  it('POST form body with a reportMetrics subset → JSON with those columns in that order, every value a string', async () => {
    const body = new URLSearchParams([
      ['startTime', String(START)], ['endTime', String(END)], ['conversationReportType', 'CREATED'],
      ['reportMetrics', 'status'], ['reportMetrics', 'CONVERSATION_ID'], ['reportMetrics', 'Assigned_Agent_Display_Id'], ['reportMetrics', 'CREATED_TIME'],
    ]);
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo`, h, { method: 'POST', body });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const closed = await waitClosed(created.body.result.statusUrl as string, h);
    const file = await download(closed.result.jobInfo.downloadUrl as string, h);
    const rows = JSON.parse(file.body.toString('utf8')) as Record<string, string>[];
    assert.ok(Array.isArray(rows));
    const columns = ['STATUS', 'CONVERSATION_ID', 'ASSIGNED_AGENT_DISPLAY_ID', 'CREATED_TIME'];
    for (const row of rows) for (const v of Object.values(row)) assert.equal(typeof v, 'string');
    const expected = await expectedConversations(svc.pool, {
      companyKey: 'demo',
      where: 'c.created_at >= to_timestamp($2 / 1000.0) AND c.created_at < to_timestamp($3 / 1000.0)',
      start: START,
      end: END,
    });
    assert.ok(expected.size > 2000);
    assertSameRows(rows, expected, columns);
  });

  it('POST JSON body on the doubled /report/report/ path, and the same request names the same workflow', async () => {
    const params = { startTime: START, endTime: END, reportFormat: 'JSON', reportMetrics: ['CONVERSATION_ID', 'PRIORITY'], priorities: '4,5' };
    const a = await getJson(`${svc.base}/api/public/reports/report/report/conversation?companyKey=demo`, { ...h, 'Content-Type': 'application/json' }, { method: 'POST', body: JSON.stringify(params) });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const closed = await waitClosed(a.body.result.statusUrl as string, h);
    const b = await getJson(
      `${svc.base}/api/public/reports/report/conversation?companyKey=demo&startTime=${START}&endTime=${END}&reportFormat=json&reportMetrics=CONVERSATION_ID&reportMetrics=PRIORITY&priorities=5%2C4`,
      h,
    );
    assert.equal(b.body.result.workflowId, a.body.result.workflowId, 'same canonical request, same workflowId');
    assert.notEqual(b.body.result.runId, a.body.result.runId, 'once the first has closed, the same request is a new run');
    const rows = JSON.parse((await download(closed.result.jobInfo.downloadUrl as string, h)).body.toString('utf8')) as Record<string, string>[];
    const expected = await expectedConversations(svc.pool, { companyKey: 'demo', where: `${OPEN_AT_END} AND c.priority IN (4, 5)`, start: START, end: END });
    assertSameRows(rows, expected, ['CONVERSATION_ID', 'PRIORITY']);
  });

  it('status and download also work with companyKey instead of the token, as the quick start shows', async () => {
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo&startTime=${START}&endTime=${END}&reportFormat=csv&reportMetrics=CONVERSATION_ID`, h);
    const { workflowId, runId } = created.body.result as Record<string, string>;
    const base = `${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId!)}`;
    const closed = await waitClosed(`${base}/status?companyKey=demo`, h);
    assert.equal(closed.result.result.detail, 'COMPLETED');
    const file = await download(`${base}/download?companyKey=demo`, h);
    const lines = file.body.toString('utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'CONVERSATION_ID');
    assert.equal(lines.length - 1, closed.result.result.totalCount);
  });
});
