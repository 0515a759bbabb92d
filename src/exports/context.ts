/** What a query needs besides the request: the company and its smart view's stored filter. */
import type pg from 'pg';
import type { QueryContext, SmartViewFilter } from './catalog/types.ts';
import type { ExportRequest } from './catalog/export-request.ts';

/** The query context of a request; undefined when its smart view no longer exists. */
export async function queryContext(pool: pg.Pool, companyId: string, req: ExportRequest): Promise<QueryContext | undefined> {
  if (!req.smartViewId) return { companyId };
  const r = await pool.query<{ filter: SmartViewFilter }>('SELECT filter FROM smart_views WHERE company_id = $1 AND smart_view_id = $2', [
    companyId,
    req.smartViewId,
  ]);
  const filter = r.rows[0]?.filter;
  return filter ? { companyId, smartView: filter } : undefined;
}
