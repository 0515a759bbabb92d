import { col, joinAgent } from './columns.ts';
import type { ExportDef, SqlScope } from './types.ts';

/** The clipped milliseconds of an agent-state interval `st` inside the range. */
const clippedMillis = (s: SqlScope) =>
  `round(extract(epoch FROM (least(st.ended_at, ${s.end}) - greatest(st.started_at, ${s.start}))) * 1000)::bigint`;

export const rawAgentStates: ExportDef = {
  id: 'raw_agent_states',
  section: 'care',
  description: 'Availability intervals of agents that overlap the range, clipped to it.',
  grain: 'agent state interval overlapping the range (clipped to it)',
  columns: [
    col('AGENT_ID', 'id', 'Agent.', 'st.agent_id'),
    col('AGENT_NAME', 'text', "Agent's name.", 'ag.name', 'ag'),
    col('AGENT_EMAIL', 'text', "Agent's email.", 'ag.email', 'ag'),
    col('TEAM_ID', 'id', "The agent's team: the lowest team id among the agent's teams (among teamIds when given).", 'tm.team_id', 'tm'),
    col('STATE', 'enum', 'GREEN (available), YELLOW (busy), RED (away) or OFFLINE.', 'st.state'),
    col('DEVICE', 'enum', 'CONSOLE or MOBILE.', 'st.device'),
    col('STATE_START_TIME', 'timestamp', 'Start of the interval, or startTime if it began earlier.', (s) => `greatest(st.started_at, ${s.start})`),
    col('STATE_END_TIME', 'timestamp', 'End of the interval, or endTime if it ended later.', (s) => `least(st.ended_at, ${s.end})`),
    col('DURATION_MILLIS', 'duration_ms', 'STATE_END_TIME minus STATE_START_TIME.', clippedMillis),
  ],
  parameters: ['teamIds'],
  source(s) {
    const teams = s.req.teamIds ? ` AND m.team_id IN (${s.ids(s.req.teamIds)})` : '';
    const where = [`st.company_id = ${s.company}`, `st.started_at < ${s.end}`, `st.ended_at > ${s.start}`];
    if (s.req.teamIds) where.push(`EXISTS (SELECT 1 FROM team_members m WHERE m.company_id = st.company_id AND m.agent_id = st.agent_id${teams})`);
    return {
      from: 'agent_states st',
      joins: {
        ag: joinAgent('ag', 'st.agent_id'),
        tm: `LEFT JOIN LATERAL (SELECT min(m.team_id) AS team_id FROM team_members m
               WHERE m.company_id = st.company_id AND m.agent_id = st.agent_id${teams}) tm ON true`,
      },
      where,
      orderBy: 'st.started_at, st.agent_id, st.device',
    };
  },
};
