import { BUSINESS_HOURS, col, CONVERSATION_FILTERS, joinAgent, joinAuthor, millisBetween } from './columns.ts';
import type { ExportDef, SqlScope } from './types.ts';

const joinConversation = 'LEFT JOIN conversations c ON c.company_id = p.company_id AND c.conversation_id = p.conversation_id';

/** Posts of one type (or both) in the range, with the conversation filters and business hours on the post time. */
function postSource(s: SqlScope, type: 'INCOMING' | 'RESPONSE' | undefined, joins: Record<string, string>) {
  return {
    from: 'posts p',
    joins: { c: joinConversation, ...joins },
    where: [
      `p.company_id = ${s.company}`,
      ...(type ? [`p.post_type = '${type}'`] : []),
      s.inRange('p.posted_at'),
      ...s.conversationOf('p'),
      ...s.businessHours('p.posted_at'),
    ],
    orderBy: 'p.posted_at, p.post_id',
  };
}

export const combined: ExportDef = {
  id: 'combined',
  section: 'care',
  description: 'Every post in the range, customer posts and agent responses alike, with the attributes of its conversation.',
  grain: 'post (incoming or response) in range',
  columns: [
    col('POST_ID', 'id', 'Post id.', 'p.post_id'),
    col('POST_TYPE', 'enum', 'INCOMING (from the customer) or RESPONSE (from an agent).', 'p.post_type'),
    col('CONVERSATION_ID', 'id', 'Conversation of the post.', 'p.conversation_id'),
    col('POST_TIME', 'timestamp', 'When the post was written.', 'p.posted_at'),
    col('NETWORK', 'enum', 'Network of the conversation.', 'c.network', 'c'),
    col('AUTHOR_ID', 'id', 'Customer who wrote an incoming post; empty for responses.', 'p.author_id'),
    col('AGENT_ID', 'id', 'Agent who wrote a response; empty for incoming posts.', 'p.agent_id'),
    col('TEAM_ID', 'id', "The conversation's team.", 'c.team_id', 'c'),
    col('WORKQUEUE_ID', 'id', "The conversation's current work queue.", 'c.workqueue_id', 'c'),
    col('PRIORITY', 'integer', "The conversation's current priority.", 'c.priority', 'c'),
    col('STATUS', 'enum', "The conversation's current status.", 'c.status', 'c'),
    col('CONTENT', 'text', 'Text of the post.', 'p.content'),
  ],
  parameters: [...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source: (s) => postSource(s, undefined, {}),
};

export const incomingPost: ExportDef = {
  id: 'incoming_post',
  section: 'care',
  description: 'Customer posts received in the range.',
  grain: 'incoming customer post in range',
  columns: [
    col('POST_ID', 'id', 'Post id.', 'p.post_id'),
    col('CONVERSATION_ID', 'id', 'Conversation of the post.', 'p.conversation_id'),
    col('AUTHOR_ID', 'id', 'Customer who wrote it.', 'p.author_id'),
    col('AUTHOR_HANDLE', 'text', "Customer's handle on the network.", 'au.handle', 'au'),
    col('NETWORK', 'enum', 'Network of the conversation.', 'c.network', 'c'),
    col('POST_TIME', 'timestamp', 'When the post arrived.', 'p.posted_at'),
    col('PRIORITY', 'integer', "The conversation's current priority.", 'c.priority', 'c'),
    col('WORKQUEUE_ID', 'id', "The conversation's current work queue.", 'c.workqueue_id', 'c'),
    col('LANGUAGE', 'text', 'Detected language (ISO 639-1).', 'p.language'),
    col('SENTIMENT', 'enum', 'POSITIVE, NEUTRAL or NEGATIVE.', 'p.sentiment'),
    col('CONTENT', 'text', 'Text of the post.', 'p.content'),
  ],
  parameters: [...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source: (s) => postSource(s, 'INCOMING', { au: joinAuthor('au', 'p.author_id') }),
};

export const response: ExportDef = {
  id: 'response',
  section: 'care',
  description: 'Agent responses sent in the range.',
  grain: 'agent response in range',
  columns: [
    col('RESPONSE_ID', 'id', 'Post id of the response.', 'p.post_id'),
    col('CONVERSATION_ID', 'id', 'Conversation of the response.', 'p.conversation_id'),
    col('RESPONDING_AGENT_ID', 'id', 'Agent who responded.', 'p.agent_id'),
    col('RESPONDING_AGENT_NAME', 'text', "That agent's name.", 'ag.name', 'ag'),
    col('RESPONDING_AGENT_EMAIL', 'text', "That agent's email.", 'ag.email', 'ag'),
    col('TEAM_ID', 'id', "The conversation's team.", 'c.team_id', 'c'),
    col('NETWORK', 'enum', 'Network of the conversation.', 'c.network', 'c'),
    col('RESPONSE_TIME', 'timestamp', 'When the response was sent.', 'p.posted_at'),
    col(
      'RESPONSE_DELAY_MILLIS',
      'duration_ms',
      'Time from the latest customer post at or before the response; empty when there is none.',
      millisBetween('prev.at', 'p.posted_at'),
      'prev',
    ),
    col('APPROVAL_STATUS', 'enum', 'NOT_REQUIRED, APPROVED, REJECTED or PENDING.', 'p.approval_status'),
    col('CONTENT', 'text', 'Text of the response.', 'p.content'),
  ],
  parameters: [...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source: (s) =>
    postSource(s, 'RESPONSE', {
      ag: joinAgent('ag', 'p.agent_id'),
      prev: `LEFT JOIN LATERAL (
           SELECT max(q.posted_at) AS at FROM posts q
            WHERE q.company_id = p.company_id AND q.conversation_id = p.conversation_id
              AND q.post_type = 'INCOMING' AND q.posted_at <= p.posted_at) prev ON true`,
    }),
};

export const author: ExportDef = {
  id: 'author',
  section: 'care',
  description:
    'Customers who wrote in the range, with how many conversations and posts they wrote in it. The conversation ' +
    'filters and business hours narrow the posts counted.',
  grain: 'author with an incoming post in range',
  columns: [
    col('AUTHOR_ID', 'id', 'Author id.', 'au.author_id'),
    col('HANDLE', 'text', 'Handle on the network.', 'au.handle'),
    col('DISPLAY_NAME', 'text', 'Display name on the network.', 'au.display_name'),
    col('NETWORK', 'enum', 'Network of the author.', 'au.network'),
    col('FOLLOWER_COUNT', 'integer', 'Followers on the network.', 'au.follower_count'),
    col('FIRST_SEEN_TIME', 'timestamp', 'When the author first wrote to the company.', 'au.first_seen_at'),
    col('CONVERSATION_COUNT', 'integer', 'Conversations the author wrote in during the range.', 'w.conversations'),
    col('INCOMING_POST_COUNT', 'integer', 'Posts the author wrote during the range.', 'w.posts'),
  ],
  parameters: [...CONVERSATION_FILTERS, ...BUSINESS_HOURS],
  source(s) {
    const posts = [
      `p.company_id = ${s.company}`,
      "p.post_type = 'INCOMING'",
      s.inRange('p.posted_at'),
      ...s.conversationOf('p'),
      ...s.businessHours('p.posted_at'),
    ];
    return {
      from: `(SELECT p.author_id, count(DISTINCT p.conversation_id) AS conversations, count(*) AS posts
          FROM posts p WHERE ${posts.join(' AND ')} GROUP BY p.author_id) w
        JOIN authors au ON au.company_id = ${s.company} AND au.author_id = w.author_id`,
      where: [],
      orderBy: 'au.author_id',
    };
  },
};
