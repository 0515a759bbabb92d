/**
 * The record schema of every care entity that can be ingested, declared
 * once: validation, the upsert SQL and docs/ingest.md all come from here.
 * Every record carries its source id(s) and an `updatedAt`; the company comes
 * from the caller, never from the record.
 */

export type FieldType = 'id' | 'text' | 'integer' | 'boolean' | 'time' | 'enum' | 'text[]' | 'object' | 'uuid';

export interface FieldDef {
  /** Name in the JSON record (camelCase). */
  readonly name: string;
  readonly column: string;
  readonly type: FieldType;
  readonly required?: boolean;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** The entity this id refers to; an unknown one is reported, not dropped. */
  readonly ref?: EntityName;
  /** The value of a column that cannot be null when the record leaves the field out. */
  readonly default?: boolean | number | string[];
  /** May lie in the future (a scheduled time); other times may not, beyond a small clock tolerance. */
  readonly future?: boolean;
  /** Further rules for an object field: the reason it is invalid, or undefined. */
  readonly check?: (value: Record<string, unknown>) => string | undefined;
  readonly description: string;
}

export type EntityName =
  | 'teams' | 'agents' | 'work-queues' | 'smart-views' | 'campaigns' | 'authors' | 'conversations' | 'posts'
  | 'conversation-actions' | 'response-approvals' | 'help-requests' | 'agent-states' | 'brand-posts';

export interface EntityDef {
  readonly name: EntityName;
  readonly table: string;
  readonly description: string;
  /** Field names of the record's key (with the company). */
  readonly key: readonly string[];
  readonly fields: readonly FieldDef[];
  /**
   * The list field, if any, that is not a column but the record's memberships
   * (an agent's teams, rows of team_members). Each applied version replaces
   * them whole, which a plain COPY into the table cannot do, so the bulk
   * import writes such an entity through the batch upsert.
   */
  readonly membershipsField?: string;
  readonly example: Record<string, unknown>;
}

/** The largest value of an `integer` column; other counts are `bigint`, beyond any safe JSON integer. */
const INT4_MAX = 2_147_483_647;
const NETWORKS = ['TWITTER', 'FACEBOOK', 'INSTAGRAM', 'WHATSAPP', 'CHAT', 'EMAIL', 'SMS'];
const SENTIMENTS = ['POSITIVE', 'NEUTRAL', 'NEGATIVE'];

const id = (name: string, column: string, description: string, extra: Partial<FieldDef> = {}): FieldDef => ({ name, column, type: 'id', description, ...extra });
const text = (name: string, column: string, description: string, extra: Partial<FieldDef> = {}): FieldDef => ({ name, column, type: 'text', description, ...extra });
const time = (name: string, column: string, description: string, extra: Partial<FieldDef> = {}): FieldDef => ({ name, column, type: 'time', description, ...extra });
const oneOf = (name: string, column: string, values: readonly string[], description: string, extra: Partial<FieldDef> = {}): FieldDef => ({ name, column, type: 'enum', values, description, ...extra });
const int = (name: string, column: string, description: string, extra: Partial<FieldDef> = {}): FieldDef => ({ name, column, type: 'integer', description, ...extra });

export const UPDATED_AT: FieldDef = time('updatedAt', 'updated_at', 'When the source last changed the record; an older version never replaces a newer one.', { required: true });

export const ENTITIES: readonly EntityDef[] = [
  {
    name: 'teams', table: 'teams', description: 'Teams of agents.', key: ['id'],
    fields: [
      id('id', 'team_id', 'Team id.', { required: true }),
      { name: 'uuid', column: 'uuid', type: 'uuid', required: true, description: 'Team UUID.' },
      text('name', 'name', 'Team name.', { required: true }),
      text('description', 'description', 'What the team does.'),
      { name: 'enabled', column: 'enabled', type: 'boolean', default: true, description: 'false for a disabled team (default true).' },
    ],
    example: { id: 6222, uuid: '6f1c3e1a-2b4d-4c8e-9f00-000000006222', name: 'North West', description: 'Enquiries from the north-west region', enabled: true, updatedAt: '2019-01-02T09:00:00Z' },
  },
  {
    name: 'agents', table: 'agents', description: 'Agents (users of the care console) and their team memberships.', key: ['id'],
    fields: [
      id('id', 'agent_id', 'Agent id.', { required: true }),
      text('displayId', 'display_id', 'Id shown in the console.', { required: true }),
      text('name', 'name', 'Full name.', { required: true }),
      text('email', 'email', 'Email address.', { required: true }),
      oneOf('role', 'role', ['AGENT', 'EXPERT', 'SUPERVISOR'], 'Role.', { required: true }),
      { name: 'enabled', column: 'enabled', type: 'boolean', default: true, description: 'false for a disabled agent (default true).' },
      time('createdAt', 'created_at', 'When the agent was created.', { required: true }),
      { name: 'teamIds', column: '', type: 'text[]', ref: 'teams', description: "The agent's teams; replaces the memberships of the previous version." },
    ],
    membershipsField: 'teamIds',
    example: { id: 1001, displayId: 'agent.1001', name: 'Ana Silva', email: 'ana.silva@example.com', role: 'AGENT', enabled: true, createdAt: '2018-06-01T00:00:00Z', teamIds: [6222], updatedAt: '2019-01-02T09:00:00Z' },
  },
  {
    name: 'work-queues', table: 'work_queues', description: 'Work queues conversations are routed to.', key: ['id'],
    fields: [id('id', 'workqueue_id', 'Work queue id.', { required: true }), text('name', 'name', 'Queue name.', { required: true })],
    example: { id: 501, name: 'General', updatedAt: '2019-01-02T09:00:00Z' },
  },
  {
    name: 'smart-views', table: 'smart_views', description: 'Saved filters over conversations.', key: ['id'],
    fields: [
      id('id', 'smart_view_id', 'Smart view id.', { required: true }),
      text('name', 'name', 'Name.', { required: true }),
      { name: 'filter', column: 'filter', type: 'object', required: true, check: checkSmartViewFilter, description: 'Any of networks, priorities (0–5), workqueueIds, tags (lists) and businessHours (boolean).' },
    ],
    example: { id: 9001, name: 'Urgent on social', filter: { networks: ['TWITTER', 'FACEBOOK'], priorities: [4, 5] }, updatedAt: '2019-01-02T09:00:00Z' },
  },
  {
    name: 'campaigns', table: 'campaigns', description: 'Publishing campaigns.', key: ['id'],
    fields: [id('id', 'campaign_id', 'Campaign id.', { required: true }), text('name', 'name', 'Campaign name.', { required: true })],
    example: { id: 701, name: 'Spring Sale 2019', updatedAt: '2019-01-02T09:00:00Z' },
  },
  {
    name: 'authors', table: 'authors', description: 'Customers on the networks.', key: ['id'],
    fields: [
      id('id', 'author_id', 'Author id.', { required: true }),
      text('handle', 'handle', 'Handle on the network.', { required: true }),
      text('displayName', 'display_name', 'Display name.', { required: true }),
      oneOf('network', 'network', NETWORKS, 'Network.', { required: true }),
      int('followerCount', 'follower_count', 'Followers.', { min: 0, max: INT4_MAX, default: 0 }),
      time('firstSeenAt', 'first_seen_at', 'When the author first wrote to the company.', { required: true }),
    ],
    example: { id: 5000001, handle: '@hannah_1', displayName: 'Hannah Tanaka', network: 'TWITTER', followerCount: 1333, firstSeenAt: '2018-10-24T00:00:00Z', updatedAt: '2019-01-02T09:00:00Z' },
  },
  {
    name: 'conversations', table: 'conversations', description: 'Conversations, with their current state.', key: ['id'],
    fields: [
      id('id', 'conversation_id', 'Conversation id.', { required: true }),
      text('displayId', 'display_id', 'Id shown in the console.', { required: true }),
      oneOf('network', 'network', NETWORKS, 'Network.', { required: true }),
      oneOf('status', 'status', ['OPEN', 'PENDING', 'CLOSED'], 'Current status.', { required: true }),
      int('priority', 'priority', 'Current priority, 0 to 5.', { required: true, min: 0, max: 5 }),
      id('workqueueId', 'workqueue_id', 'Current work queue.', { ref: 'work-queues' }),
      id('assignedAgentId', 'assigned_agent_id', 'Assigned agent.', { ref: 'agents' }),
      id('teamId', 'team_id', 'Team of the assignment.', { ref: 'teams' }),
      id('authorId', 'author_id', 'Customer who started it.', { required: true, ref: 'authors' }),
      time('createdAt', 'created_at', 'When the first customer post arrived.', { required: true }),
      time('firstAssignedAt', 'first_assigned_at', 'First assignment.'),
      time('firstResponseAt', 'first_response_at', 'First agent response.'),
      time('closedAt', 'closed_at', 'Last close; absent while open.'),
      int('handleTimeMs', 'handle_time_ms', 'Time agents worked it, ms.', { min: 0 }),
      int('reopenCount', 'reopen_count', 'Times reopened.', { min: 0, max: INT4_MAX, default: 0 }),
      { name: 'tags', column: 'tags', type: 'text[]', default: [], description: 'Tags in the order applied.' },
      oneOf('sentiment', 'sentiment', SENTIMENTS, 'Sentiment.'),
      int('surveyScore', 'survey_score', 'Survey score 1 to 5.', { min: 1, max: 5 }),
    ],
    example: {
      id: 100001, displayId: 'C-100001', network: 'TWITTER', status: 'CLOSED', priority: 2, workqueueId: 501, assignedAgentId: 1001, teamId: 6222,
      authorId: 5000001, createdAt: '2019-03-01T12:00:00Z', firstAssignedAt: '2019-03-01T12:05:00Z', firstResponseAt: '2019-03-01T12:20:00Z',
      closedAt: '2019-03-02T08:00:00Z', handleTimeMs: 600000, reopenCount: 0, tags: ['billing'], sentiment: 'NEUTRAL', surveyScore: 4, updatedAt: '2019-03-02T08:00:00Z',
    },
  },
  {
    name: 'posts', table: 'posts', description: 'Customer posts and agent responses.', key: ['id'],
    fields: [
      id('id', 'post_id', 'Post id.', { required: true }),
      id('conversationId', 'conversation_id', 'Conversation.', { required: true, ref: 'conversations' }),
      oneOf('type', 'post_type', ['INCOMING', 'RESPONSE'], 'INCOMING from the customer, RESPONSE from an agent.', { required: true }),
      id('authorId', 'author_id', 'Customer (incoming posts).', { ref: 'authors' }),
      id('agentId', 'agent_id', 'Agent (responses).', { ref: 'agents' }),
      time('postedAt', 'posted_at', 'When it was written.', { required: true }),
      text('language', 'language', 'ISO 639-1 language.'),
      oneOf('sentiment', 'sentiment', SENTIMENTS, 'Sentiment.'),
      text('content', 'content', 'Text.', { required: true }),
      oneOf('approvalStatus', 'approval_status', ['NOT_REQUIRED', 'APPROVED', 'REJECTED', 'PENDING'], 'Approval of a response.'),
    ],
    example: { id: 1700001, conversationId: 100001, type: 'INCOMING', authorId: 5000001, postedAt: '2019-03-01T12:00:00Z', language: 'en', sentiment: 'NEGATIVE', content: 'I was charged twice, "again"!', updatedAt: '2019-03-01T12:00:00Z' },
  },
  {
    name: 'conversation-actions', table: 'conversation_actions', description: 'Every action on a conversation.', key: ['id'],
    fields: [
      id('id', 'action_id', 'Action id.', { required: true }),
      id('conversationId', 'conversation_id', 'Conversation.', { required: true, ref: 'conversations' }),
      oneOf('type', 'action_type', ['CREATED', 'ASSIGNED', 'RESPONDED', 'TAGGED', 'PRIORITY_CHANGED', 'QUEUE_CHANGED', 'CLOSED', 'REOPENED'], 'What happened.', { required: true }),
      time('time', 'action_time', 'When.', { required: true }),
      id('agentId', 'agent_id', 'Agent who acted.', { ref: 'agents' }),
      id('teamId', 'team_id', "The agent's team.", { ref: 'teams' }),
      id('workqueueId', 'workqueue_id', 'Queue after the action.', { ref: 'work-queues' }),
      int('priority', 'priority', 'Priority after the action.', { min: 0, max: 5 }),
      text('detail', 'detail', 'What changed.'),
    ],
    example: { id: 6400001, conversationId: 100001, type: 'ASSIGNED', time: '2019-03-01T12:05:00Z', agentId: 1001, teamId: 6222, workqueueId: 501, priority: 2, updatedAt: '2019-03-01T12:05:00Z' },
  },
  {
    name: 'response-approvals', table: 'response_approvals', description: 'Responses submitted for approval.', key: ['id'],
    fields: [
      id('id', 'approval_id', 'Approval id.', { required: true }),
      id('responseId', 'response_id', 'The response (a post).', { required: true, ref: 'posts' }),
      id('conversationId', 'conversation_id', 'Conversation.', { required: true, ref: 'conversations' }),
      id('submittingAgentId', 'submitting_agent_id', 'Agent who wrote the response.', { required: true, ref: 'agents' }),
      id('reviewerAgentId', 'reviewer_agent_id', 'Agent who decided.', { ref: 'agents' }),
      id('teamId', 'team_id', 'Team.', { ref: 'teams' }),
      time('submittedAt', 'submitted_at', 'When submitted.', { required: true }),
      oneOf('decision', 'decision', ['APPROVED', 'REJECTED', 'PENDING'], 'Decision.', { required: true }),
      time('decisionAt', 'decision_at', 'When decided.'),
    ],
    example: { id: 3000001, responseId: 1700002, conversationId: 100001, submittingAgentId: 1001, reviewerAgentId: 1014, teamId: 6222, submittedAt: '2019-03-01T12:18:00Z', decision: 'APPROVED', decisionAt: '2019-03-01T12:19:30Z', updatedAt: '2019-03-01T12:19:30Z' },
  },
  {
    name: 'help-requests', table: 'help_requests', description: 'Requests agents send to experts.', key: ['id'],
    fields: [
      id('id', 'help_request_id', 'Help request id.', { required: true }),
      id('conversationId', 'conversation_id', 'Conversation.', { required: true, ref: 'conversations' }),
      id('requestingAgentId', 'requesting_agent_id', 'Agent who asked.', { required: true, ref: 'agents' }),
      id('expertAgentId', 'expert_agent_id', 'Expert who answered.', { ref: 'agents' }),
      oneOf('status', 'status', ['OPEN', 'ANSWERED', 'CANCELED'], 'Status.', { required: true }),
      time('requestedAt', 'requested_at', 'When asked.', { required: true }),
      time('answeredAt', 'answered_at', 'When answered.'),
    ],
    example: { id: 420001, conversationId: 100001, requestingAgentId: 1001, expertAgentId: 1008, status: 'ANSWERED', requestedAt: '2019-03-01T12:10:00Z', answeredAt: '2019-03-01T12:14:00Z', updatedAt: '2019-03-01T12:14:00Z' },
  },
  {
    name: 'agent-states', table: 'agent_states', description: 'Availability intervals of agents.', key: ['agentId', 'device', 'startedAt'],
    fields: [
      id('agentId', 'agent_id', 'Agent.', { required: true, ref: 'agents' }),
      oneOf('device', 'device', ['CONSOLE', 'MOBILE'], 'Where the agent was logged in.', { required: true }),
      time('startedAt', 'started_at', 'Start of the interval.', { required: true }),
      time('endedAt', 'ended_at', 'End of the interval (after startedAt).', { required: true }),
      oneOf('state', 'state', ['GREEN', 'YELLOW', 'RED', 'OFFLINE'], 'State.', { required: true }),
    ],
    example: { agentId: 1001, device: 'CONSOLE', startedAt: '2019-03-01T14:00:00Z', endedAt: '2019-03-01T16:30:00Z', state: 'GREEN', updatedAt: '2019-03-01T16:30:00Z' },
  },
  {
    name: 'brand-posts', table: 'brand_posts', description: 'Brand posts of Publishing, with engagement.', key: ['id'],
    fields: [
      id('id', 'post_id', 'Brand post id.', { required: true }),
      id('campaignId', 'campaign_id', 'Campaign.', { ref: 'campaigns' }),
      oneOf('network', 'network', NETWORKS, 'Network.', { required: true }),
      text('accountHandle', 'account_handle', 'Brand account.', { required: true }),
      id('authorAgentId', 'author_agent_id', 'Agent who wrote it.', { ref: 'agents' }),
      time('scheduledAt', 'scheduled_at', 'Scheduled for.', { future: true }),
      time('publishedAt', 'published_at', 'Published at.'),
      oneOf('status', 'status', ['DRAFT', 'SCHEDULED', 'PUBLISHED', 'FAILED'], 'Status.', { required: true }),
      text('content', 'content', 'Text.', { required: true }),
      text('link', 'link', 'Link.'),
      ...(['impressions', 'engagements', 'likes', 'shares', 'comments', 'clicks'] as const).map((n) => int(n, n, `${n[0]!.toUpperCase()}${n.slice(1)}.`, { min: 0, default: 0 })),
    ],
    example: { id: 800001, campaignId: 701, network: 'TWITTER', accountHandle: '@acme', authorAgentId: 1001, scheduledAt: '2019-03-01T14:00:00Z', publishedAt: '2019-03-01T14:00:02Z', status: 'PUBLISHED', content: 'Spring is here 🌷', link: 'https://example.com/c/1', impressions: 20000, engagements: 650, likes: 500, shares: 100, comments: 30, clicks: 20, updatedAt: '2019-03-01T18:00:00Z' },
  },
];

/** A smart view's stored filter, as the exports apply it. */
function checkSmartViewFilter(f: Record<string, unknown>): string | undefined {
  const list = (k: string, ok: (x: unknown) => boolean, what: string) =>
    f[k] === undefined || (Array.isArray(f[k]) && (f[k] as unknown[]).every(ok)) ? undefined : `${k} must be a list of ${what}`;
  const unknown = Object.keys(f).find((k) => !['networks', 'priorities', 'workqueueIds', 'tags', 'businessHours'].includes(k));
  if (unknown) return `unknown filter '${unknown}'; a filter has networks, priorities, workqueueIds, tags and businessHours`;
  return (
    list('networks', (x) => typeof x === 'string' && NETWORKS.includes(x), NETWORKS.join(', ')) ??
    list('priorities', (x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 5, 'priorities 0 to 5') ??
    list('workqueueIds', (x) => typeof x === 'string' ? /^\d{1,18}$/.test(x) : Number.isSafeInteger(x) && (x as number) > 0, 'work queue ids') ??
    list('tags', (x) => typeof x === 'string', 'strings') ??
    (f['businessHours'] === undefined || typeof f['businessHours'] === 'boolean' ? undefined : 'businessHours must be true or false')
  );
}

export function findEntity(name: string): EntityDef | undefined {
  return ENTITIES.find((e) => e.name === name);
}

/** The fields of a record, updatedAt included. */
export function allFields(e: EntityDef): readonly FieldDef[] {
  return [...e.fields, UPDATED_AT];
}
