/**
 * Extensions for managing runs: cancel one (DELETE, or POST …/cancel for
 * clients that cannot send DELETE) and list a company's runs with filters
 * and cursor pagination.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { didYouMean } from '../../did-you-mean.ts';
import { ApiError, badParameter } from '../../errors.ts';
import { EXPORTS } from '../../exports/catalog/index.ts';
import { secondsProblem } from '../../../packages/client/src/epoch-ms.ts';
import { single } from '../../exports/request.ts';
import { cancelRun } from '../../runs/cancel.ts';
import { listRuns, RUN_STATES as STATES, type RunState } from '../../runs/run.ts';
import { checkCompanyKey, requirePermission } from '../auth.ts';
import { pass } from '../envelope.ts';
import { collectParams } from '../params.ts';
import { authorizedRun, type RunParams } from '../run-access.ts';
import { BASE, jobInfo, listedRun, runResult } from '../view.ts';
import type { ReportsDeps } from './reports.ts';

const MAX_LIMIT = 200;
/** Run ids are bigint: a cursor beyond this was not made here. */
const MAX_BIGINT = 9223372036854775807n;

export function runRoutes(app: FastifyInstance, deps: ReportsDeps): void {
  const cancel = async (req: FastifyRequest<{ Params: RunParams }>) => {
    const { run, principal } = await authorizedRun(deps, req);
    const canceled = await cancelRun(deps, run, principal.username);
    if (!canceled) throw new ApiError('RUN_CLOSED', `the run already closed as ${run.state}; there is nothing to cancel`);
    return pass({ jobInfo: jobInfo(deps, canceled), result: { ...runResult(canceled), queuePosition: null } });
  };
  app.delete<{ Params: RunParams }>(`${BASE}/:workflowId/:runId`, cancel);
  app.post<{ Params: RunParams }>(`${BASE}/:workflowId/:runId/cancel`, cancel);

  app.get('/api/public/reports/runs', async (req) => {
    const principal = await deps.auth.authenticate(req);
    requirePermission(principal, 'ANALYTICS_REPORTS_API');
    const params = collectParams(req);
    const one = (name: string): string | undefined => {
      const v = single(params, name);
      return v === '' ? undefined : v;
    };
    checkCompanyKey(principal, one('companyKey'), true);
    const known = ['companyKey', 'state', 'exportId', 'createdFrom', 'createdTo', 'limit', 'cursor'];
    const unknown = Object.keys(params).find((k) => !known.includes(k));
    if (unknown !== undefined) throw badParameter(`unknown parameter '${unknown}'${didYouMean(unknown, known)}; the run list takes ${known.join(', ')}`);

    const stateRaw = one('state');
    const states = stateRaw?.split(',').map((s) => s.trim().toUpperCase());
    const badState = states?.find((s) => !(STATES as readonly string[]).includes(s));
    if (badState !== undefined) throw badParameter(`state '${badState}' is not a run state; use one or more of ${STATES.join(', ')}`);
    const time = (name: string) => {
      const v = one(name);
      if (v === undefined) return undefined;
      if (!/^\d{1,15}$/.test(v)) throw badParameter(`${name} '${v}' is not epoch milliseconds`);
      const seconds = secondsProblem(name, Number(v));
      if (seconds) throw badParameter(seconds);
      return new Date(Number(v));
    };
    const limitRaw = one('limit') ?? '50';
    if (!/^\d{1,4}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > MAX_LIMIT) {
      throw badParameter(`limit '${limitRaw}' is not valid; give 1 to ${MAX_LIMIT}`);
    }
    const limit = Number(limitRaw);
    const cursor = one('cursor');
    let afterPk: string | undefined;
    if (cursor !== undefined) {
      const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
      if (!/^r\d{1,19}$/.test(decoded) || BigInt(decoded.slice(1)) > MAX_BIGINT) {
        throw badParameter('cursor is not valid; pass nextCursor from the previous page unchanged');
      }
      afterPk = decoded.slice(1);
    }
    const exportId = one('exportId');
    if (exportId !== undefined && !EXPORTS.some((e) => e.id === exportId)) {
      const ids = EXPORTS.map((e) => e.id);
      throw badParameter(`exportId '${exportId}' is not an export${didYouMean(exportId, ids)}; use one of ${ids.join(', ')}`);
    }
    const runs = await listRuns(deps.pool, {
      companyId: principal.company.id,
      states: states as RunState[] | undefined,
      exportId,
      createdFrom: time('createdFrom'),
      createdTo: time('createdTo'),
      afterPk,
      limit: limit + 1,
    });
    const page = runs.slice(0, limit);
    const last = page[page.length - 1];
    return pass({
      runs: page.map((r) => listedRun(deps, r)),
      nextCursor: runs.length > limit && last ? Buffer.from(`r${last.pk}`).toString('base64url') : null,
    });
  });
}
