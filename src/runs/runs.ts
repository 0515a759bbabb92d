/**
 * Export runs in the database: the one place their state lives, so any API
 * node answers for any run. A worker takes a run by bumping its `attempt`
 * (the fencing token); every later write names that attempt, so a worker that
 * lost the run (crashed, timed out, superseded) can no longer change it.
 */
import type pg from 'pg';
import type { ExportRequest } from '../exports/request.ts';

export type RunState = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED';

export interface Run {
  id: string;
  companyId: string;
  userId: string;
  runId: string;
  workflowId: string;
  exportId: string;
  request: ExportRequest;
  state: RunState;
  reason: string | null;
  attempt: number;
  currentCount: number | null;
  totalCount: number | null;
  lastAckAt: Date | null;
  fileKey: string | null;
  fileBytes: number | null;
  createdAt: Date;
  finishedAt: Date | null;
}

type Queryable = Pick<pg.Pool, 'query'>;

const COLUMNS = `id::text, company_id::text AS "companyId", user_id::text AS "userId", run_id AS "runId",
  workflow_id::text AS "workflowId", export_id AS "exportId", request, state, reason, attempt,
  current_count::float8 AS "currentCount", total_count::float8 AS "totalCount", last_ack_at AS "lastAckAt",
  file_key AS "fileKey", file_bytes::float8 AS "fileBytes", created_at AS "createdAt", finished_at AS "finishedAt"`;

export async function insertRun(
  db: Queryable,
  r: { companyId: string; userId: string; runId: string; workflowId: string; request: ExportRequest },
): Promise<Run> {
  const res = await db.query<Run>(
    `INSERT INTO export_runs (company_id, user_id, run_id, workflow_id, export_id, request)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [r.companyId, r.userId, r.runId, r.workflowId, r.request.exportId, JSON.stringify(r.request)],
  );
  return res.rows[0]!;
}

/** The run of `companyId` with these ids; another company's run is simply not found. */
export async function findRun(db: Queryable, companyId: string, workflowId: string, runId: string): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `SELECT ${COLUMNS} FROM export_runs WHERE company_id = $1 AND run_id = $2 AND workflow_id::text = $3`,
    [companyId, runId, workflowId.toLowerCase()],
  );
  return res.rows[0];
}

export async function getRun(db: Queryable, id: string): Promise<Run | undefined> {
  const res = await db.query<Run>(`SELECT ${COLUMNS} FROM export_runs WHERE id = $1`, [id]);
  return res.rows[0];
}

/** Takes the run for a new attempt; undefined when it is already closed. */
export async function claimRun(db: Queryable, id: string): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `UPDATE export_runs
        SET state = 'RUNNING', attempt = attempt + 1, started_at = coalesce(started_at, now()),
            last_ack_at = now(), current_count = 0
      WHERE id = $1 AND state IN ('QUEUED', 'RUNNING')
      RETURNING ${COLUMNS}`,
    [id],
  );
  return res.rows[0];
}

/** Heartbeat and progress; false when this attempt no longer holds the run. */
export async function reportProgress(
  db: Queryable,
  id: string,
  attempt: number,
  p: { currentCount?: number; totalCount?: number },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE export_runs
        SET last_ack_at = now(),
            current_count = coalesce($3, current_count),
            total_count = coalesce($4, total_count)
      WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'`,
    [id, attempt, p.currentCount ?? null, p.totalCount ?? null],
  );
  return res.rowCount === 1;
}

export async function completeRun(
  db: Queryable,
  id: string,
  attempt: number,
  f: { fileKey: string; fileBytes: number; rows: number },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE export_runs
        SET state = 'COMPLETED', file_key = $3, file_bytes = $4, current_count = $5, total_count = $5,
            last_ack_at = now(), finished_at = now(), reason = NULL
      WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'`,
    [id, attempt, f.fileKey, f.fileBytes, f.rows],
  );
  return res.rowCount === 1;
}

/** Closes the run as FAILED. With `attempt`, only if that attempt still holds it. */
export async function failRun(db: Queryable, id: string, reason: string, attempt?: number): Promise<boolean> {
  const res = await db.query(
    `UPDATE export_runs SET state = 'FAILED', reason = $2, finished_at = now()
      WHERE id = $1 AND state IN ('QUEUED', 'RUNNING') AND ($3::int IS NULL OR attempt = $3)`,
    [id, reason, attempt ?? null],
  );
  return res.rowCount === 1;
}

export function isClosed(state: RunState): boolean {
  return state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELED';
}
