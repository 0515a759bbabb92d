/**
 * The conversation, action and post exports against independent oracles (the
 * conversation export's of helpers/expected.ts, hand-written SQL for the
 * rest): every column in CSV and JSON, a reordered subset, and each filter
 * removing rows and keeping them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSpecs, ms, specOf, t, type Spec } from './helpers/export-specs.ts';
import { CREATED_IN_RANGE } from './helpers/expected.ts';
import { BUSINESS_HOUR_CASES, checkCase, CONVERSATION_FILTER_CASES, conversationOracle, WEEK_END, WEEK_START } from './helpers/oracle.ts';
import { startTestService } from './helpers/service.ts';

const svc = await startTestService();

const SPECS: Spec[] = [
  {
    path: 'conversation',
    extra: 'conversationReportType=CREATED',
    subset: ['TAGS', 'CREATED_TIME', 'CONVERSATION_ID'],
    // The oracle the quick start and the conversation options use too.
    oracle: conversationOracle((f) => `${CREATED_IN_RANGE} AND ${f.conv('c')} AND ${f.bh('c.created_at')}`),
    filters: [...CONVERSATION_FILTER_CASES, ...BUSINESS_HOUR_CASES],
  },
  {
    path: 'conversation_actions',
    subset: ['DETAIL', 'ACTION_TIME', 'ACTION_ID'],
    oracle: (f) => `
      SELECT a.action_id::text AS "ACTION_ID", a.conversation_id::text AS "CONVERSATION_ID", a.action_type AS "ACTION_TYPE",
             ${t('a.action_time')} AS "ACTION_TIME", a.agent_id::text AS "AGENT_ID", ag.display_id AS "AGENT_DISPLAY_ID",
             a.team_id::text AS "TEAM_ID", a.workqueue_id::text AS "WORKQUEUE_ID", a.priority::text AS "PRIORITY", a.detail AS "DETAIL"
        FROM conversation_actions a
        JOIN conversations c ON c.company_id = a.company_id AND c.conversation_id = a.conversation_id
        LEFT JOIN agents ag ON ag.company_id = a.company_id AND ag.agent_id = a.agent_id
       WHERE a.company_id = $1 AND a.action_time >= {S} AND a.action_time < {E} AND ${f.conv('c')} AND ${f.bh('a.action_time')}
       ORDER BY a.action_time, a.action_id`,
    filters: [...CONVERSATION_FILTER_CASES, ...BUSINESS_HOUR_CASES],
  },
  {
    path: 'conversation_history_action',
    subset: ['SEQUENCE', 'CONVERSATION_ID'],
    oracle: (f) => `
      SELECT h.conversation_id::text AS "CONVERSATION_ID", h.seq::text AS "SEQUENCE", h.action_type AS "ACTION_TYPE",
             ${t('h.action_time')} AS "ACTION_TIME", h.agent_id::text AS "AGENT_ID", h.detail AS "DETAIL"
        FROM (SELECT a.*, row_number() OVER (PARTITION BY a.conversation_id ORDER BY a.action_time, a.action_id) AS seq
                FROM conversation_actions a WHERE a.company_id = $1) h
        JOIN conversations c ON c.company_id = $1 AND c.conversation_id = h.conversation_id
       WHERE h.seq <= ${f.raiseLimit ? 2000 : 500} AND ${f.conv('c')}
         AND EXISTS (SELECT 1 FROM conversation_actions r WHERE r.company_id = $1 AND r.conversation_id = h.conversation_id
                        AND r.action_time >= {S} AND r.action_time < {E})
       ORDER BY h.conversation_id, h.seq`,
    filters: CONVERSATION_FILTER_CASES,
  },
  {
    path: 'combined',
    subset: ['CONTENT', 'POST_TYPE', 'POST_ID'],
    oracle: (f) => `
      SELECT p.post_id::text AS "POST_ID", p.post_type AS "POST_TYPE", p.conversation_id::text AS "CONVERSATION_ID",
             ${t('p.posted_at')} AS "POST_TIME", c.network AS "NETWORK", p.author_id::text AS "AUTHOR_ID", p.agent_id::text AS "AGENT_ID",
             c.team_id::text AS "TEAM_ID", c.workqueue_id::text AS "WORKQUEUE_ID", c.priority::text AS "PRIORITY", c.status AS "STATUS",
             p.content AS "CONTENT"
        FROM posts p JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id
       WHERE p.company_id = $1 AND p.posted_at >= {S} AND p.posted_at < {E} AND ${f.conv('c')} AND ${f.bh('p.posted_at')}
       ORDER BY p.posted_at, p.post_id`,
    filters: [...CONVERSATION_FILTER_CASES, ...BUSINESS_HOUR_CASES],
  },
  {
    path: 'incoming_post',
    subset: ['SENTIMENT', 'AUTHOR_HANDLE', 'POST_TIME'],
    oracle: (f) => `
      SELECT p.post_id::text AS "POST_ID", p.conversation_id::text AS "CONVERSATION_ID", p.author_id::text AS "AUTHOR_ID",
             au.handle AS "AUTHOR_HANDLE", c.network AS "NETWORK", ${t('p.posted_at')} AS "POST_TIME", c.priority::text AS "PRIORITY",
             c.workqueue_id::text AS "WORKQUEUE_ID", p.language AS "LANGUAGE", p.sentiment AS "SENTIMENT", p.content AS "CONTENT"
        FROM posts p JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id
        LEFT JOIN authors au ON au.company_id = p.company_id AND au.author_id = p.author_id
       WHERE p.company_id = $1 AND p.post_type = 'INCOMING' AND p.posted_at >= {S} AND p.posted_at < {E}
         AND ${f.conv('c')} AND ${f.bh('p.posted_at')}
       ORDER BY p.posted_at, p.post_id`,
    filters: [...CONVERSATION_FILTER_CASES, ...BUSINESS_HOUR_CASES],
  },
  {
    path: 'response',
    subset: ['RESPONSE_DELAY_MILLIS', 'RESPONDING_AGENT_EMAIL', 'RESPONSE_ID'],
    oracle: (f) => `
      SELECT p.post_id::text AS "RESPONSE_ID", p.conversation_id::text AS "CONVERSATION_ID", p.agent_id::text AS "RESPONDING_AGENT_ID",
             ag.name AS "RESPONDING_AGENT_NAME", ag.email AS "RESPONDING_AGENT_EMAIL", c.team_id::text AS "TEAM_ID", c.network AS "NETWORK",
             ${t('p.posted_at')} AS "RESPONSE_TIME",
             ${ms(`(SELECT q.posted_at FROM posts q WHERE q.company_id = p.company_id AND q.conversation_id = p.conversation_id
                      AND q.post_type = 'INCOMING' AND q.posted_at <= p.posted_at ORDER BY q.posted_at DESC LIMIT 1)`, 'p.posted_at')} AS "RESPONSE_DELAY_MILLIS",
             p.approval_status AS "APPROVAL_STATUS", p.content AS "CONTENT"
        FROM posts p JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id
        LEFT JOIN agents ag ON ag.company_id = p.company_id AND ag.agent_id = p.agent_id
       WHERE p.company_id = $1 AND p.post_type = 'RESPONSE' AND p.posted_at >= {S} AND p.posted_at < {E}
         AND ${f.conv('c')} AND ${f.bh('p.posted_at')}
       ORDER BY p.posted_at, p.post_id`,
    filters: [...CONVERSATION_FILTER_CASES, ...BUSINESS_HOUR_CASES],
  },
  {
    path: 'author',
    subset: ['INCOMING_POST_COUNT', 'HANDLE'],
    oracle: (f) => `
      SELECT au.author_id::text AS "AUTHOR_ID", au.handle AS "HANDLE", au.display_name AS "DISPLAY_NAME", au.network AS "NETWORK",
             au.follower_count::text AS "FOLLOWER_COUNT", ${t('au.first_seen_at')} AS "FIRST_SEEN_TIME",
             count(DISTINCT p.conversation_id)::text AS "CONVERSATION_COUNT", count(*)::text AS "INCOMING_POST_COUNT"
        FROM authors au
        JOIN posts p ON p.company_id = au.company_id AND p.author_id = au.author_id
        JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id
       WHERE au.company_id = $1 AND p.post_type = 'INCOMING' AND p.posted_at >= {S} AND p.posted_at < {E}
         AND ${f.conv('c')} AND ${f.bh('p.posted_at')}
       GROUP BY au.company_id, au.author_id
       ORDER BY au.author_id`,
    filters: [...CONVERSATION_FILTER_CASES, ...BUSINESS_HOUR_CASES],
  },
];

describeSpecs(svc, SPECS, {
  base: (rows) => assert.ok(rows.length >= 20, `the week has rows (${rows.length})`),
});

describe('conversation_history_action caps each conversation', () => {
  it('at 500 actions, or 2,000 with raiselimit=true, and takes whole histories', async () => {
    // One conversation with 2,300 actions, the last of them inside the week; its first 2,299 lie before the range.
    await svc.pool.query(`
      INSERT INTO conversation_actions (company_id, action_id, conversation_id, action_type, action_time, agent_id, detail)
      SELECT c.company_id, 900000000 + g, c.conversation_id, 'TAGGED', timestamptz '2019-02-26 00:00Z' - (2300 - g) * interval '1 minute', NULL, 'tag ' || g
        FROM conversations c JOIN companies co ON co.id = c.company_id, generate_series(1, 2300) g
       WHERE co.key = 'demo' AND c.conversation_id = 100001`);
    const history = svc.pool.query.bind(svc.pool);
    const spec = specOf(SPECS, 'conversation_history_action');
    const base = { path: spec.path, start: WEEK_START, end: WEEK_END, columns: ['CONVERSATION_ID', 'SEQUENCE', 'DETAIL'] };
    const capped = await checkCase(svc, base, spec.oracle);
    const raised = await checkCase(svc, { ...base, query: 'raiselimit=true' }, spec.oracle, { raiseLimit: true });
    const of = (rows: typeof capped) => rows.filter((r) => r['CONVERSATION_ID'] === '100001');
    assert.equal(of(capped).length, 500);
    assert.equal(of(raised).length, 2000);
    assert.equal(of(raised)[1999]!['SEQUENCE'], '2000');
    const total = await history(`SELECT count(*)::int AS n FROM conversation_actions WHERE conversation_id = 100001`);
    assert.ok((total.rows[0] as { n: number }).n > 2000);
    // raiselimit=false is the default cap.
    assert.equal(of(await checkCase(svc, { ...base, query: 'raiselimit=false' }, spec.oracle)).length, 500);
  });
});
