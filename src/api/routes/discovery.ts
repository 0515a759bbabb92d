/**
 * Discovery (an extension of the original API): every export with its
 * columns and parameters, straight from the catalog.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EXPORTS, type ExportDef } from '../../exports/catalog/index.ts';
import { COMMON_PARAMETERS } from '../../exports/request.ts';
import { ApiError } from '../../errors.ts';
import { requirePermission, type Authenticator } from '../auth.ts';
import { pass } from '../envelope.ts';

function describeExport(def: ExportDef) {
  return {
    exportId: def.id,
    path: `/api/public/reports/report/${def.section === 'marketing' ? 'marketing/' : ''}${def.id}`,
    description: def.description,
    grain: def.grain,
    columns: def.columns.map((c) => ({ name: c.name, type: c.type, description: c.description })),
    parameters: [...COMMON_PARAMETERS, ...def.parameters],
  };
}

export function discoveryRoutes(app: FastifyInstance, deps: { auth: Authenticator }): void {
  const caller = async (req: FastifyRequest) => requirePermission(await deps.auth.authenticate(req), 'ANALYTICS_REPORTS_API');
  app.get('/api/public/reports/exports', async (req) => {
    await caller(req);
    return pass(EXPORTS.map(describeExport));
  });
  app.get<{ Params: { exportId: string } }>('/api/public/reports/exports/:exportId', async (req) => {
    await caller(req);
    const def = EXPORTS.find((e) => e.id === req.params.exportId.replace(/^marketing\//, ''));
    if (!def) throw new ApiError('UNKNOWN_EXPORT', `there is no export '${req.params.exportId}'; list them with GET /api/public/reports/exports`);
    return pass(describeExport(def));
  });
}
