import { col } from './columns.ts';
import type { ExportDef } from './types.ts';

const total = (name: string, description: string) =>
  col(`TOTAL_${name}_TIME_MILLIS`, 'duration_ms', `${description} in the range.`, `coalesce(tt.${name.toLowerCase()}, 0)`, 'tt');

export const user: ExportDef = {
  id: 'user',
  section: 'care',
  description:
    'Agents with their details and time spent per availability state. The time range only affects the TOTAL_* ' +
    'columns; disabled agents are left out unless includeDisabled=true.',
  grain: 'agent',
  columns: [
    col('AGENT_ID', 'id', 'Agent id.', 'ag.agent_id'),
    col('AGENT_DISPLAY_ID', 'text', 'Id shown in the console.', 'ag.display_id'),
    col('NAME', 'text', 'Full name.', 'ag.name'),
    col('EMAIL', 'text', 'Email address.', 'ag.email'),
    col('ROLE', 'enum', 'AGENT, EXPERT or SUPERVISOR.', 'ag.role'),
    col('ENABLED', 'boolean', 'Whether the agent can sign in.', 'ag.enabled'),
    col('TEAM_IDS', 'text', "The agent's teams, comma-separated in ascending order.", 'tms.ids', 'tms'),
    col('CREATED_TIME', 'timestamp', 'When the agent was created.', 'ag.created_at'),
    total('CONSOLE_LOGGED_IN', 'Time logged in on the console (any state but OFFLINE)'),
    total('GREEN_STATE', 'Time in GREEN on the console'),
    total('YELLOW_STATE', 'Time in YELLOW on the console'),
    total('RED_STATE', 'Time in RED on the console'),
    total('MOBILE', 'Time logged in on mobile (any state but OFFLINE)'),
  ],
  parameters: ['agentId', 'teamId', 'includeDisabled'],
  source(s) {
    const where = [`ag.company_id = ${s.company}`];
    if (!s.req.includeDisabled) where.push('ag.enabled');
    if (s.req.agentIds) where.push(`ag.agent_id IN (${s.ids(s.req.agentIds)})`);
    if (s.req.teamIds) {
      where.push(`EXISTS (SELECT 1 FROM team_members m WHERE m.company_id = ag.company_id AND m.agent_id = ag.agent_id AND m.team_id IN (${s.ids(s.req.teamIds)}))`);
    }
    const ms = `extract(epoch FROM (least(st.ended_at, ${s.end}) - greatest(st.started_at, ${s.start}))) * 1000`;
    const sum = (filter: string) => `round(sum(${ms}) FILTER (WHERE ${filter}))::bigint`;
    return {
      from: 'agents ag',
      joins: {
        tms: `LEFT JOIN LATERAL (SELECT string_agg(m.team_id::text, ',' ORDER BY m.team_id) AS ids FROM team_members m
               WHERE m.company_id = ag.company_id AND m.agent_id = ag.agent_id) tms ON true`,
        tt: `LEFT JOIN LATERAL (
               SELECT ${sum("st.device = 'CONSOLE' AND st.state <> 'OFFLINE'")} AS console_logged_in,
                      ${sum("st.device = 'CONSOLE' AND st.state = 'GREEN'")} AS green_state,
                      ${sum("st.device = 'CONSOLE' AND st.state = 'YELLOW'")} AS yellow_state,
                      ${sum("st.device = 'CONSOLE' AND st.state = 'RED'")} AS red_state,
                      ${sum("st.device = 'MOBILE' AND st.state <> 'OFFLINE'")} AS mobile
                 FROM agent_states st
                WHERE st.company_id = ag.company_id AND st.agent_id = ag.agent_id
                  AND st.started_at < ${s.end} AND st.ended_at > ${s.start}) tt ON true`,
      },
      where,
      orderBy: 'ag.agent_id',
    };
  },
};
