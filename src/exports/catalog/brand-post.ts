import { BUSINESS_HOURS, col } from './columns.ts';
import type { ExportDef } from './types.ts';

export const rawBrandPost: ExportDef = {
  id: 'raw_brand_post',
  section: 'marketing',
  description: 'Brand posts published in the range, with their campaign and engagement (Publishing).',
  grain: 'brand post published in range',
  columns: [
    col('POST_ID', 'id', 'Brand post id.', 'bp.post_id'),
    col('CAMPAIGN_ID', 'id', 'Campaign; empty when none.', 'bp.campaign_id'),
    col('CAMPAIGN_NAME', 'text', 'Campaign name.', 'cp.name', 'cp'),
    col('NETWORK', 'enum', 'Network published on.', 'bp.network'),
    col('ACCOUNT_HANDLE', 'text', 'Brand account that published.', 'bp.account_handle'),
    col('AUTHOR_ID', 'id', 'Agent who wrote the post.', 'bp.author_agent_id'),
    col('SCHEDULED_TIME', 'timestamp', 'When it was scheduled for.', 'bp.scheduled_at'),
    col('PUBLISHED_TIME', 'timestamp', 'When it was published.', 'bp.published_at'),
    col('STATUS', 'enum', 'DRAFT, SCHEDULED, PUBLISHED or FAILED.', 'bp.status'),
    col('CONTENT', 'text', 'Text of the post.', 'bp.content'),
    col('LINK', 'text', 'Link in the post.', 'bp.link'),
    col('IMPRESSIONS', 'integer', 'Times the post was shown.', 'bp.impressions'),
    col('ENGAGEMENTS', 'integer', 'Likes, shares, comments and clicks together.', 'bp.engagements'),
    col('LIKES', 'integer', 'Likes.', 'bp.likes'),
    col('SHARES', 'integer', 'Shares.', 'bp.shares'),
    col('COMMENTS', 'integer', 'Comments.', 'bp.comments'),
    col('CLICKS', 'integer', 'Link clicks.', 'bp.clicks'),
  ],
  parameters: ['campaignIds', ...BUSINESS_HOURS],
  source(s) {
    const where = [`bp.company_id = ${s.company}`, s.inRange('bp.published_at')];
    if (s.req.campaignIds) where.push(`bp.campaign_id IN (${s.ids(s.req.campaignIds)})`);
    where.push(...s.businessHours('bp.published_at'));
    return {
      from: 'brand_posts bp',
      joins: { cp: 'LEFT JOIN campaigns cp ON cp.company_id = bp.company_id AND cp.campaign_id = bp.campaign_id' },
      where,
      orderBy: 'bp.published_at, bp.post_id',
    };
  },
};
