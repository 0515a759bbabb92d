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
import { buildExportQuery } from '../../exports/query.ts';
import { queryContext } from '../../exports/context.ts';
import { inTransaction } from '../../db/database.ts';
import type { ExportDef } from '../../exports/catalog/index.ts';
import { enqueueExport } from '../../jobs/queue.ts';
import type { AccessTokens } from '../../runs/access-token.ts';
import { isRunIdShape, newRunId, workflowId as makeWorkflowId } from '../../runs/ids.ts';
import {
  findByIdempotencyKey, findOpenDuplicate, findRun, insertRun, isClosed, queuePosition, recentCreates, setRunJob, type Run,
} from '../../runs/runs.ts';
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
  readonly limits: RunLimits;
}

export interface RunLimits {
  readonly createRatePerMinute: number;
  readonly maxRangeDays: number;
  readonly maxExportRows: number;
  /** Exports of one company running at once (the workers enforce it; status explains the wait). */
  readonly companyConcurrency: number;
}

/** How long an Idempotency-Key returns its first answer. */
const IDEMPOTENCY_HOURS = 24;
const DAY_MS = 86_400_000;

export const BASE = '/api/public/reports/report';

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
    const idempotencyKey = idempotencyKeyOf(req);
    const days = (request.endTime - request.startTime) / DAY_MS;
    if (days > deps.limits.maxRangeDays) {
      throw badParameter(
        `the range is ${days.toFixed(1)} days, more than the ${deps.limits.maxRangeDays} days one export may cover; split it into several exports`,
      );
    }
    await checkReferences(deps.pool, principal.company, def, request);
    await checkRowLimit(deps, principal, def, request);

    const run = await createRun(deps, principal, request, idempotencyKey);
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
    const link = deps.signer.sign(run.fileKey, Date.now() + deps.downloadUrlTtlSeconds * 1000);
    return reply.header('Cache-Control', 'no-store').redirect(`${deps.publicUrl}${link}`, 307);
  });
}

export type RunParams = { workflowId: string; runId: string };

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

/**
 * Refuses up front an export with more rows than the limit, rather than
 * truncating it: the planner's estimate settles small exports at once, an
 * exact count the ones near the limit.
 */
async function checkRowLimit(deps: ReportsDeps, p: Principal, def: ExportDef, request: ReturnType<typeof parseExportRequest>): Promise<void> {
  const ctx = await queryContext(deps.pool, p.company.id, request);
  if (!ctx) return; // the smart view check has already answered
  const query = buildExportQuery(def, request, ctx, 'ISO_8601');
  const plan = await deps.pool.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`EXPLAIN (FORMAT JSON) ${query.rows}`);
  const estimate = plan.rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0;
  if (estimate * 4 < deps.limits.maxExportRows) return;
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(`SET LOCAL statement_timeout = '60s'`);
    const n = Number((await client.query<{ n: string }>(query.count)).rows[0]?.n ?? 0);
    await client.query('COMMIT');
    if (n > deps.limits.maxExportRows) {
      throw badParameter(
        `this export would have ${n} rows, more than the limit of ${deps.limits.maxExportRows} per export; ask for a shorter range or narrower filters`,
      );
    }
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/**
 * Records the run and queues its job in one transaction, serialised per user
 * so that the rate limit and the idempotency checks see every earlier create:
 * an Idempotency-Key seen in the last 24 hours returns its run (or a 422 if
 * the request differs); an identical request whose run is still open returns
 * that run; otherwise the create counts against the per-minute limit.
 */
async function createRun(deps: ReportsDeps, p: Principal, request: ReturnType<typeof parseExportRequest>, idempotencyKey: string | undefined): Promise<Run> {
  const workflowId = makeWorkflowId(p.company.key, request);
  return inTransaction(deps.pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('create-run:' || $1, 0))`, [p.userId]);
    if (idempotencyKey) {
      const earlier = await findByIdempotencyKey(client, p.userId, idempotencyKey, IDEMPOTENCY_HOURS);
      if (earlier && earlier.workflowId !== workflowId) {
        throw new ApiError(
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key '${idempotencyKey}' was used in the last ${IDEMPOTENCY_HOURS} hours for a different request; use a new key for a new request`,
        );
      }
      if (earlier) return earlier;
    }
    const open = await findOpenDuplicate(client, p.userId, workflowId);
    if (open) return open;
    const recent = await recentCreates(client, p.userId);
    if (recent.count >= deps.limits.createRatePerMinute) {
      const waitMs = (recent.oldest ? recent.oldest.getTime() + 60_000 : Date.now()) - Date.now();
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(
        'RATE_LIMITED',
        `at most ${deps.limits.createRatePerMinute} export runs may be created per minute per user; retry in ${seconds} s`,
        { 'Retry-After': String(seconds) },
      );
    }
    const run = await insertRun(client, { companyId: p.company.id, userId: p.userId, runId: newRunId(), workflowId, request, idempotencyKey });
    // The job commits with the run row: never a run without a job, nor a job without its run.
    const jobId = await enqueueExport(deps.boss, run, (text, values) => client.query(text, values));
    await setRunJob(client, run.id, jobId);
    return { ...run, jobId };
  });
}

/**
 * The run named by the path, for a caller authenticated by Basic auth and
 * identified either by companyKey or by the run's analyticsAccessToken.
 * Another company's run is indistinguishable from a missing one.
 */
export async function authorizedRun(deps: ReportsDeps, req: FastifyRequest<{ Params: RunParams }>): Promise<{ run: Run; principal: Principal }> {
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
  return { run, principal };
}

export function runUrl(deps: Pick<ReportsDeps, 'tokens' | 'publicUrl'>, run: Run, what: 'status' | 'download'): string {
  const token = deps.tokens.issue(run.runId);
  return `${deps.publicUrl}${BASE}/${run.workflowId}/${encodeURIComponent(run.runId)}/${what}?analyticsAccessToken=${encodeURIComponent(token)}`;
}

export function jobInfo(deps: Pick<ReportsDeps, 'tokens' | 'publicUrl'>, run: Run) {
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    downloadUrl: run.state === 'COMPLETED' ? runUrl(deps, run, 'download') : '',
    statusUrl: runUrl(deps, run, 'status'),
  };
}

export function runResult(run: Run) {
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
