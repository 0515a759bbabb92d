/**
 * Discovery (an extension of the original API): every export with its
 * columns and parameters, straight from the catalog.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { didYouMean } from '../../did-you-mean.ts';
import { describeExport } from '../../exports/catalog/describe.ts';
import { EXPORTS } from '../../exports/catalog/index.ts';
import { ApiError } from '../../errors.ts';
import { requirePermission, type Authenticator } from '../auth.ts';
import { pass } from '../envelope.ts';

export function discoveryRoutes(app: FastifyInstance, deps: { auth: Authenticator }): void {
  const caller = async (req: FastifyRequest) => requirePermission(await deps.auth.authenticate(req), 'ANALYTICS_REPORTS_API');
  app.get('/api/public/reports/exports', async (req) => {
    await caller(req);
    return pass(EXPORTS.map(describeExport));
  });
  const one = async (req: FastifyRequest<{ Params: { exportId: string } }>) => {
    await caller(req);
    const def = EXPORTS.find((e) => e.id === req.params.exportId);
    if (!def) {
      const near = didYouMean(req.params.exportId, EXPORTS.map((e) => e.id));
      throw new ApiError('UNKNOWN_EXPORT', `there is no export '${req.params.exportId}'${near}; list them with GET /api/public/reports/exports`);
    }
    return pass(describeExport(def));
  };
  app.get('/api/public/reports/exports/:exportId', one);
  app.get('/api/public/reports/exports/marketing/:exportId', one);
}
