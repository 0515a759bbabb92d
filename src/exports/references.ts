/**
 * Ids a request names must exist in the caller's company: a work queue, team,
 * agent, campaign or smart view that is not there is a 400 that says which,
 * rather than an empty file.
 */
import type pg from 'pg';
import { badParameter } from '../errors.ts';
import type { ExportDef } from './catalog/types.ts';
import type { ExportRequest } from './catalog/export-request.ts';

interface Reference {
  /** The parameter as the export spells it (the user export names its team filter teamId). */
  readonly param: string | ((def: ExportDef) => string);
  readonly table: string;
  readonly column: string;
  readonly noun: string;
  readonly hint: string;
  readonly ids: (req: ExportRequest) => readonly string[] | undefined;
}

const REFERENCES: readonly Reference[] = [
  { param: 'workqueueIds', table: 'work_queues', column: 'workqueue_id', noun: 'work queue', hint: '', ids: (r) => r.workqueueIds },
  { param: 'smartViewId', table: 'smart_views', column: 'smart_view_id', noun: 'smart view', hint: '', ids: (r) => (r.smartViewId ? [r.smartViewId] : undefined) },
  {
    param: (def) => (def.parameters.includes('teamId') ? 'teamId' : 'teamIds'),
    table: 'teams', column: 'team_id', noun: 'team', hint: '; list them with GET /api/public/teams', ids: (r) => r.teamIds,
  },
  { param: 'agentId', table: 'agents', column: 'agent_id', noun: 'agent', hint: '', ids: (r) => r.agentIds },
  { param: 'campaignIds', table: 'campaigns', column: 'campaign_id', noun: 'campaign', hint: '', ids: (r) => r.campaignIds },
];

export async function checkReferences(pool: pg.Pool, company: { id: string; key: string }, def: ExportDef, req: ExportRequest): Promise<void> {
  for (const ref of REFERENCES) {
    const ids = ref.ids(req);
    if (!ids || ids.length === 0) continue;
    const r = await pool.query<{ id: string }>(
      `SELECT x::text AS id FROM unnest($2::bigint[]) x
        WHERE NOT EXISTS (SELECT 1 FROM ${ref.table} t WHERE t.company_id = $1 AND t.${ref.column} = x)
        ORDER BY x`,
      [company.id, ids],
    );
    if (r.rows.length > 0) {
      const missing = r.rows.map((x) => x.id);
      const param = typeof ref.param === 'string' ? ref.param : ref.param(def);
      throw badParameter(
        `${param}: ${missing.join(', ')} ${missing.length === 1 ? `is not ${/^[aeiou]/.test(ref.noun) ? 'an' : 'a'} ${ref.noun}` : `are not ${ref.noun}s`} of company ${company.key}${ref.hint}`,
      );
    }
  }
}
