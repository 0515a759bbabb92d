/**
 * How a run looks on the wire: the `jobInfo` and `result` objects of the
 * status answer, the URLs handed out (each carrying an analyticsAccessToken),
 * and a run's entry in the runs list. One module, so every route answers
 * with the same shapes.
 */
import type { AccessTokens } from '../runs/access-token.ts';
import { isClosed, type Run } from '../runs/run.ts';

export const BASE = '/api/public/reports/report';

export interface ViewDeps {
  readonly tokens: AccessTokens;
  readonly publicUrl: string;
}

export function runUrl(deps: ViewDeps, run: Run, what: 'status' | 'download'): string {
  const token = deps.tokens.issue(run.runId);
  return `${deps.publicUrl}${BASE}/${run.workflowId}/${encodeURIComponent(run.runId)}/${what}?analyticsAccessToken=${encodeURIComponent(token)}`;
}

export function jobInfo(deps: ViewDeps, run: Run) {
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    downloadUrl: run.state === 'COMPLETED' ? runUrl(deps, run, 'download') : '',
    statusUrl: runUrl(deps, run, 'status'),
  };
}

export interface RunResult {
  runnerState: 'CLOSED' | 'RUNNING';
  reason: string | null;
  detail: string;
  currentCount: number | null;
  totalCount: number | null;
  lastAcknowledgeTime: number | null;
  /** Extensions: the completed file's size and SHA-256 (lowercase hex), null until then. */
  fileBytes: number | null;
  fileSha256: string | null;
}

export function runResult(run: Run): RunResult {
  const closed = isClosed(run.state);
  return {
    runnerState: closed ? 'CLOSED' : 'RUNNING',
    reason: run.reason,
    detail: closed ? run.state : '',
    currentCount: run.currentCount,
    totalCount: run.totalCount,
    lastAcknowledgeTime: run.lastAckAt ? run.lastAckAt.getTime() : null,
    fileBytes: run.state === 'COMPLETED' ? run.fileBytes : null,
    fileSha256: run.state === 'COMPLETED' ? run.fileSha256 : null,
  };
}

/** The answer of the create call. */
export function created(deps: ViewDeps, run: Run) {
  return { workflowId: run.workflowId, runId: run.runId, downloadUrl: '', statusUrl: runUrl(deps, run, 'status') };
}

/** A run's entry in the runs list. */
export function listedRun(deps: ViewDeps, r: Run) {
  return {
    ...jobInfo(deps, r),
    exportId: r.exportId,
    state: r.state,
    ...runResult(r),
    createdTime: r.createdAt.getTime(),
    finishedTime: r.finishedAt?.getTime() ?? null,
    fileExpiresTime: r.fileKey && r.expiresAt ? r.expiresAt.getTime() : null,
    request: {
      startTime: r.request.startTime,
      endTime: r.request.endTime,
      reportFormat: r.request.reportFormat,
      columns: r.request.columns,
    },
  };
}
