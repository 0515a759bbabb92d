import { BUSINESS_HOURS, col, CONVERSATION_FILTERS, joinAgent } from './columns.ts';
import type { ExportDef } from './types.ts';

export const conversationActions: ExportDef = {
  id: 'conversation_actions',
  section: 'care',
  description: 'Every action taken on a conversation (created, assigned, responded, tagged, priority or queue changed, closed, reopened) in the range.',
  grain: 'action in range',
  columns: [
    col('ACTION_ID', 'id', 'Action id.', 'a.action_id'),
    col('CONVERSATION_ID', 'id', 'Conversation acted on.', 'a.conversation_id'),
    col('ACTION_TYPE', 'enum', 'CREATED, ASSIGNED, RESPONDED, TAGGED, PRIORITY_CHANGED, QUEUE_CHANGED, CLOSED or REOPENED.', 'a.action_type'),
    col('ACTION_TIME', 'timestamp', 'When the action happened.', 'a.action_time'),
    col('AGENT_ID', 'id', 'Agent who acted; empty for system actions.', 'a.agent_id'),
    col('AGENT_DISPLAY_ID', 'text', 'Display id of that agent.', 'ag.display_id', 'ag'),
    col('TEAM_ID', 'id', "The agent's team for this conversation.", 'a.team_id'),
    col('WORKQUEUE_ID', 'id', 'Work queue of the conversation after the action.', 'a.workqueue_id'),
    col('PRIORITY', 'integer', 'Priority of the conversation after the action.', 'a.priority'),
    col('DETAIL', 'text', 'What changed, e.g. the tag applied or the new priority.', 'a.detail'),
  ],
  parameters: [...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source: (s) => ({
    from: 'conversation_actions a',
    joins: { ag: joinAgent('ag', 'a.agent_id') },
    where: [`a.company_id = ${s.company}`, s.inRange('a.action_time'), ...s.conversationOf('a'), ...s.businessHours('a.action_time')],
    orderBy: 'a.action_time, a.action_id',
  }),
};

export const HISTORY_LIMIT = 500;
export const RAISED_HISTORY_LIMIT = 2000;

export const conversationHistoryAction: ExportDef = {
  id: 'conversation_history_action',
  section: 'care',
  description:
    `The whole action history of each conversation with an action in the range, oldest first: the first ${HISTORY_LIMIT} ` +
    `actions of each conversation, or ${RAISED_HISTORY_LIMIT} with raiselimit=true.`,
  grain: 'action of a conversation active in range (whole history, capped per conversation)',
  columns: [
    col('CONVERSATION_ID', 'id', 'Conversation.', 'a.conversation_id'),
    col('SEQUENCE', 'integer', 'Position of the action in the conversation, from 1.', 'a.seq'),
    col('ACTION_TYPE', 'enum', 'CREATED, ASSIGNED, RESPONDED, TAGGED, PRIORITY_CHANGED, QUEUE_CHANGED, CLOSED or REOPENED.', 'a.action_type'),
    col('ACTION_TIME', 'timestamp', 'When the action happened (may lie outside the range).', 'a.action_time'),
    col('AGENT_ID', 'id', 'Agent who acted; empty for system actions.', 'a.agent_id'),
    col('DETAIL', 'text', 'What changed.', 'a.detail'),
  ],
  parameters: ['raiselimit', ...CONVERSATION_FILTERS],
  source(s) {
    const limit = s.req.raiseLimit ? RAISED_HISTORY_LIMIT : HISTORY_LIMIT;
    const active = [`r.company_id = ${s.company}`, s.inRange('r.action_time'), ...s.conversationOf('r')];
    return {
      from: `(SELECT h.*, row_number() OVER (PARTITION BY h.conversation_id ORDER BY h.action_time, h.action_id) AS seq
          FROM conversation_actions h
         WHERE h.company_id = ${s.company}
           AND h.conversation_id IN (SELECT r.conversation_id FROM conversation_actions r WHERE ${active.join(' AND ')})) a`,
      where: [`a.seq <= ${limit}`],
      orderBy: 'a.conversation_id, a.seq',
    };
  },
};
