import { BUSINESS_HOURS, col, CONVERSATION_FILTERS, millisBetween } from './columns.ts';
import type { ExportDef } from './types.ts';

export const responseApproval: ExportDef = {
  id: 'response_approval',
  section: 'care',
  description:
    'Responses submitted for approval in the range, with the decision. Approvals submitted by disabled agents or ' +
    'in disabled teams are left out unless includeDisabled=true.',
  grain: 'approval request submitted in range',
  columns: [
    col('RESPONSE_ID', 'id', 'Response that needed approval.', 'ra.response_id'),
    col('CONVERSATION_ID', 'id', 'Conversation of the response.', 'ra.conversation_id'),
    col('SUBMITTING_AGENT_ID', 'id', 'Agent who wrote the response.', 'ra.submitting_agent_id'),
    col('REVIEWER_AGENT_ID', 'id', 'Agent who decided; empty while pending.', 'ra.reviewer_agent_id'),
    col('TEAM_ID', 'id', "The conversation's team.", 'ra.team_id'),
    col('SUBMITTED_TIME', 'timestamp', 'When the response was submitted.', 'ra.submitted_at'),
    col('DECISION', 'enum', 'APPROVED, REJECTED or PENDING.', 'ra.decision'),
    col('DECISION_TIME', 'timestamp', 'When it was decided; empty while pending.', 'ra.decision_at'),
    col('WAIT_MILLIS', 'duration_ms', 'DECISION_TIME minus SUBMITTED_TIME.', millisBetween('ra.submitted_at', 'ra.decision_at')),
  ],
  parameters: ['includeDisabled', 'teamIds', ...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source(s) {
    const where = [`ra.company_id = ${s.company}`, s.inRange('ra.submitted_at')];
    if (s.req.teamIds) where.push(`ra.team_id IN (${s.ids(s.req.teamIds)})`);
    if (!s.req.includeDisabled) {
      where.push(
        'EXISTS (SELECT 1 FROM agents sa WHERE sa.company_id = ra.company_id AND sa.agent_id = ra.submitting_agent_id AND sa.enabled)',
        '(ra.team_id IS NULL OR EXISTS (SELECT 1 FROM teams st WHERE st.company_id = ra.company_id AND st.team_id = ra.team_id AND st.enabled))',
      );
    }
    where.push(...s.conversationOf('ra'), ...s.businessHours('ra.submitted_at'));
    return { from: 'response_approvals ra', where, orderBy: 'ra.submitted_at, ra.approval_id' };
  },
};

export const rawExpertHelp: ExportDef = {
  id: 'raw_expert_help',
  section: 'care',
  description: 'Requests for help that agents sent to experts in the range.',
  grain: 'help request in range',
  columns: [
    col('HELP_REQUEST_ID', 'id', 'Help request id.', 'h.help_request_id'),
    col('CONVERSATION_ID', 'id', 'Conversation the help was about.', 'h.conversation_id'),
    col('REQUESTING_AGENT_ID', 'id', 'Agent who asked.', 'h.requesting_agent_id'),
    col('EXPERT_AGENT_ID', 'id', 'Expert who answered; empty until then.', 'h.expert_agent_id'),
    col('STATUS', 'enum', 'OPEN, ANSWERED or CANCELED.', 'h.status'),
    col('REQUESTED_TIME', 'timestamp', 'When help was asked for.', 'h.requested_at'),
    col('ANSWERED_TIME', 'timestamp', 'When the expert answered.', 'h.answered_at'),
    col('WAIT_MILLIS', 'duration_ms', 'ANSWERED_TIME minus REQUESTED_TIME.', millisBetween('h.requested_at', 'h.answered_at')),
  ],
  parameters: [...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source: (s) => ({
    from: 'help_requests h',
    where: [`h.company_id = ${s.company}`, s.inRange('h.requested_at'), ...s.conversationOf('h'), ...s.businessHours('h.requested_at')],
    orderBy: 'h.requested_at, h.help_request_id',
  }),
};
