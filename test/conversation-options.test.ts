/**
 * The conversation export's options against the independent oracle: zones
 * (DST included), fixed offsets, locales, the company time format, report
 * types and every filter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { expectedConversations, CLOSED_IN_RANGE, CREATED_IN_RANGE, OPEN_AT_END, type Style, type TestZone } from './helpers/expected.ts';
import { exportFile, startTestService } from './helpers/service.ts';

const svc = await startTestService();
// 2019-03-08 to 2019-03-13 UTC spans the US DST change of 2019-03-10.
const START = Date.UTC(2019, 2, 8);
const END = Date.UTC(2019, 2, 13);
const COLS = ['CONVERSATION_ID', 'CREATED_TIME', 'CLOSED_TIME', 'PRIORITY', 'WORKQUEUE_ID', 'NETWORK', 'TAGS'];
const metrics = COLS.map((c) => `reportMetrics=${c}`).join('&');

async function rows(query: string): Promise<Record<string, string>[]> {
  const file = await exportFile(svc, `conversation?companyKey=demo&startTime=${START}&endTime=${END}&reportFormat=csv&${metrics}&${query}`);
  return parse<Record<string, string>>(file.toString('utf8'), { columns: true });
}

type CheckOptions = { zone?: TestZone; style?: Style; minRows?: number };

async function checkRows(query: string, where: string, opts: CheckOptions = {}): Promise<Record<string, string>[]> {
  const got = await rows(query);
  const want = await expectedConversations(svc.pool, { companyKey: 'demo', where, start: START, end: END, ...opts });
  assert.equal(got.length, want.size, `row count for ${query}`);
  assert.ok(want.size >= (opts.minRows ?? 1), `the case selects rows (${want.size})`);
  for (const row of got) {
    const w = want.get(row['CONVERSATION_ID']!);
    assert.ok(w, `unexpected row ${row['CONVERSATION_ID']}`);
    for (const c of COLS) assert.equal(row[c], w[c], `${c} of ${row['CONVERSATION_ID']} (${query})`);
  }
  return got;
}

async function check(query: string, where: string, opts: CheckOptions = {}): Promise<void> {
  await checkRows(query, where, opts);
}

describe('time zones and formats', () => {
  it('America/Chicago, ISO 8601 (company default), across the DST change', async () => {
    const got = await checkRows('conversationReportType=CREATED&timezone=america/chicago', CREATED_IN_RANGE, { zone: { iana: 'America/Chicago' }, style: 'ISO_8601', minRows: 100 });
    const offsets = new Set(got.map((r) => r['CREATED_TIME']!.slice(-6)));
    assert.deepEqual([...offsets].sort(), ['-05:00', '-06:00'], 'both CST and CDT appear');
  });
  it('fixed timezoneOffset +05:30', () => check('conversationReportType=CREATED&timezoneOffset=19800000', CREATED_IN_RANGE, { zone: { offsetMs: 19_800_000 } }));
  for (const [locale, style] of [['de_DE', 'de'], ['fr', 'fr'], ['es-ES', 'es'], ['tr', 'tr'], ['EN', 'en']] as const) {
    it(`locale ${locale} in Europe/Istanbul`, () =>
      check(`conversationReportType=CREATED&locale=${locale}&timezone=Europe/Istanbul`, CREATED_IN_RANGE, { zone: { iana: 'Europe/Istanbul' }, style }));
  }
});

describe('report types', () => {
  it('CLOSED', () => check('conversationReportType=closed', CLOSED_IN_RANGE, { minRows: 100 }));
  it('OPEN_AT_END (default)', () => check('', OPEN_AT_END, { minRows: 10 }));
});

describe('filters select exactly their rows', () => {
  it('priorities', () => check('conversationReportType=CREATED&priorities=0%2C5', `${CREATED_IN_RANGE} AND c.priority IN (0, 5)`, { minRows: 10 }));
  it('workqueueIds', () => check('conversationReportType=CREATED&workqueueIds=502,504', `${CREATED_IN_RANGE} AND c.workqueue_id IN (502, 504)`, { minRows: 10 }));
  it('smartViewId (networks and priorities)', () =>
    check('conversationReportType=CREATED&smartViewId=9001', `${CREATED_IN_RANGE} AND c.network IN ('TWITTER','FACEBOOK','INSTAGRAM') AND c.priority IN (4, 5)`, { minRows: 5 }));
  it('smartViewId (tags)', () => check('conversationReportType=CREATED&smartViewId=9003', `${CREATED_IN_RANGE} AND c.tags && ARRAY['refund','fraud']`, { minRows: 5 }));
  // Business hours of the demo company: Monday–Friday 08:00–18:00 America/Chicago.
  const inside = `(extract(isodow FROM c.created_at AT TIME ZONE 'America/Chicago') BETWEEN 1 AND 5
    AND (c.created_at AT TIME ZONE 'America/Chicago')::time >= '08:00' AND (c.created_at AT TIME ZONE 'America/Chicago')::time < '18:00')`;
  it('business hours: inside', () => check('conversationReportType=CREATED&enableBusinessHour=true&businessHourType=true', `${CREATED_IN_RANGE} AND ${inside}`, { minRows: 10 }));
  it('business hours: outside', () => check('conversationReportType=CREATED&enableBusinessHour=true&businessHourType=false', `${CREATED_IN_RANGE} AND NOT ${inside}`, { minRows: 10 }));
  it('a smart view with its own business-hours setting overrides the request', () =>
    check(
      'conversationReportType=CREATED&smartViewId=9004&enableBusinessHour=true&businessHourType=true',
      `${CREATED_IN_RANGE} AND c.network IN ('WHATSAPP','SMS','CHAT') AND NOT ${inside}`,
      { minRows: 3 },
    ));
  it('filters that keep every row keep every row', () => check('conversationReportType=CREATED&priorities=0,1,2,3,4,5', CREATED_IN_RANGE, { minRows: 100 }));
});

describe('company isolation', () => {
  it("a company's export holds only its own conversations", async () => {
    const file = await exportFile(svc, `conversation?companyKey=acme&startTime=${Date.UTC(2019, 0, 1)}&endTime=${Date.UTC(2019, 6, 1)}&reportFormat=json&conversationReportType=CREATED&reportMetrics=CONVERSATION_ID`, 'acme');
    const ids = (JSON.parse(file.toString('utf8')) as { CONVERSATION_ID: string }[]).map((r) => r.CONVERSATION_ID);
    const own = await svc.pool.query<{ id: string }>(`SELECT conversation_id::text AS id FROM conversations c JOIN companies co ON co.id = c.company_id WHERE co.key = 'acme'`);
    assert.equal(ids.length, 300);
    assert.deepEqual(new Set(ids), new Set(own.rows.map((r) => r.id)));
  });
});
