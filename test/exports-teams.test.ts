/**
 * team_performance and team_performance_interval against hand-written SQL:
 * every filter, every allowed interval, month buckets, the interval rules,
 * and buckets on the DST day in America/Chicago.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSpec, t, type Spec } from './helpers/export-specs.ts';
import {
  BUSINESS_HOUR_CASES, checkCase, CONVERSATION_FILTER_CASES, exportRows, WEEK_END, WEEK_START, type FilterCase, type Filters,
} from './helpers/oracle.ts';
import { basic, getJson, startTestService } from './helpers/service.ts';

const svc = await startTestService();

const CHICAGO = { iana: 'America/Chicago' } as const;

/**
 * Buckets written out in SQL: local wall-clock steps of `step` from the local
 * start of `trunc` ('day', 'week' or 'month'), turned into instants by
 * PostgreSQL's AT TIME ZONE, deduplicated, clipped to the range.
 */
function bucketsSql(zone: string, step: string, trunc: 'day' | 'week' | 'month'): string {
  return `SELECT greatest(x.s, {S}) AS start_at, least(x.e, {E}) AS end_at, row_number() OVER (ORDER BY x.s) AS n
            FROM (SELECT s, lead(s) OVER (ORDER BY s) AS e
                    FROM (SELECT DISTINCT g AT TIME ZONE '${zone}' AS s
                            FROM generate_series(date_trunc('${trunc}', {S} AT TIME ZONE '${zone}'),
                                                 date_trunc('${trunc}', {E} AT TIME ZONE '${zone}') + interval '1 ${trunc}',
                                                 interval '${step}') g) q) x
           WHERE x.e > {S} AND x.s < {E}`;
}

/** Team aggregates per bucket (or over the whole range) by correlated subqueries. */
function teamOracle(f: Filters, buckets?: string): string {
  const win = (x: string) => `${x} >= b.start_at AND ${x} < b.end_at`;
  const agentOk = (a: string) => `(${f.includeDisabled} OR ${a} IS NULL OR ${a} IN (SELECT agent_id FROM agents WHERE company_id = $1 AND enabled))`;
  const convs = (time: string) => `FROM cv c WHERE c.team_id = tm.team_id AND ${win(time)} AND ${f.bh(time)} AND ${agentOk('c.assigned_agent_id')}`;
  const responses = `FROM rp p WHERE p.team_id = tm.team_id AND ${win('p.posted_at')} AND ${f.bh('p.posted_at')} AND ${agentOk('p.agent_id')}`;
  const inRange = (x: string) => `(${x} >= {S} AND ${x} < {E})`;
  return `
    WITH cv AS MATERIALIZED (
           SELECT c.* FROM conversations c WHERE c.company_id = $1 AND ${f.conv('c')}
              AND (${inRange('c.first_assigned_at')} OR ${inRange('c.first_response_at')} OR ${inRange('c.closed_at')})),
         rp AS MATERIALIZED (
           SELECT p.agent_id, p.posted_at, c.team_id FROM posts p JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id
            WHERE p.company_id = $1 AND p.post_type = 'RESPONSE' AND ${inRange('p.posted_at')} AND ${f.conv('c')})
    SELECT ${buckets ? `${t('b.start_at')} AS "INTERVAL_START", ${t('b.end_at')} AS "INTERVAL_END",` : ''}
           tm.team_id::text AS "TEAM_ID", tm.name AS "TEAM_NAME",
           (SELECT count(DISTINCT p.agent_id) ${responses})::text AS "ACTIVE_AGENTS",
           (SELECT count(*) ${convs('c.first_assigned_at')})::text AS "CONVERSATIONS_ASSIGNED",
           (SELECT count(*) ${convs('c.closed_at')})::text AS "CONVERSATIONS_CLOSED",
           (SELECT count(*) ${responses})::text AS "RESPONSES",
           (SELECT round(avg(extract(epoch FROM c.first_response_at - c.created_at) * 1000))::bigint::text ${convs('c.first_response_at')}) AS "AVG_TIME_TO_FIRST_RESPONSE_MILLIS",
           (SELECT round(avg(c.handle_time_ms))::bigint::text ${convs('c.closed_at')}) AS "AVG_HANDLE_TIME_MILLIS",
           (SELECT round(avg(extract(epoch FROM c.closed_at - c.created_at) * 1000))::bigint::text ${convs('c.closed_at')}) AS "AVG_RESOLUTION_TIME_MILLIS"
      FROM (${buckets ?? 'SELECT {S} AS start_at, {E} AS end_at, 1 AS n'}) b CROSS JOIN teams tm
     WHERE tm.company_id = $1 AND (${f.includeDisabled} OR tm.enabled) AND ${f.team('tm.team_id')}
     ORDER BY b.n, tm.team_id`;
}

const TEAM_FILTERS: FilterCase[] = [
  ...CONVERSATION_FILTER_CASES,
  ...BUSINESS_HOUR_CASES,
  { name: 'teamIds', query: 'teamIds=6222,6225', filters: { team: (x) => `${x} IN (6222, 6225)` }, effect: 'changes' },
  { name: 'teamIds (all enabled)', query: 'teamIds=6222,6223,6224,6225,6226', filters: {}, effect: 'keeps' },
  { name: 'includeDisabled', query: 'includeDisabled=true', filters: { includeDisabled: true }, effect: 'changes' },
  { name: 'includeDisabled=false', query: 'includeDisabled=false', filters: {}, effect: 'keeps' },
];

const TEAM_PERFORMANCE: Spec = { path: 'team_performance', oracle: (f) => teamOracle(f), subset: ['RESPONSES', 'TEAM_NAME'], filters: TEAM_FILTERS };

describeSpec(svc, TEAM_PERFORMANCE, {
  base: (rows) => {
    assert.equal(rows.length, 5, 'the five enabled teams');
    assert.ok(rows.every((r) => r['RESPONSES'] !== '0'));
  },
  more: ({ base, unfiltered }) => {
    it('includeDisabled brings back the retired team and the work of disabled agents', async () => {
      const rows = await checkCase(svc, { ...base, query: 'includeDisabled=true' }, TEAM_PERFORMANCE.oracle, { includeDisabled: true });
      assert.equal(rows.length, 6);
      assert.equal(rows.find((r) => r['TEAM_ID'] === '6227')?.['RESPONSES'], '0');
      const responses = (rs: typeof rows) => rs.filter((r) => r['TEAM_ID'] !== '6227').reduce((n, r) => n + Number(r['RESPONSES']), 0);
      assert.ok(responses(rows) > responses(await unfiltered()), 'disabled agents responded that week');
    });
  },
});

describe('team_performance_interval', () => {
  const TWO_DAYS = { start: Date.UTC(2019, 2, 9, 6), end: Date.UTC(2019, 2, 11, 6) }; // spans the DST change in Chicago
  const TWO_WEEKS = { start: Date.UTC(2019, 2, 4), end: Date.UTC(2019, 2, 18) };
  const intervals: [number, string, 'day' | 'week' | 'month', { start: number; end: number }][] = [
    [300_000, '5 minutes', 'day', TWO_DAYS],
    [600_000, '10 minutes', 'day', TWO_DAYS],
    [900_000, '15 minutes', 'day', TWO_DAYS],
    [1_800_000, '30 minutes', 'day', TWO_DAYS],
    [3_600_000, '1 hour', 'day', TWO_DAYS],
    [7_200_000, '2 hours', 'day', TWO_DAYS],
    [14_400_000, '4 hours', 'day', TWO_DAYS],
    [28_800_000, '8 hours', 'day', TWO_WEEKS],
    [43_200_000, '12 hours', 'day', TWO_WEEKS],
    [86_400_000, '1 day', 'day', TWO_WEEKS],
    [604_800_000, '1 week', 'week', { start: Date.UTC(2019, 0, 1), end: Date.UTC(2019, 2, 1) }],
    [2_592_000_000, '1 month', 'month', { start: Date.UTC(2019, 0, 15), end: Date.UTC(2019, 5, 15) }],
  ];
  for (const [ms, step, trunc, range] of intervals) {
    it(`timeInterval=${ms} (${step}) in America/Chicago`, async () => {
      // Sub-hour buckets are checked on two teams to keep the oracle quick.
      const teams = ms < 3_600_000 ? '&teamIds=6222,6223' : '';
      const rows = await checkCase(
        svc,
        { path: 'team_performance_interval', ...range, zone: CHICAGO, query: `timeInterval=${ms}${teams}` },
        (f) => teamOracle(f, bucketsSql('America/Chicago', step, trunc)),
        teams ? { team: (x) => `${x} IN (6222, 6223)` } : {},
      );
      assert.ok(rows.length > 0);
      assert.ok(rows.some((r) => r['RESPONSES'] !== '0'), 'some bucket has activity');
    });
  }

  it('months are calendar months in the zone, the first and last clipped to the range', async () => {
    const rows = await exportRows(svc, {
      path: 'team_performance_interval', start: Date.UTC(2019, 0, 15), end: Date.UTC(2019, 5, 15), zone: CHICAGO,
      query: 'timeInterval=2678400000&teamIds=6222', columns: ['INTERVAL_START', 'INTERVAL_END'],
    });
    assert.deepEqual(rows.map((r) => `${r['INTERVAL_START']} ${r['INTERVAL_END']}`), [
      '2019-01-14T18:00:00.000-06:00 2019-02-01T00:00:00.000-06:00',
      '2019-02-01T00:00:00.000-06:00 2019-03-01T00:00:00.000-06:00',
      '2019-03-01T00:00:00.000-06:00 2019-04-01T00:00:00.000-05:00',
      '2019-04-01T00:00:00.000-05:00 2019-05-01T00:00:00.000-05:00',
      '2019-05-01T00:00:00.000-05:00 2019-06-01T00:00:00.000-05:00',
      '2019-06-01T00:00:00.000-05:00 2019-06-14T19:00:00.000-05:00',
    ]);
  });

  it('on the DST day in America/Chicago hours skip 02:00, the day has 23 hours and 8-hour buckets bend', async () => {
    const day = { start: Date.UTC(2019, 2, 10, 6), end: Date.UTC(2019, 2, 11, 5) }; // local midnight to midnight
    const bounds = async (ms: number, range = day) =>
      (await exportRows(svc, { path: 'team_performance_interval', ...range, zone: CHICAGO, query: `timeInterval=${ms}&teamIds=6222`, columns: ['INTERVAL_START', 'INTERVAL_END'] }))
        .map((r) => `${r['INTERVAL_START']!.slice(11, 16)}${r['INTERVAL_START']!.slice(-6)}–${r['INTERVAL_END']!.slice(11, 16)}${r['INTERVAL_END']!.slice(-6)}`);
    const hours = await bounds(3_600_000);
    assert.equal(hours.length, 23);
    assert.deepEqual(hours.slice(0, 3), ['00:00-06:00–01:00-06:00', '01:00-06:00–03:00-05:00', '03:00-05:00–04:00-05:00']);
    assert.deepEqual(await bounds(28_800_000), ['00:00-06:00–08:00-05:00', '08:00-05:00–16:00-05:00', '16:00-05:00–00:00-05:00']);
    const days = await bounds(86_400_000, { start: Date.UTC(2019, 2, 9, 6), end: Date.UTC(2019, 2, 12, 5) });
    assert.deepEqual(days, ['00:00-06:00–00:00-06:00', '00:00-06:00–00:00-05:00', '00:00-05:00–00:00-05:00']);
  });

  it('filters apply per bucket', async () => {
    const range = { start: Date.UTC(2019, 1, 18), end: Date.UTC(2019, 1, 25) };
    for (const f of TEAM_FILTERS.filter((x) => ['priorities', 'teamIds', 'includeDisabled', 'business hours (outside)'].includes(x.name))) {
      await checkCase(svc, { path: 'team_performance_interval', ...range, query: `timeInterval=86400000&${f.query}` }, (x) => teamOracle(x, bucketsSql('UTC', '1 day', 'day')), f.filters);
    }
  });

  describe('interval rules answer 400 with the fix', () => {
    const create = (query: string, path = 'team_performance_interval') =>
      getJson(`${svc.base}/api/public/reports/report/${path}?companyKey=demo&${query}`, basic('demo'));
    const DAY = 86_400_000;
    const cases: [string, string, RegExp][] = [
      ['missing', `startTime=${WEEK_START}&endTime=${WEEK_END}`, /timeInterval is required: the bucket length in milliseconds, one of 300000, 600000/],
      ['not allowed', `startTime=${WEEK_START}&endTime=${WEEK_END}&timeInterval=1000`, /timeInterval 1000 is not an allowed interval; use one of 300000/],
      ['not a number', `startTime=${WEEK_START}&endTime=${WEEK_END}&timeInterval=hourly`, /timeInterval 'hourly' is not a number of milliseconds/],
      ['hourly over more than a week', `startTime=${WEEK_START}&endTime=${WEEK_START + 8 * DAY}&timeInterval=3600000`, /timeInterval 3600000 is too short for a range longer than one week; use 28800000/],
      ['8 hours over more than a month', `startTime=${WEEK_START}&endTime=${WEEK_START + 32 * DAY}&timeInterval=28800000`, /timeInterval 28800000 is too short for a range longer than one month; use 86400000/],
      ['too many 5-minute buckets', `startTime=${Date.UTC(2019, 1, 1)}&endTime=${Date.UTC(2019, 1, 4)}&timeInterval=300000`, /^Too many buckets \(864\) requested\. Select a larger interval\?$/],
      ['too many days', `startTime=${Date.UTC(2016, 0, 1)}&endTime=${Date.UTC(2019, 0, 1)}&timeInterval=86400000`, /^Too many buckets \(1096\) requested\. Select a larger interval\?$/],
    ];
    for (const [name, query, message] of cases) {
      it(name, async () => {
        const r = await create(query);
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.status, 'FAIL');
        assert.match(r.body.message ?? '', message);
      });
    }
    it('timeInterval has no meaning for team_performance', async () => {
      const r = await create(`startTime=${WEEK_START}&endTime=${WEEK_END}&timeInterval=3600000`, 'team_performance');
      assert.equal(r.status, 400);
      assert.match(r.body.message ?? '', /timeInterval has no meaning for the team_performance export/);
    });
  });
});
