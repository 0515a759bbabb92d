/**
 * The three-step flow: create an export run, poll its status, download its
 * file (a 307 to a short-lived signed link).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PgBoss } from 'pg-boss';
import { EXPORTS, exportPath, findExport } from '../../exports/catalog/index.ts';
import { checkReferences } from '../../exports/references.ts';
import { parseExportRequest, type RawParams } from '../../exports/request.ts';
import type { ZoneCatalog } from '../../exports/zones.ts';
import { ApiError, badParameter } from '../../errors.ts';
import { EXPORT_QUEUE, type ExportJob } from '../../jobs/queue.ts';
import type { AccessTokens } from '../../runs/access-token.ts';
import { isRunIdShape, newRunId, workflowId as makeWorkflowId } from '../../runs/ids.ts';
import { findRun, insertRun, isClosed, type Run } from '../../runs/runs.ts';
import type { UrlSigner } from '../../storage/signed-url.ts';
import { checkCompanyKey, requirePermission, type Authenticator, type Principal } from '../auth.ts';
import { pass } from '../envelope.ts';
import type pg from 'pg';

export interface ReportsDeps {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly auth: Authenticator;
  readonly zones: ZoneCatalog;
  readonly tokens: AccessTokens;
  readonly signer: UrlSigner;
  readonly publicUrl: string;
  readonly downloadUrlTtlSeconds: number;
}

const BASE = '/api/public/reports/report';

export function reportRoutes(app: FastifyInstance, deps: ReportsDeps): void {
  const create = (section: 'care' | 'marketing') => async (req: FastifyRequest<{ Params: { exportId: string } }>) => {
    const principal = await deps.auth.authenticate(req);
    requirePermission(principal, 'ANALYTICS_REPORTS_API');
    const raw = collectParams(req);
    checkCompanyKey(principal, raw['companyKey']?.[0], true);
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
    const request = parseExportRequest(def, raw, { resolveZone: (z) => deps.zones.resolve(z) });
    await checkReferences(deps.pool, principal.company, request);

    const run = await createRun(deps, principal, request);
    return pass({
      workflowId: run.workflowId,
      runId: run.runId,
      downloadUrl: '',
      statusUrl: runUrl(deps, run, 'status'),
    });
  };
  for (const prefix of [BASE, `${BASE}/report`]) {
    for (const method of ['GET', 'POST'] as const) {
      app.route({ method, url: `${prefix}/:exportId`, handler: create('care') });
      app.route({ method, url: `${prefix}/marketing/:exportId`, handler: create('marketing') });
    }
  }

  app.get<{ Params: RunParams }>(`${BASE}/:workflowId/:runId/status`, async (req) => {
    const run = await authorizedRun(deps, req);
    return pass({ jobInfo: jobInfo(deps, run), result: runResult(run) });
  });

  app.get<{ Params: RunParams }>(`${BASE}/:workflowId/:runId/download`, async (req, reply) => {
    const run = await authorizedRun(deps, req);
    if (run.state !== 'COMPLETED' || !run.fileKey) {
      const why = isClosed(run.state)
        ? `the run closed as ${run.state} and has no file; create the export again`
        : 'the run is not complete yet; poll statusUrl until result.detail is COMPLETED';
      throw new ApiError('RUN_NOT_COMPLETE', why);
    }
    const link = deps.signer.sign(run.fileKey, Date.now() + deps.downloadUrlTtlSeconds * 1000);
    return reply.header('Cache-Control', 'no-store').redirect(`${deps.publicUrl}${link}`, 307);
  });
}

type RunParams = { workflowId: string; runId: string };

/** Query string and body (form or JSON) as one map of value lists. */
function collectParams(req: FastifyRequest): RawParams {
  const out: RawParams = {};
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


async function createRun(deps: ReportsDeps, p: Principal, request: ReturnType<typeof parseExportRequest>): Promise<Run> {
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    const run = await insertRun(client, {
      companyId: p.company.id,
      userId: p.userId,
      runId: newRunId(),
      workflowId: makeWorkflowId(p.company.key, request),
      request,
    });
    // The job commits with the run row: never a run without a job, nor a job without its run.
    await deps.boss.send(EXPORT_QUEUE, { runPk: run.id } satisfies ExportJob, {
      db: { executeSql: (text: string, values?: unknown[]) => client.query(text, values) },
    });
    await client.query('COMMIT');
    return run;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/**
 * The run named by the path, for a caller authenticated by Basic auth and
 * identified either by companyKey or by the run's analyticsAccessToken.
 * Another company's run is indistinguishable from a missing one.
 */
async function authorizedRun(deps: ReportsDeps, req: FastifyRequest<{ Params: RunParams }>): Promise<Run> {
  const principal = await deps.auth.authenticate(req);
  requirePermission(principal, 'ANALYTICS_REPORTS_API');
  const q = req.query as Record<string, string | string[] | undefined>;
  const companyKey = typeof q['companyKey'] === 'string' ? q['companyKey'] : undefined;
  const token = typeof q['analyticsAccessToken'] === 'string' ? q['analyticsAccessToken'] : undefined;
  if (companyKey === undefined && token === undefined) {
    throw badParameter('give companyKey or the analyticsAccessToken from statusUrl');
  }
  checkCompanyKey(principal, companyKey, false);
  const { workflowId, runId } = req.params;
  const notFound = () =>
    new ApiError('RUN_NOT_FOUND', `no run ${runId} of workflow ${workflowId} in company ${principal.company.key}; use the statusUrl the create call returned`);
  // The run is looked up by this runId, so checking the token against it here is checking it against the run.
  const tokenCheck = token === undefined ? undefined : deps.tokens.check(token, runId);
  if (tokenCheck === 'malformed') {
    throw badParameter('analyticsAccessToken is malformed; use the statusUrl or downloadUrl exactly as the service returned it');
  }
  if (!isRunIdShape(runId) || !/^[0-9a-fA-F-]{36}$/.test(workflowId)) throw notFound();
  const run = await findRun(deps.pool, principal.company.id, workflowId, runId);
  if (!run) throw notFound();
  if (companyKey === undefined) {
    if (tokenCheck === 'wrong-run') throw notFound();
    if (tokenCheck === 'expired') {
      throw new ApiError('TOKEN_EXPIRED', 'analyticsAccessToken has expired; call the same URL with companyKey instead of the token');
    }
  }
  return run;
}

function runUrl(deps: ReportsDeps, run: Run, what: 'status' | 'download'): string {
  const token = deps.tokens.issue(run.runId);
  return `${deps.publicUrl}${BASE}/${run.workflowId}/${encodeURIComponent(run.runId)}/${what}?analyticsAccessToken=${encodeURIComponent(token)}`;
}

function jobInfo(deps: ReportsDeps, run: Run) {
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    downloadUrl: run.state === 'COMPLETED' ? runUrl(deps, run, 'download') : '',
    statusUrl: runUrl(deps, run, 'status'),
  };
}

function runResult(run: Run) {
  const closed = isClosed(run.state);
  return {
    runnerState: closed ? 'CLOSED' : 'RUNNING',
    reason: run.reason,
    detail: closed ? run.state : '',
    currentCount: run.currentCount,
    totalCount: run.totalCount,
    lastAcknowledgeTime: run.lastAckAt ? run.lastAckAt.getTime() : null,
  };
}
