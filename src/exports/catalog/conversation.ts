import { BUSINESS_HOURS, col, CONVERSATION_FILTERS, joinAgent, joinAuthor, millisBetween } from './columns.ts';
import type { ExportDef } from './types.ts';

export const conversation: ExportDef = {
  id: 'conversation',
  section: 'care',
  description:
    'Conversations with their routing, assignment, timing and outcome. `conversationReportType` chooses which: ' +
    'open at the end of the range (default), closed in the range, or created in the range. Business hours test the ' +
    'closing time for CLOSED and the creation time otherwise.',
  grain: 'conversation selected by conversationReportType',
  columns: [
    col('CONVERSATION_ID', 'id', 'Conversation id.', 'c.conversation_id'),
    col('CONVERSATION_DISPLAY_ID', 'text', 'Id shown to agents in the console.', 'c.display_id'),
    col('NETWORK', 'enum', 'Network the customer wrote on (TWITTER, FACEBOOK, INSTAGRAM, WHATSAPP, CHAT, EMAIL, SMS).', 'c.network'),
    col('STATUS', 'enum', 'Current status: OPEN, PENDING or CLOSED.', 'c.status'),
    col('PRIORITY', 'integer', 'Current priority, 0 (lowest) to 5.', 'c.priority'),
    col('WORKQUEUE_ID', 'id', 'Current work queue.', 'c.workqueue_id'),
    col('WORKQUEUE_NAME', 'text', 'Name of the current work queue.', 'wq.name', 'wq'),
    col('ASSIGNED_AGENT_ID', 'id', 'Agent the conversation is assigned to.', 'c.assigned_agent_id'),
    col('ASSIGNED_AGENT_DISPLAY_ID', 'text', 'Display id of the assigned agent.', 'ag.display_id', 'ag'),
    col('ASSIGNED_AGENT_NAME', 'text', 'Name of the assigned agent.', 'ag.name', 'ag'),
    col('TEAM_ID', 'id', 'Team of the assignment.', 'c.team_id'),
    col('TEAM_NAME', 'text', 'Name of that team.', 'tm.name', 'tm'),
    col('AUTHOR_ID', 'id', 'Customer who started the conversation.', 'c.author_id'),
    col('AUTHOR_HANDLE', 'text', "Customer's handle on the network.", 'au.handle', 'au'),
    col('CREATED_TIME', 'timestamp', 'When the first customer post arrived.', 'c.created_at'),
    col('FIRST_ASSIGNED_TIME', 'timestamp', 'When it was first assigned to an agent.', 'c.first_assigned_at'),
    col('FIRST_RESPONSE_TIME', 'timestamp', 'When an agent first responded.', 'c.first_response_at'),
    col('CLOSED_TIME', 'timestamp', 'When it was last closed; empty while open.', 'c.closed_at'),
    col('TIME_TO_FIRST_RESPONSE_MILLIS', 'duration_ms', 'FIRST_RESPONSE_TIME minus CREATED_TIME.', millisBetween('c.created_at', 'c.first_response_at')),
    col('HANDLE_TIME_MILLIS', 'duration_ms', 'Time agents spent working the conversation.', 'c.handle_time_ms'),
    col('RESOLUTION_TIME_MILLIS', 'duration_ms', 'CLOSED_TIME minus CREATED_TIME; empty while open.', millisBetween('c.created_at', 'c.closed_at')),
    col('INCOMING_POST_COUNT', 'integer', 'Customer posts in the conversation.', 'pc.incoming', 'pc'),
    col('RESPONSE_COUNT', 'integer', 'Agent responses in the conversation.', 'pc.responses', 'pc'),
    col('REOPEN_COUNT', 'integer', 'Times the conversation was reopened after closing.', 'c.reopen_count'),
    col('TAGS', 'text', 'Tags, comma-separated, in the order applied.', "nullif(array_to_string(c.tags, ','), '')"),
    col('SENTIMENT', 'enum', 'POSITIVE, NEUTRAL or NEGATIVE.', 'c.sentiment'),
    col('SURVEY_SCORE', 'integer', 'Customer survey score 1–5; empty when not answered.', 'c.survey_score'),
  ],
  parameters: ['conversationReportType', ...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source(s) {
    const type = s.req.conversationReportType ?? 'OPEN_AT_END';
    const range =
      type === 'CREATED'
        ? [s.inRange('c.created_at')]
        : type === 'CLOSED'
          ? [s.inRange('c.closed_at')]
          : [`c.created_at < ${s.end}`, `(c.closed_at IS NULL OR c.closed_at >= ${s.end})`];
    return {
      from: 'conversations c',
      joins: {
        wq: 'LEFT JOIN work_queues wq ON wq.company_id = c.company_id AND wq.workqueue_id = c.workqueue_id',
        ag: joinAgent('ag', 'c.assigned_agent_id'),
        tm: 'LEFT JOIN teams tm ON tm.company_id = c.company_id AND tm.team_id = c.team_id',
        au: joinAuthor('au', 'c.author_id'),
        pc: `LEFT JOIN LATERAL (
           SELECT count(*) FILTER (WHERE p.post_type = 'INCOMING') AS incoming,
                  count(*) FILTER (WHERE p.post_type = 'RESPONSE') AS responses
             FROM posts p WHERE p.company_id = c.company_id AND p.conversation_id = c.conversation_id) pc ON true`,
      },
      where: [
        `c.company_id = ${s.company}`,
        ...range,
        ...s.conversationFilters('c'),
        ...s.businessHours(type === 'CLOSED' ? 'c.closed_at' : 'c.created_at'),
      ],
      orderBy: 'c.created_at, c.conversation_id',
    };
  },
};
