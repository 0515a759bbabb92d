/**
 * Export runs in the database: the one place their state lives, so any API
 * node answers for any run. A worker takes a run by bumping its `attempt`
 * (the fencing token); every later write names that attempt, so a worker that
 * lost the run (crashed, timed out, superseded) can no longer change it.
 */
import type pg from 'pg';
import { inTransaction } from '../db/database.ts';
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
  startedAt: Date | null;
  finishedAt: Date | null;
  expiresAt: Date | null;
  jobId: string | null;
  worker: string | null;
  queuePriority: number;
  idempotencyKey: string | null;
}

type Queryable = Pick<pg.Pool, 'query'>;

const COLUMNS = `id::text, company_id::text AS "companyId", user_id::text AS "userId", run_id AS "runId",
  workflow_id::text AS "workflowId", export_id AS "exportId", request, state, reason, attempt,
  current_count::float8 AS "currentCount", total_count::float8 AS "totalCount", last_ack_at AS "lastAckAt",
  file_key AS "fileKey", file_bytes::float8 AS "fileBytes", created_at AS "createdAt", started_at AS "startedAt",
  finished_at AS "finishedAt", expires_at AS "expiresAt", job_id::text AS "jobId", worker, queue_priority AS "queuePriority",
  idempotency_key AS "idempotencyKey"`;

export interface NewRun {
  companyId: string;
  userId: string;
  runId: string;
  workflowId: string;
  request: ExportRequest;
  idempotencyKey?: string | undefined;
}

/**
 * Records a new QUEUED run. Its queue priority is minus the number of the
 * company's runs already waiting, so the queue serves companies round-robin:
 * each company's next run outranks every company's run behind it.
 */
export async function insertRun(db: Queryable, r: NewRun): Promise<Run> {
  const res = await db.query<Run>(
    `INSERT INTO export_runs (company_id, user_id, run_id, workflow_id, export_id, request, idempotency_key, queue_priority)
     VALUES ($1, $2, $3, $4, $5, $6, $7,
             -(SELECT count(*) FROM export_runs w WHERE w.company_id = $1 AND w.state = 'QUEUED')::int)
     RETURNING ${COLUMNS}`,
    [r.companyId, r.userId, r.runId, r.workflowId, r.request.exportId, JSON.stringify(r.request), r.idempotencyKey ?? null],
  );
  return res.rows[0]!;
}

export async function setRunJob(db: Queryable, id: string, jobId: string): Promise<void> {
  await db.query('UPDATE export_runs SET job_id = $2 WHERE id = $1', [id, jobId]);
}

/** The user's still-open run of the same workflow (the same company and canonical request). */
export async function findOpenDuplicate(db: Queryable, userId: string, workflowId: string): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `SELECT ${COLUMNS} FROM export_runs
      WHERE user_id = $1 AND workflow_id = $2 AND state IN ('QUEUED', 'RUNNING')
      ORDER BY created_at DESC LIMIT 1`,
    [userId, workflowId],
  );
  return res.rows[0];
}

/** The run the user created with this Idempotency-Key within `hours`; an older holder gives the key up. */
export async function findByIdempotencyKey(db: Queryable, userId: string, key: string, hours: number): Promise<Run | undefined> {
  await db.query(
    `UPDATE export_runs SET idempotency_key = NULL
      WHERE user_id = $1 AND idempotency_key = $2 AND created_at < now() - $3 * interval '1 hour'`,
    [userId, key, hours],
  );
  const res = await db.query<Run>(`SELECT ${COLUMNS} FROM export_runs WHERE user_id = $1 AND idempotency_key = $2`, [userId, key]);
  return res.rows[0];
}

/** Runs the user created in the last minute, and when the oldest of them leaves that window. */
export async function recentCreates(db: Queryable, userId: string): Promise<{ count: number; oldest: Date | null }> {
  const res = await db.query<{ count: number; oldest: Date | null }>(
    `SELECT count(*)::int AS count, min(created_at) AS oldest FROM export_runs
      WHERE user_id = $1 AND created_at > now() - interval '1 minute'`,
    [userId],
  );
  return res.rows[0]!;
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
    [run.queuePriority, run.createdAt, run.id, run.companyId],
  );
  const r = res.rows[0]!;
  return { position: r.position, companyRunning: r.running };
}

export interface RunFilter {
  companyId: string;
  states?: readonly RunState[] | undefined;
  exportId?: string | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
  /** Continue after this run id (runs are listed newest first). */
  afterId?: string | undefined;
  limit: number;
}

/** The company's runs, newest first, one page. */
export async function listRuns(db: Queryable, f: RunFilter): Promise<Run[]> {
  const res = await db.query<Run>(
    `SELECT ${COLUMNS} FROM export_runs
      WHERE company_id = $1
        AND ($2::text[] IS NULL OR state = ANY($2))
        AND ($3::text IS NULL OR export_id = $3)
        AND ($4::timestamptz IS NULL OR created_at >= $4)
        AND ($5::timestamptz IS NULL OR created_at < $5)
        AND ($6::bigint IS NULL OR id < $6)
      ORDER BY export_runs.id DESC
      LIMIT $7`,
    [f.companyId, f.states ?? null, f.exportId ?? null, f.createdFrom ?? null, f.createdTo ?? null, f.afterId ?? null, f.limit],
  );
  return res.rows;
}

/** Closes an open run as CANCELED; undefined when it was already closed. The worker notices at its next heartbeat. */
export async function cancelRun(db: Queryable, id: string, reason: string): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `UPDATE export_runs SET state = 'CANCELED', reason = $2, finished_at = now()
      WHERE id = $1 AND state IN ('QUEUED', 'RUNNING') RETURNING ${COLUMNS}`,
    [id, reason],
  );
  return res.rows[0];
}

/** Hands a run back to the queue (a worker stopping mid-export); only the attempt holding it can. */
export async function requeueRun(db: Queryable, id: string, attempt: number): Promise<boolean> {
  const res = await db.query(
    `UPDATE export_runs SET state = 'QUEUED', worker = NULL, current_count = NULL
      WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'`,
    [id, attempt],
  );
  return res.rowCount === 1;
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

/**
 * Takes the run for a new attempt, unless its company already has
 * `companyLimit` runs RUNNING ('busy': the run stays queued), or it is closed
 * (undefined). The check and the take are serialised per company, so no two
 * workers can both take the last slot.
 */
export async function claimRun(pool: pg.Pool, id: string, worker: string, companyLimit: number): Promise<Run | 'busy' | undefined> {
  return inTransaction(pool, async (client) => {
    const cur = await client.query<{ company_id: string; state: RunState }>('SELECT company_id::text, state FROM export_runs WHERE id = $1 FOR UPDATE', [id]);
    const row = cur.rows[0];
    if (!row || isClosed(row.state)) return undefined;
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('company-slots:' || $1, 0))`, [row.company_id]);
    const running = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM export_runs WHERE company_id = $1 AND state = 'RUNNING' AND id <> $2`,
      [row.company_id, id],
    );
    if (running.rows[0]!.n >= companyLimit) return 'busy';
    const res = await client.query<Run>(
      `UPDATE export_runs
          SET state = 'RUNNING', attempt = attempt + 1, started_at = coalesce(started_at, now()),
              last_ack_at = now(), current_count = 0, worker = $2
        WHERE id = $1
        RETURNING ${COLUMNS}`,
      [id, worker],
    );
    return res.rows[0];
  });
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
  f: { fileKey: string; fileBytes: number; rows: number; retentionDays: number },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE export_runs
        SET state = 'COMPLETED', file_key = $3, file_bytes = $4, current_count = $5, total_count = $5,
            last_ack_at = now(), finished_at = now(), reason = NULL, expires_at = now() + $6 * interval '1 day'
      WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'`,
    [id, attempt, f.fileKey, f.fileBytes, f.rows, f.retentionDays],
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
