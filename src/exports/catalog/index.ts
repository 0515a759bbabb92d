/**
 * Every export this service offers. The catalog is the single source of truth
 * for ids, columns and parameters.
 */
import { rawAgentStates } from './agents.ts';
import { rawExpertHelp, responseApproval } from './approvals-and-help.ts';
import { rawBrandPost } from './brand-post.ts';
import { conversation } from './conversation.ts';
import { conversationActions, conversationHistoryAction } from './conversation-actions.ts';
import { author, combined, incomingPost, response } from './posts.ts';
import { teamPerformance, teamPerformanceInterval } from './teams.ts';
import type { ExportDef } from './types.ts';
import { user } from './user.ts';

export const EXPORTS: readonly ExportDef[] = [
  conversation,
  conversationActions,
  conversationHistoryAction,
  author,
  combined,
  incomingPost,
  response,
  responseApproval,
  rawExpertHelp,
  rawAgentStates,
  teamPerformance,
  teamPerformanceInterval,
  user,
  rawBrandPost,
];

const byKey = new Map(EXPORTS.map((e) => [`${e.section}/${e.id}`, e]));

/** The export at `/report/{id}` (care) or `/report/marketing/{id}`. */
export function findExport(section: 'care' | 'marketing', id: string): ExportDef | undefined {
  return byKey.get(`${section}/${id}`);
}

/** `marketing/raw_brand_post` for Publishing exports, the bare id for Care ones. */
export function exportPath(def: ExportDef): string {
  return def.section === 'marketing' ? `marketing/${def.id}` : def.id;
}

export type { ParameterName } from './parameters.ts';
export type { ExportDef, ColumnDef, QueryContext, SmartViewFilter } from './types.ts';
