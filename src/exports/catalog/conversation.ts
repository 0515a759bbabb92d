import { sqlTimestamp } from '../sql.ts';
import type { ExportDef } from './types.ts';

const millisBetween = (from: string, to: string) => `round(extract(epoch FROM (${to} - ${from})) * 1000)::bigint`;

export const conversation: ExportDef = {
  id: 'conversation',
  section: 'care',
  description:
    'Conversations with their routing, assignment, timing and outcome. `conversationReportType` chooses which: ' +
    'open at the end of the range (default), closed in the range, or created in the range.',
  grain: 'conversation selected by conversationReportType',
  from: 'conversations c',
  joins: {
    wq: 'LEFT JOIN work_queues wq ON wq.company_id = c.company_id AND wq.workqueue_id = c.workqueue_id',
    ag: 'LEFT JOIN agents ag ON ag.company_id = c.company_id AND ag.agent_id = c.assigned_agent_id',
    tm: 'LEFT JOIN teams tm ON tm.company_id = c.company_id AND tm.team_id = c.team_id',
    au: 'LEFT JOIN authors au ON au.company_id = c.company_id AND au.author_id = c.author_id',
    pc: `LEFT JOIN LATERAL (
           SELECT count(*) FILTER (WHERE p.post_type = 'INCOMING') AS incoming,
                  count(*) FILTER (WHERE p.post_type = 'RESPONSE') AS responses
             FROM posts p WHERE p.company_id = c.company_id AND p.conversation_id = c.conversation_id) pc ON true`,
  },
  columns: [
    { name: 'CONVERSATION_ID', type: 'id', description: 'Conversation id.', sql: 'c.conversation_id' },
    { name: 'CONVERSATION_DISPLAY_ID', type: 'text', description: 'Id shown to agents in the console.', sql: 'c.display_id' },
    { name: 'NETWORK', type: 'enum', description: 'Network the customer wrote on (TWITTER, FACEBOOK, INSTAGRAM, WHATSAPP, CHAT, EMAIL, SMS).', sql: 'c.network' },
    { name: 'STATUS', type: 'enum', description: 'Current status: OPEN, PENDING or CLOSED.', sql: 'c.status' },
    { name: 'PRIORITY', type: 'integer', description: 'Current priority, 0 (lowest) to 5.', sql: 'c.priority' },
    { name: 'WORKQUEUE_ID', type: 'id', description: 'Current work queue.', sql: 'c.workqueue_id' },
    { name: 'WORKQUEUE_NAME', type: 'text', description: 'Name of the current work queue.', sql: 'wq.name', joins: ['wq'] },
    { name: 'ASSIGNED_AGENT_ID', type: 'id', description: 'Agent the conversation is assigned to.', sql: 'c.assigned_agent_id' },
    { name: 'ASSIGNED_AGENT_DISPLAY_ID', type: 'text', description: 'Display id of the assigned agent.', sql: 'ag.display_id', joins: ['ag'] },
    { name: 'ASSIGNED_AGENT_NAME', type: 'text', description: 'Name of the assigned agent.', sql: 'ag.name', joins: ['ag'] },
    { name: 'TEAM_ID', type: 'id', description: 'Team of the assignment.', sql: 'c.team_id' },
    { name: 'TEAM_NAME', type: 'text', description: 'Name of that team.', sql: 'tm.name', joins: ['tm'] },
    { name: 'AUTHOR_ID', type: 'id', description: 'Customer who started the conversation.', sql: 'c.author_id' },
    { name: 'AUTHOR_HANDLE', type: 'text', description: "Customer's handle on the network.", sql: 'au.handle', joins: ['au'] },
    { name: 'CREATED_TIME', type: 'timestamp', description: 'When the first customer post arrived.', sql: 'c.created_at' },
    { name: 'FIRST_ASSIGNED_TIME', type: 'timestamp', description: 'When it was first assigned to an agent.', sql: 'c.first_assigned_at' },
    { name: 'FIRST_RESPONSE_TIME', type: 'timestamp', description: 'When an agent first responded.', sql: 'c.first_response_at' },
    { name: 'CLOSED_TIME', type: 'timestamp', description: 'When it was last closed; empty while open.', sql: 'c.closed_at' },
    {
      name: 'TIME_TO_FIRST_RESPONSE_MILLIS',
      type: 'duration_ms',
      description: 'FIRST_RESPONSE_TIME minus CREATED_TIME.',
      sql: millisBetween('c.created_at', 'c.first_response_at'),
    },
    { name: 'HANDLE_TIME_MILLIS', type: 'duration_ms', description: 'Time agents spent working the conversation.', sql: 'c.handle_time_ms' },
    {
      name: 'RESOLUTION_TIME_MILLIS',
      type: 'duration_ms',
      description: 'CLOSED_TIME minus CREATED_TIME; empty while open.',
      sql: millisBetween('c.created_at', 'c.closed_at'),
    },
    { name: 'INCOMING_POST_COUNT', type: 'integer', description: 'Customer posts in the conversation.', sql: 'pc.incoming', joins: ['pc'] },
    { name: 'RESPONSE_COUNT', type: 'integer', description: 'Agent responses in the conversation.', sql: 'pc.responses', joins: ['pc'] },
    { name: 'REOPEN_COUNT', type: 'integer', description: 'Times the conversation was reopened after closing.', sql: 'c.reopen_count' },
    { name: 'TAGS', type: 'text', description: 'Tags, comma-separated, in the order applied.', sql: "nullif(array_to_string(c.tags, ','), '')" },
    { name: 'SENTIMENT', type: 'enum', description: 'POSITIVE, NEUTRAL or NEGATIVE.', sql: 'c.sentiment' },
    { name: 'SURVEY_SCORE', type: 'integer', description: 'Customer survey score 1–5; empty when not answered.', sql: 'c.survey_score' },
  ],
  parameters: ['conversationReportType', 'priorities', 'workqueueIds', 'smartViewId', 'enableBusinessHour', 'businessHourType'],
  conversationAlias: 'c',
  rangePredicates(req) {
    const start = sqlTimestamp(req.startTime);
    const end = sqlTimestamp(req.endTime);
    switch (req.conversationReportType ?? 'OPEN_AT_END') {
      case 'CREATED':
        return [`c.created_at >= ${start}`, `c.created_at < ${end}`];
      case 'CLOSED':
        return [`c.closed_at >= ${start}`, `c.closed_at < ${end}`];
      case 'OPEN_AT_END':
        return [`c.created_at < ${end}`, `(c.closed_at IS NULL OR c.closed_at >= ${end})`];
    }
  },
  eventTime(req) {
    return req.conversationReportType === 'CLOSED' ? 'c.closed_at' : 'c.created_at';
  },
  orderBy: 'c.created_at, c.conversation_id',
};
