import { timeBuckets } from '../buckets.ts';
import { sqlTimestamp } from '../sql.ts';
import { BUSINESS_HOURS, col, CONVERSATION_FILTERS, millisBetween } from './columns.ts';
import type { ColumnDef, ExportDef, RowSource, SqlScope } from './types.ts';

/**
 * Team activity as events, each counted in the range (and bucket) where it
 * happened: a conversation first assigned, first responded to, closed, and
 * every agent response. An event belongs to the conversation's team; the
 * conversation filters select conversations, business hours test the event time.
 */
function teamEvents(s: SqlScope): string {
  const conv = (timeColumn: string) => [`c.company_id = ${s.company}`, s.inRange(timeColumn), ...s.conversationFilters('c')].join(' AND ');
  return `SELECT c.team_id, c.assigned_agent_id AS agent_id, 'ASSIGNED' AS kind, c.first_assigned_at AS at,
                 NULL::bigint AS first_response_ms, NULL::bigint AS handle_ms, NULL::bigint AS resolution_ms
            FROM conversations c WHERE ${conv('c.first_assigned_at')}
          UNION ALL
          SELECT c.team_id, c.assigned_agent_id, 'FIRST_RESPONSE', c.first_response_at,
                 ${millisBetween('c.created_at', 'c.first_response_at')}, NULL, NULL
            FROM conversations c WHERE ${conv('c.first_response_at')}
          UNION ALL
          SELECT c.team_id, c.assigned_agent_id, 'CLOSED', c.closed_at,
                 NULL, c.handle_time_ms, ${millisBetween('c.created_at', 'c.closed_at')}
            FROM conversations c WHERE ${conv('c.closed_at')}
          UNION ALL
          SELECT c.team_id, p.agent_id, 'RESPONSE', p.posted_at, NULL, NULL, NULL
            FROM posts p JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id
           WHERE p.company_id = ${s.company} AND p.post_type = 'RESPONSE' AND ${s.inRange('p.posted_at')}
             ${s.conversationFilters('c').map((f) => `AND ${f}`).join(' ')}`;
}

/** Per team (and per bucket, given an expression for it) aggregates of the events. */
function teamAggregates(s: SqlScope, bucket?: string): string {
  const where = ['e.team_id IS NOT NULL', ...s.businessHours('e.at')];
  if (!s.req.includeDisabled) where.push('(e.agent_id IS NULL OR ea.enabled)');
  const keys = bucket ? `e.team_id, ${bucket}` : 'e.team_id';
  return `SELECT ${bucket ? `e.team_id, ${bucket} AS bucket` : 'e.team_id'},
                 count(DISTINCT e.agent_id) FILTER (WHERE e.kind = 'RESPONSE') AS active_agents,
                 count(*) FILTER (WHERE e.kind = 'ASSIGNED') AS assigned,
                 count(*) FILTER (WHERE e.kind = 'CLOSED') AS closed,
                 count(*) FILTER (WHERE e.kind = 'RESPONSE') AS responses,
                 round(avg(e.first_response_ms))::bigint AS first_response_ms,
                 round(avg(e.handle_ms))::bigint AS handle_ms,
                 round(avg(e.resolution_ms))::bigint AS resolution_ms
            FROM (${teamEvents(s)}) e
            LEFT JOIN agents ea ON ea.company_id = ${s.company} AND ea.agent_id = e.agent_id
           WHERE ${where.join(' AND ')}
           GROUP BY ${keys}`;
}

/** Teams of the request: enabled ones unless includeDisabled, narrowed by teamIds. */
function teamPredicates(s: SqlScope): string[] {
  const out = [`tm.company_id = ${s.company}`];
  if (!s.req.includeDisabled) out.push('tm.enabled');
  if (s.req.teamIds) out.push(`tm.team_id IN (${s.ids(s.req.teamIds)})`);
  return out;
}

const PERFORMANCE_COLUMNS: readonly ColumnDef[] = [
  col('TEAM_ID', 'id', 'Team.', 'tm.team_id'),
  col('TEAM_NAME', 'text', 'Team name.', 'tm.name'),
  col('ACTIVE_AGENTS', 'integer', 'Agents who sent at least one response for the team.', 'coalesce(t.active_agents, 0)'),
  col('CONVERSATIONS_ASSIGNED', 'integer', "The team's conversations first assigned.", 'coalesce(t.assigned, 0)'),
  col('CONVERSATIONS_CLOSED', 'integer', "The team's conversations closed.", 'coalesce(t.closed, 0)'),
  col('RESPONSES', 'integer', "Agent responses in the team's conversations.", 'coalesce(t.responses, 0)'),
  col('AVG_TIME_TO_FIRST_RESPONSE_MILLIS', 'duration_ms', 'Mean time from creation to first response, over conversations first responded to; empty when none.', 't.first_response_ms'),
  col('AVG_HANDLE_TIME_MILLIS', 'duration_ms', 'Mean handle time of the conversations closed; empty when none.', 't.handle_ms'),
  col('AVG_RESOLUTION_TIME_MILLIS', 'duration_ms', 'Mean time from creation to close of the conversations closed; empty when none.', 't.resolution_ms'),
];

const EVENTS_NOTE =
  'Activity counts where it happened: a conversation when first assigned, first responded to and closed, and each ' +
  "response; all of it belongs to the conversation's team. Disabled teams, and the activity of disabled agents, are " +
  'left out unless includeDisabled=true; the conversation filters select conversations and business hours test the event time.';

export const teamPerformance: ExportDef = {
  id: 'team_performance',
  section: 'care',
  description: `Each team's activity over the range. ${EVENTS_NOTE}`,
  grain: 'team (aggregate over the range)',
  columns: PERFORMANCE_COLUMNS,
  parameters: ['includeDisabled', 'teamIds', ...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source: (s): RowSource => ({
    from: `teams tm LEFT JOIN (${teamAggregates(s)}) t ON t.team_id = tm.team_id`,
    where: teamPredicates(s),
    orderBy: 'tm.team_id',
  }),
};

export const teamPerformanceInterval: ExportDef = {
  id: 'team_performance_interval',
  section: 'care',
  description:
    `Each team's activity per time bucket of timeInterval, every team in every bucket. Buckets are aligned on the ` +
    `wall clock of the requested zone (a DST day has 23 or 25 hours) and the first and last are clipped to the range. ${EVENTS_NOTE}`,
  grain: 'team × time bucket',
  columns: [
    col('INTERVAL_START', 'timestamp', 'Start of the bucket.', 'b.start_at'),
    col('INTERVAL_END', 'timestamp', 'End of the bucket (exclusive).', 'b.end_at'),
    ...PERFORMANCE_COLUMNS,
  ],
  parameters: ['timeInterval', 'includeDisabled', 'teamIds', ...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source(s): RowSource {
    const { req } = s;
    if (req.timeInterval === undefined) throw new Error('team_performance_interval needs timeInterval');
    const buckets = timeBuckets(req.timeInterval, req.startTime, req.endTime, req.zone);
    const array = (xs: number[]) => `ARRAY[${xs.map(sqlTimestamp).join(', ')}]::timestamptz[]`;
    const starts = array(buckets.map((b) => b.start));
    return {
      from: `unnest(${starts}, ${array(buckets.map((b) => b.end))}) WITH ORDINALITY AS b(start_at, end_at, n)
        CROSS JOIN teams tm
        LEFT JOIN (${teamAggregates(s, `width_bucket(e.at, ${starts})`)}) t ON t.team_id = tm.team_id AND t.bucket = b.n`,
      where: teamPredicates(s),
      orderBy: 'b.n, tm.team_id',
    };
  },
};
