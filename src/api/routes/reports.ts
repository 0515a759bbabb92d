/**
 * The three-step flow: create an export run, poll its status, download its
 * file (a 307 to a short-lived link the store makes). The routes translate HTTP; the
 * run operations themselves live in `runs/`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { ApiError, badParameter } from '../../errors.ts';
import { EXPORTS, exportPath, findExport } from '../../exports/catalog/index.ts';
import type { RawParams } from '../../exports/request.ts';
import type { ZoneCatalog } from '../../exports/zones.ts';
import type { AccessTokens } from '../../runs/access-token.ts';
import { createRun, type RunLimits } from '../../runs/create.ts';
import { isClosed, queuePosition } from '../../runs/run.ts';
import type { ExportStore } from '../../storage/index.ts';
import { checkCompanyKey, requirePermission, type Authenticator } from '../auth.ts';
import { pass } from '../envelope.ts';
import { authorizedRun, type RunParams } from '../run-access.ts';
import { BASE, created, jobInfo, runResult } from '../view.ts';

export interface ReportsDeps {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly auth: Authenticator;
  readonly zones: ZoneCatalog;
  readonly tokens: AccessTokens;
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
    checkCompanyKey(principal, params['companyKey']?.[0], true);
    const def = findExport(section, req.params.exportId);
    if (!def) {
      const elsewhere = EXPORTS.find((e) => e.id === req.params.exportId);
      throw new ApiError(
        'UNKNOWN_EXPORT',
        elsewhere
          ? `${elsewhere.id} is a ${elsewhere.section === 'marketing' ? 'Publishing' : 'Care'} export; create it at ${BASE}/${exportPath(elsewhere)}`
          : `there is no ${section === 'marketing' ? 'Publishing' : 'Care'} export '${req.params.exportId}'; list them with GET /api/public/reports/exports`,
      );
    }
    const run = await createRun(deps, { requester: principal, def, params, idempotencyKey: idempotencyKeyOf(req) });
    return pass(created(deps, run));
  };
  for (const prefix of [BASE, `${BASE}/report`]) {
    for (const method of ['GET', 'POST'] as const) {
      app.route({ method, url: `${prefix}/:exportId`, handler: create('care') });
      app.route({ method, url: `${prefix}/marketing/:exportId`, handler: create('marketing') });
    }
  }

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
      const why = isClosed(run.state)
        ? `the run closed as ${run.state} and has no file; create the export again`
        : 'the run is not complete yet; poll statusUrl until result.detail is COMPLETED';
      throw new ApiError('RUN_NOT_COMPLETE', why);
    }
    const link = await deps.store.downloadUrl(run.fileKey, deps.downloadUrlTtlSeconds);
    return reply.header('Cache-Control', 'no-store').redirect(link, 307);
  });
}

/** Query string and body (form or JSON) as one map of value lists. */
function collectParams(req: FastifyRequest): RawParams {
  // No prototype: a parameter named `constructor` or `__proto__` is just an unknown parameter.
  const out = Object.create(null) as RawParams;
  const add = (source: unknown, where: string) => {
    if (source === undefined || source === null || source === '') return;
    if (typeof source !== 'object' || Array.isArray(source)) {
      throw badParameter(`the ${where} must be an object of parameters (a form or a JSON object)`);
    }
    for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
      const list = Array.isArray(v) ? v : [v];
      for (const item of list) {
        if (item === null || item === undefined) continue;
        if (typeof item === 'object') throw badParameter(`${k} must be a string, number or boolean, or a list of them`);
        (out[k] ??= []).push(String(item as string | number | boolean));
      }
    }
  };
  add(req.query, 'query string');
  add(req.body, 'request body');
  return out;
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
