/**
 * Export runs in the database: the one place their state lives, so any API
 * node answers for any run. This module holds the run's shape and the
 * queries that read runs; what changes a run lives beside it, one operation
 * per module (create, attempts, close, cancel, sweep).
 *
 * A run has two ids: `pk`, the table's bigint key that jobs, logs and the
 * database use, and the public `runId` (random, in URLs), always paired with
 * its `workflowId` (the request's name).
 */
import type pg from 'pg';
import type { ExportRequest } from '../exports/catalog/export-request.ts';

export type RunState = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED';
export const RUN_STATES: readonly RunState[] = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'];

export interface Run {
  /** export_runs.id: the internal key (jobs, logs). */
  pk: string;
  companyId: string;
  userId: string;
  /** The public run id of the API. */
  runId: string;
  workflowId: string;
  exportId: string;
  request: ExportRequest;
  state: RunState;
  reason: string | null;
  /** Fencing token: bumped each time a worker takes the run. */
  attempt: number;
  currentCount: number | null;
  totalCount: number | null;
  lastAckAt: Date | null;
  fileKey: string | null;
  fileBytes: number | null;
  /** SHA-256 of the file, lowercase hex. */
  fileSha256: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  expiresAt: Date | null;
  jobId: string | null;
  worker: string | null;
  queuePriority: number;
  idempotencyKey: string | null;
  /** The primary's WAL position when the run was created (what a read replica must have replayed). */
  createdLsn: string | null;
}

/** A pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export const RUN_COLUMNS = `id::text AS pk, company_id::text AS "companyId", user_id::text AS "userId", run_id AS "runId",
  workflow_id::text AS "workflowId", export_id AS "exportId", request, state, reason, attempt,
  current_count::float8 AS "currentCount", total_count::float8 AS "totalCount", last_ack_at AS "lastAckAt",
  file_key AS "fileKey", file_bytes::float8 AS "fileBytes", file_sha256 AS "fileSha256", created_at AS "createdAt", started_at AS "startedAt",
  finished_at AS "finishedAt", expires_at AS "expiresAt", job_id::text AS "jobId", worker, queue_priority AS "queuePriority",
  idempotency_key AS "idempotencyKey", created_lsn::text AS "createdLsn"`;

export function isClosed(state: RunState): boolean {
  return state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELED';
}

/** The run of `companyId` with these public ids; another company's run is simply not found. */
export async function findRunByPublicIds(db: Queryable, companyId: string, workflowId: string, runId: string): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `SELECT ${RUN_COLUMNS} FROM export_runs WHERE company_id = $1 AND run_id = $2 AND workflow_id::text = $3`,
    [companyId, runId, workflowId.toLowerCase()],
  );
  return res.rows[0];
}

/**
 * Where a waiting run stands: 1 for the next run a worker will take, and so
 * on, and how many runs of its company are running (a company at its limit
 * waits for one of them whatever its place). Null unless the run is waiting.
 */
export async function queuePosition(db: Queryable, run: Run): Promise<{ position: number; companyRunning: number } | null> {
  if (run.state !== 'QUEUED') return null;
  const res = await db.query<{ position: number; running: number }>(
    `SELECT (SELECT count(*)::int + 1 FROM export_runs
              WHERE state = 'QUEUED' AND (queue_priority > $1 OR (queue_priority = $1 AND (created_at, id) < ($2, $3)))) AS position,
            (SELECT count(*)::int FROM export_runs WHERE company_id = $4 AND state = 'RUNNING') AS running`,
    [run.queuePriority, run.createdAt, run.pk, run.companyId],
  );
  const r = res.rows[0]!;
  return { position: r.position, companyRunning: r.running };
}

/** Bounds of secondsToCompletion: ask again soon, but not in a tight loop, and not after a long silence. */
const MIN_WAIT_S = 1;
const MAX_WAIT_S = 60;
/** While a run waits in the queue, or counts its rows, there is no rate to project. */
const QUEUED_WAIT_S = 5;
const STARTING_WAIT_S = 2;

/**
 * How many seconds until a run that is not complete is worth asking about
 * again (a download's Retry-After): its rate of rows so far projected over the
 * rows left, within 1 to 60 s; a small constant while it waits or starts.
 */
export function secondsToCompletion(run: Run, now = Date.now()): number {
  if (run.state === 'QUEUED') return QUEUED_WAIT_S;
  const done = run.currentCount ?? 0;
  const total = run.totalCount;
  if (!run.startedAt || total === null || done <= 0) return STARTING_WAIT_S;
  const msPerRow = Math.max(0, now - run.startedAt.getTime()) / done;
  const seconds = Math.ceil((msPerRow * Math.max(0, total - done)) / 1000);
  return Math.min(MAX_WAIT_S, Math.max(MIN_WAIT_S, seconds));
}

export interface RunFilter {
  companyId: string;
  states?: readonly RunState[] | undefined;
  exportId?: string | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
  /** Continue after this run's pk (runs are listed newest first). */
  afterPk?: string | undefined;
  limit: number;
}

/** The company's runs, newest first, one page. */
export async function listRuns(db: Queryable, f: RunFilter): Promise<Run[]> {
  const res = await db.query<Run>(
    `SELECT ${RUN_COLUMNS} FROM export_runs
      WHERE company_id = $1
        AND ($2::text[] IS NULL OR state = ANY($2))
        AND ($3::text IS NULL OR export_id = $3)
        AND ($4::timestamptz IS NULL OR created_at >= $4)
        AND ($5::timestamptz IS NULL OR created_at < $5)
        AND ($6::bigint IS NULL OR id < $6)
      ORDER BY export_runs.id DESC
      LIMIT $7`,
    [f.companyId, f.states ?? null, f.exportId ?? null, f.createdFrom ?? null, f.createdTo ?? null, f.afterPk ?? null, f.limit],
  );
  return res.rows;
}
