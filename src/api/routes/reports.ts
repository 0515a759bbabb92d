/**
 * The three-step flow: create an export run, poll its status, download its
 * file (a 307 to a short-lived link the store makes). The routes translate HTTP; the
 * run operations themselves live in `runs/`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { closestName } from '../../did-you-mean.ts';
import { ApiError, badParameter } from '../../errors.ts';
import { EXPORTS, exportPath, findExport } from '../../exports/catalog/index.ts';
import { single } from '../../exports/request.ts';
import type { ZoneCatalog } from '../../exports/zones.ts';
import type { AccessTokens } from '../../runs/access-token.ts';
import { createRun, type RunLimits } from '../../runs/create.ts';
import { isClosed, queuePosition, secondsToCompletion } from '../../runs/run.ts';
import type { ExportStore } from '../../storage/index.ts';
import { checkCompanyKey, requirePermission, type Authenticator } from '../auth.ts';
import { pass } from '../envelope.ts';
import { collectParams } from '../params.ts';
import { authorizedRun, type RunParams } from '../run-access.ts';
import type { ClosedRuns } from '../../runs/closed-runs.ts';
import { BASE, created, jobInfo, runResult } from '../view.ts';

export interface ReportsDeps {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly auth: Authenticator;
  readonly zones: ZoneCatalog;
  readonly tokens: AccessTokens;
  readonly closedRuns: ClosedRuns;
  readonly store: ExportStore;
  readonly publicUrl: string;
  readonly downloadUrlTtlSeconds: number;
  readonly limits: RunLimits;
}

export function reportRoutes(app: FastifyInstance, deps: ReportsDeps): void {
  const create = (section: 'care' | 'marketing') => async (req: FastifyRequest<{ Params: { exportId: string } }>) => {
    const principal = await deps.auth.authenticate(req);
    requirePermission(principal, 'ANALYTICS_REPORTS_API');
    const params = collectParams(req);
    checkCompanyKey(principal, single(params, 'companyKey'), true);
    const def = findExport(section, req.params.exportId);
    if (!def) {
      const elsewhere = EXPORTS.find((e) => e.id === req.params.exportId);
      const nearId = closestName(req.params.exportId, EXPORTS.map((e) => e.id));
      const near = EXPORTS.find((e) => e.id === nearId);
      throw new ApiError(
        'UNKNOWN_EXPORT',
        elsewhere
          ? `${elsewhere.id} is a ${elsewhere.section === 'marketing' ? 'Publishing' : 'Care'} export; create it at ${BASE}/${exportPath(elsewhere)}`
          : `there is no ${section === 'marketing' ? 'Publishing' : 'Care'} export '${req.params.exportId}'${near ? `; did you mean ${BASE}/${exportPath(near)}?` : ''}; list them with GET /api/public/reports/exports`,
      );
    }
    const run = await createRun(deps, { requester: principal, def, params, idempotencyKey: idempotencyKeyOf(req) });
    return pass(created(deps, run));
  };
  void app.register((scope, _opts, done) => {
    // A JSON body is read like a form: into a map without a prototype (params.ts), where `__proto__` and
    // `constructor` are unknown parameters refused by name, not a body that "is not valid JSON".
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, scope.getDefaultJsonParser('ignore', 'ignore'));
    for (const prefix of [BASE, `${BASE}/report`]) {
      for (const method of ['GET', 'POST'] as const) {
        scope.route({ method, url: `${prefix}/:exportId`, handler: create('care') });
        scope.route({ method, url: `${prefix}/marketing/:exportId`, handler: create('marketing') });
      }
    }
    done();
  });

  app.get<{ Params: RunParams }>(`${BASE}/:workflowId/:runId/status`, async (req) => {
    const { run, principal } = await authorizedRun(deps, req);
    const queued = await queuePosition(deps.pool, run);
    const result = { ...runResult(run), queuePosition: queued?.position ?? null };
    if (queued && queued.companyRunning >= deps.limits.companyConcurrency) {
      result.reason = `waiting for one of the ${queued.companyRunning} running exports of company ${principal.company.key} to finish: a company runs at most ${deps.limits.companyConcurrency} at once`;
    }
    return pass({ jobInfo: jobInfo(deps, run), result });
  });

  app.get<{ Params: RunParams }>(`${BASE}/:workflowId/:runId/download`, async (req, reply) => {
    const { run } = await authorizedRun(deps, req);
    if (run.state === 'COMPLETED' && !run.fileKey) {
      const when = run.expiresAt ? ` on ${run.expiresAt.toISOString()}` : '';
      throw new ApiError('FILE_GONE', `the file of this run expired${when} (files are kept for a limited time); create the export again`);
    }
    if (run.state !== 'COMPLETED' || !run.fileKey) {
      if (isClosed(run.state)) throw new ApiError('RUN_NOT_COMPLETE', `the run closed as ${run.state} and has no file; create the export again`);
      const wait = secondsToCompletion(run);
      throw new ApiError(
        'RUN_NOT_COMPLETE',
        `the run is not complete yet; poll statusUrl until result.detail is COMPLETED, or ask again in ${wait} s`,
        { 'Retry-After': String(wait) },
      );
    }
    const link = await deps.store.downloadUrl(run.fileKey, deps.downloadUrlTtlSeconds);
    return reply.header('Cache-Control', 'no-store').redirect(link, 307);
  });
}

/** The Idempotency-Key header, if any: 1 to 255 visible ASCII characters. */
function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const v = req.headers['idempotency-key'];
  if (v === undefined) return undefined;
  const key = Array.isArray(v) ? v.join(',') : v;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw badParameter('the Idempotency-Key header must be 1 to 255 visible ASCII characters, e.g. a UUID');
  }
  return key;
}
