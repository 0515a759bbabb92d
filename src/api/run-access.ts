/**
 * Finding the run a request names, for a caller authenticated by Basic auth
 * and identified either by companyKey or by the run's analyticsAccessToken.
 * Another company's run is indistinguishable from a missing one.
 */
import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import { ApiError, badParameter } from '../errors.ts';
import { single } from '../exports/request.ts';
import type { AccessTokens } from '../runs/access-token.ts';
import type { ClosedRuns } from '../runs/closed-runs.ts';
import { isRunIdShape } from '../runs/ids.ts';
import { findRunByPublicIds, type Run } from '../runs/run.ts';
import { checkCompanyKey, requirePermission, type Authenticator, type Principal } from './auth.ts';
import { collectParams } from './params.ts';

export type RunParams = { workflowId: string; runId: string };

export interface RunAccessDeps {
  readonly pool: pg.Pool;
  readonly auth: Authenticator;
  readonly tokens: AccessTokens;
  /** Closed runs read lately: their status and download links need no database read. */
  readonly closedRuns: ClosedRuns;
}

export async function authorizedRun(deps: RunAccessDeps, req: FastifyRequest<{ Params: RunParams }>): Promise<{ run: Run; principal: Principal }> {
  const principal = await deps.auth.authenticate(req);
  requirePermission(principal, 'ANALYTICS_REPORTS_API');
  const params = collectParams(req);
  const companyKey = single(params, 'companyKey');
  const token = single(params, 'analyticsAccessToken');
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
  let run = deps.closedRuns.get(principal.company.id, workflowId, runId);
  if (!run) {
    const generation = deps.closedRuns.generation;
    run = await findRunByPublicIds(deps.pool, principal.company.id, workflowId, runId);
    if (!run) throw notFound();
    deps.closedRuns.remember(run, generation);
  }
  if (companyKey === undefined) {
    if (tokenCheck === 'wrong-run') throw notFound();
    if (tokenCheck === 'expired') {
      throw new ApiError('TOKEN_EXPIRED', 'analyticsAccessToken has expired; call the same URL with companyKey instead of the token');
    }
  }
  return { run, principal };
}
