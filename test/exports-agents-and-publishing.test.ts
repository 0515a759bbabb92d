/**
 * Approvals, expert help, agent states, users and brand posts against
 * hand-written SQL, with every filter removing rows and keeping them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSpecs, ms, specOf, t, type Spec } from './helpers/export-specs.ts';
import { BUSINESS_HOUR_CASES, checkCase, CONVERSATION_FILTER_CASES, exportRows, WEEK_END, WEEK_START, type Case } from './helpers/oracle.ts';
import { startTestService } from './helpers/service.ts';

const svc = await startTestService();

/** Whether a case filters by team (the oracles add a membership test only then). */
const byTeam = (f: { team(t: string): string }) => f.team('x') !== 'true';

// Mid-shift bounds, so agent-state intervals are cut by both ends of the range.
const SHIFT_START = Date.UTC(2019, 1, 20, 16);
const SHIFT_END = Date.UTC(2019, 1, 27, 16);
const ALL_TEAMS = 'teamIds=6222,6223,6224,6225,6226,6227';

const SPECS: Spec[] = [
  {
    path: 'response_approval',
    subset: ['WAIT_MILLIS', 'DECISION', 'RESPONSE_ID'],
    oracle: (f) => `
      SELECT ra.response_id::text AS "RESPONSE_ID", ra.conversation_id::text AS "CONVERSATION_ID",
             ra.submitting_agent_id::text AS "SUBMITTING_AGENT_ID", ra.reviewer_agent_id::text AS "REVIEWER_AGENT_ID",
             ra.team_id::text AS "TEAM_ID", ${t('ra.submitted_at')} AS "SUBMITTED_TIME", ra.decision AS "DECISION",
             ${t('ra.decision_at')} AS "DECISION_TIME", ${ms('ra.submitted_at', 'ra.decision_at')} AS "WAIT_MILLIS"
        FROM response_approvals ra
        JOIN conversations c ON c.company_id = ra.company_id AND c.conversation_id = ra.conversation_id
        JOIN agents sa ON sa.company_id = ra.company_id AND sa.agent_id = ra.submitting_agent_id
        LEFT JOIN teams tm ON tm.company_id = ra.company_id AND tm.team_id = ra.team_id
       WHERE ra.company_id = $1 AND ra.submitted_at >= {S} AND ra.submitted_at < {E}
         AND ${f.conv('c')} AND ${f.bh('ra.submitted_at')} AND ${f.team('ra.team_id')}
         AND (${f.includeDisabled} OR (sa.enabled AND coalesce(tm.enabled, true)))
       ORDER BY ra.submitted_at, ra.approval_id`,
    filters: [
      ...CONVERSATION_FILTER_CASES,
      ...BUSINESS_HOUR_CASES,
      { name: 'teamIds', query: 'teamIds=6222,6224', filters: { team: (x) => `${x} IN (6222, 6224)` }, effect: 'changes' },
      { name: 'teamIds (all)', query: ALL_TEAMS, filters: {}, effect: 'keeps' },
      { name: 'includeDisabled', query: 'includeDisabled=true', filters: { includeDisabled: true }, effect: 'changes' },
      { name: 'includeDisabled=false', query: 'includeDisabled=false', filters: {}, effect: 'keeps' },
    ],
  },
  {
    path: 'raw_expert_help',
    subset: ['STATUS', 'HELP_REQUEST_ID'],
    oracle: (f) => `
      SELECT h.help_request_id::text AS "HELP_REQUEST_ID", h.conversation_id::text AS "CONVERSATION_ID",
             h.requesting_agent_id::text AS "REQUESTING_AGENT_ID", h.expert_agent_id::text AS "EXPERT_AGENT_ID", h.status AS "STATUS",
             ${t('h.requested_at')} AS "REQUESTED_TIME", ${t('h.answered_at')} AS "ANSWERED_TIME", ${ms('h.requested_at', 'h.answered_at')} AS "WAIT_MILLIS"
        FROM help_requests h JOIN conversations c ON c.company_id = h.company_id AND c.conversation_id = h.conversation_id
       WHERE h.company_id = $1 AND h.requested_at >= {S} AND h.requested_at < {E} AND ${f.conv('c')} AND ${f.bh('h.requested_at')}
       ORDER BY h.requested_at, h.help_request_id`,
    filters: [
      ...CONVERSATION_FILTER_CASES.filter((c) => c.name !== 'smartViewId'),
      // The week has few help requests; a smart view on queues selects some of them.
      { name: 'smartViewId', query: 'smartViewId=9002', filters: { conv: (c) => `${c}.workqueue_id IN (502)` }, effect: 'changes' },
      ...BUSINESS_HOUR_CASES,
    ],
  },
  {
    path: 'raw_agent_states',
    range: { start: SHIFT_START, end: SHIFT_END },
    subset: ['DURATION_MILLIS', 'STATE', 'AGENT_ID'],
    oracle: (f) => `
      SELECT st.agent_id::text AS "AGENT_ID", ag.name AS "AGENT_NAME", ag.email AS "AGENT_EMAIL",
             (SELECT min(m.team_id) FROM team_members m WHERE m.company_id = st.company_id AND m.agent_id = st.agent_id AND ${f.team('m.team_id')})::text AS "TEAM_ID",
             st.state AS "STATE", st.device AS "DEVICE",
             ${t('greatest(st.started_at, {S})')} AS "STATE_START_TIME", ${t('least(st.ended_at, {E})')} AS "STATE_END_TIME",
             ${ms('greatest(st.started_at, {S})', 'least(st.ended_at, {E})')} AS "DURATION_MILLIS"
        FROM agent_states st LEFT JOIN agents ag ON ag.company_id = st.company_id AND ag.agent_id = st.agent_id
       WHERE st.company_id = $1 AND st.started_at < {E} AND st.ended_at > {S}
         AND (${!byTeam(f)} OR EXISTS (SELECT 1 FROM team_members m WHERE m.company_id = st.company_id AND m.agent_id = st.agent_id AND ${f.team('m.team_id')}))
       ORDER BY st.started_at, st.agent_id, st.device`,
    filters: [
      { name: 'teamIds', query: 'teamIds=6223', filters: { team: (x) => `${x} = 6223` }, effect: 'changes' },
      { name: 'teamIds (two)', query: 'teamIds=6224,6227', filters: { team: (x) => `${x} IN (6224, 6227)` }, effect: 'changes' },
      { name: 'teamIds (all)', query: ALL_TEAMS, filters: {}, effect: 'keeps' },
    ],
  },
  {
    path: 'user',
    range: { start: SHIFT_START, end: SHIFT_END },
    subset: ['TOTAL_MOBILE_TIME_MILLIS', 'ENABLED', 'AGENT_ID'],
    oracle: (f) => {
      const total = (filter: string) => `(SELECT coalesce(round(sum(extract(epoch FROM (least(st.ended_at, {E}) - greatest(st.started_at, {S}))) * 1000)), 0)::bigint::text
          FROM agent_states st WHERE st.company_id = ag.company_id AND st.agent_id = ag.agent_id
           AND st.started_at < {E} AND st.ended_at > {S} AND ${filter})`;
      return `
      SELECT ag.agent_id::text AS "AGENT_ID", ag.display_id AS "AGENT_DISPLAY_ID", ag.name AS "NAME", ag.email AS "EMAIL", ag.role AS "ROLE",
             ag.enabled::text AS "ENABLED",
             (SELECT string_agg(m.team_id::text, ',' ORDER BY m.team_id) FROM team_members m WHERE m.company_id = ag.company_id AND m.agent_id = ag.agent_id) AS "TEAM_IDS",
             ${t('ag.created_at')} AS "CREATED_TIME",
             ${total("st.device = 'CONSOLE' AND st.state IN ('GREEN', 'YELLOW', 'RED')")} AS "TOTAL_CONSOLE_LOGGED_IN_TIME_MILLIS",
             ${total("st.device = 'CONSOLE' AND st.state = 'GREEN'")} AS "TOTAL_GREEN_STATE_TIME_MILLIS",
             ${total("st.device = 'CONSOLE' AND st.state = 'YELLOW'")} AS "TOTAL_YELLOW_STATE_TIME_MILLIS",
             ${total("st.device = 'CONSOLE' AND st.state = 'RED'")} AS "TOTAL_RED_STATE_TIME_MILLIS",
             ${total("st.device = 'MOBILE' AND st.state IN ('GREEN', 'YELLOW', 'RED')")} AS "TOTAL_MOBILE_TIME_MILLIS"
        FROM agents ag
       WHERE ag.company_id = $1 AND (${f.includeDisabled} OR ag.enabled) AND ${f.agent('ag.agent_id')}
         AND (${!byTeam(f)} OR EXISTS (SELECT 1 FROM team_members m WHERE m.company_id = ag.company_id AND m.agent_id = ag.agent_id AND ${f.team('m.team_id')}))
       ORDER BY ag.agent_id`;
    },
    filters: [
      { name: 'agentId (repeated)', query: 'agentId=1003&agentId=1010', filters: { agent: (x) => `${x} IN (1003, 1010)` }, effect: 'changes' },
      { name: 'agentId (comma list)', query: 'agentId=1003,1010,1020', filters: { agent: (x) => `${x} IN (1003, 1010, 1020)` }, effect: 'changes' },
      { name: 'teamId', query: 'teamId=6223', filters: { team: (x) => `${x} = 6223` }, effect: 'changes' },
      { name: 'teamId (repeated)', query: 'teamId=6223&teamId=6225', filters: { team: (x) => `${x} IN (6223, 6225)` }, effect: 'changes' },
      { name: 'teamId (all)', query: 'teamId=6222&teamId=6223&teamId=6224&teamId=6225&teamId=6226&teamId=6227', filters: {}, effect: 'keeps' },
      { name: 'agentId and teamId together', query: 'agentId=1003,1010,1020&teamId=6223', filters: { agent: (x) => `${x} IN (1003, 1010, 1020)`, team: (x) => `${x} = 6223` }, effect: 'changes' },
      { name: 'includeDisabled', query: 'includeDisabled=true', filters: { includeDisabled: true }, effect: 'changes' },
    ],
  },
  {
    path: 'marketing/raw_brand_post',
    // Four weeks: a company publishes a few posts a week.
    range: { start: WEEK_END - 28 * 86_400_000, end: WEEK_END },
    subset: ['LIKES', 'CAMPAIGN_NAME', 'POST_ID'],
    oracle: (f) => `
      SELECT bp.post_id::text AS "POST_ID", bp.campaign_id::text AS "CAMPAIGN_ID", cp.name AS "CAMPAIGN_NAME", bp.network AS "NETWORK",
             bp.account_handle AS "ACCOUNT_HANDLE", bp.author_agent_id::text AS "AUTHOR_ID", ${t('bp.scheduled_at')} AS "SCHEDULED_TIME",
             ${t('bp.published_at')} AS "PUBLISHED_TIME", bp.status AS "STATUS", bp.content AS "CONTENT", bp.link AS "LINK",
             bp.impressions::text AS "IMPRESSIONS", bp.engagements::text AS "ENGAGEMENTS", bp.likes::text AS "LIKES", bp.shares::text AS "SHARES",
             bp.comments::text AS "COMMENTS", bp.clicks::text AS "CLICKS"
        FROM brand_posts bp LEFT JOIN campaigns cp ON cp.company_id = bp.company_id AND cp.campaign_id = bp.campaign_id
       WHERE bp.company_id = $1 AND bp.published_at >= {S} AND bp.published_at < {E} AND ${f.campaign('bp.campaign_id')} AND ${f.bh('bp.published_at')}
       ORDER BY bp.published_at, bp.post_id`,
    filters: [
      { name: 'campaignIds', query: 'campaignIds=701,703', filters: { campaign: (x) => `${x} IN (701, 703)` }, effect: 'changes' },
      { name: 'campaignIds (one)', query: 'campaignIds=705', filters: { campaign: (x) => `${x} = 705` }, effect: 'changes' },
      ...BUSINESS_HOUR_CASES.filter((c) => !c.query.includes('smartViewId')),
    ],
  },
];

describeSpecs(svc, SPECS, {
  base: (rows) => assert.ok(rows.length >= 5, `the range has rows (${rows.length})`),
});

describe('what the filters mean', () => {
  it('includeDisabled adds the approvals of disabled agents, and only those', async () => {
    const spec = specOf(SPECS, 'response_approval');
    const base: Case = { path: spec.path, start: WEEK_START, end: WEEK_END, columns: ['RESPONSE_ID', 'SUBMITTING_AGENT_ID'] };
    const without = await checkCase(svc, base, spec.oracle);
    const withDisabled = await checkCase(svc, { ...base, query: 'includeDisabled=true' }, spec.oracle, { includeDisabled: true });
    const disabled = new Set(
      (await svc.pool.query<{ id: string }>(`SELECT agent_id::text AS id FROM agents a JOIN companies co ON co.id = a.company_id WHERE co.key = 'demo' AND NOT a.enabled`)).rows.map((r) => r.id),
    );
    const added = withDisabled.filter((r) => !without.some((w) => w['RESPONSE_ID'] === r['RESPONSE_ID']));
    assert.ok(added.length > 0);
    assert.ok(added.every((r) => disabled.has(r['SUBMITTING_AGENT_ID']!)), 'every added row is a disabled agent’s');
    assert.ok(without.every((r) => !disabled.has(r['SUBMITTING_AGENT_ID']!)));
  });

  it('agent states are clipped to the range', async () => {
    const rows = await exportRows(svc, { path: 'raw_agent_states', start: SHIFT_START, end: SHIFT_END, columns: ['STATE_START_TIME', 'STATE_END_TIME'] });
    assert.ok(rows.some((r) => r['STATE_START_TIME'] === '2019-02-20T16:00:00.000+00:00'), 'an interval cut at the start');
    assert.ok(rows.some((r) => r['STATE_END_TIME'] === '2019-02-27T16:00:00.000+00:00'), 'an interval cut at the end');
    assert.ok(rows.every((r) => r['STATE_START_TIME']! >= '2019-02-20T16' && r['STATE_END_TIME']! <= '2019-02-27T16:00:00.000+00:00'));
  });

  it('the user export lists agents whatever the range; the range only moves the totals', async () => {
    const spec = specOf(SPECS, 'user');
    const quiet = await checkCase(svc, { path: 'user', start: Date.UTC(2018, 0, 1), end: Date.UTC(2018, 0, 8) }, spec.oracle);
    const busy = await exportRows(svc, { path: 'user', start: SHIFT_START, end: SHIFT_END });
    assert.deepEqual(quiet.map((r) => r['AGENT_ID']), busy.map((r) => r['AGENT_ID']));
    assert.ok(quiet.every((r) => Object.entries(r).every(([k, v]) => !k.startsWith('TOTAL_') || v === '0')), 'no time before the data');
    assert.ok(busy.some((r) => r['TOTAL_GREEN_STATE_TIME_MILLIS'] !== '0'));
  });

  it('business hours on brand posts test the publishing time', async () => {
    const inside = await exportRows(svc, { path: 'marketing/raw_brand_post', start: WEEK_START, end: WEEK_END, query: 'enableBusinessHour=true', columns: ['PUBLISHED_TIME'], zone: { iana: 'America/Chicago' } });
    assert.ok(inside.length > 0);
    for (const r of inside) {
      const hour = Number(r['PUBLISHED_TIME']!.slice(11, 13));
      assert.ok(hour >= 8 && hour < 18, `${r['PUBLISHED_TIME']} is within 08:00–18:00 Chicago`);
    }
  });
});
