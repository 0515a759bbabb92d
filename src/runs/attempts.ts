/**
 * The worker's side of a run: take it for a new attempt (bumping `attempt`,
 * the fencing token), report progress under that attempt, or hand it back to
 * the queue. Every write names the attempt, so a worker that lost the run
 * (crashed, timed out, superseded, cancelled) can no longer change it.
 * Closing a run is `close.ts`.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { inTransaction } from '../db/database.ts';
import { enqueueExport } from '../jobs/queue.ts';
import { isClosed, RUN_COLUMNS, type Queryable, type Run, type RunState } from './run.ts';

/**
 * Takes the run for a new attempt, unless its company already has
 * `companyLimit` runs RUNNING ('busy': the run stays queued), or it is closed
 * (undefined). The check and the take are serialised per company, so no two
 * workers can both take the last slot.
 */
export async function claimRun(pool: pg.Pool, pk: string, worker: string, companyLimit: number): Promise<Run | 'busy' | undefined> {
  return inTransaction(pool, async (client) => {
    const cur = await client.query<{ company_id: string; state: RunState }>('SELECT company_id::text, state FROM export_runs WHERE id = $1 FOR UPDATE', [pk]);
    const row = cur.rows[0];
    if (!row || isClosed(row.state)) return undefined;
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('company-slots:' || $1, 0))`, [row.company_id]);
    const running = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM export_runs WHERE company_id = $1 AND state = 'RUNNING' AND id <> $2`,
      [row.company_id, pk],
    );
    if (running.rows[0]!.n >= companyLimit) return 'busy';
    const res = await client.query<Run>(
      `UPDATE export_runs
          SET state = 'RUNNING', attempt = attempt + 1, started_at = coalesce(started_at, now()),
              last_ack_at = now(), current_count = 0, worker = $2, reason = NULL
        WHERE id = $1
        RETURNING ${RUN_COLUMNS}`,
      [pk, worker],
    );
    return res.rows[0];
  });
}

/** Sets (or, with null, clears) what a running run's status says it waits for; false when this attempt no longer holds the run. */
export async function noteWaiting(db: Queryable, pk: string, attempt: number, reason: string | null): Promise<boolean> {
  const res = await db.query(`UPDATE export_runs SET reason = $3 WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'`, [pk, attempt, reason]);
  return res.rowCount === 1;
}

/** Heartbeat and progress; false when this attempt no longer holds the run. */
export async function reportProgress(
  db: Queryable,
  pk: string,
  attempt: number,
  p: { currentCount?: number; totalCount?: number },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE export_runs
        SET last_ack_at = now(),
            current_count = coalesce($3, current_count),
            total_count = coalesce($4, total_count)
      WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'`,
    [pk, attempt, p.currentCount ?? null, p.totalCount ?? null],
  );
  return res.rowCount === 1;
}

/**
 * Lets go of a run whose queue job was taken from this worker (pg-boss found
 * its claim gone): the run waits again, and the queue's retry of that same
 * job picks it up. False when this attempt no longer held it.
 */
export async function releaseRun(db: Queryable, pk: string, attempt: number): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `UPDATE export_runs SET state = 'QUEUED', worker = NULL, current_count = NULL, reason = NULL
      WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'
      RETURNING ${RUN_COLUMNS}`,
    [pk, attempt],
  );
  return res.rows[0];
}

/**
 * Puts the run back in the queue with a job of its own, in one transaction,
 * so the job that carried it ends without an error and costs the run no
 * retry. Either a worker stopping mid-export hands back its attempt, or a
 * job that could not start the run (its company at its limit, or the worker
 * stopping) passes it on: `jobId` names that job, and the run, queued or left
 * RUNNING by an attempt that died, moves on only while that job still
 * carries it. False when the run was closed or taken meanwhile.
 */
export async function requeueRun(
  pool: pg.Pool,
  boss: PgBoss,
  pk: string,
  by: { readonly attempt: number } | { readonly jobId: string },
  delaySeconds = 0,
): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const run =
      'attempt' in by
        ? await releaseRun(client, pk, by.attempt)
        : (
            await client.query<Run>(
              `UPDATE export_runs SET state = 'QUEUED', worker = NULL, current_count = NULL, reason = NULL
                WHERE id = $1 AND job_id = $2 AND state IN ('QUEUED', 'RUNNING')
                RETURNING ${RUN_COLUMNS}`,
              [pk, by.jobId],
            )
          ).rows[0];
    if (!run) return false;
    await enqueueRun(client, boss, run, delaySeconds);
    return true;
  });
}

/** Queues a job for the run in the caller's transaction and records it as the run's job. */
export async function enqueueRun(client: pg.ClientBase, boss: PgBoss, run: Run, delaySeconds = 0): Promise<string> {
  const jobId = await enqueueExport(boss, run, (text, values) => client.query(text, values), delaySeconds);
  await client.query('UPDATE export_runs SET job_id = $2 WHERE id = $1', [run.pk, jobId]);
  return jobId;
}

/** Records that this attempt started an upload into the store; `handle` is what the store needs to discard it. */
export async function recordUpload(db: Queryable, pk: string, attempt: number, handle: string): Promise<void> {
  await db.query(
    `INSERT INTO export_uploads (run_id, attempt, handle) VALUES ($1, $2, $3)
     ON CONFLICT (run_id, attempt) DO UPDATE SET handle = EXCLUDED.handle, started_at = now()`,
    [pk, attempt, handle],
  );
}

/** Forgets this attempt's upload once it was published or discarded. */
export async function forgetUpload(db: Queryable, pk: string, attempt: number): Promise<void> {
  await db.query('DELETE FROM export_uploads WHERE run_id = $1 AND attempt = $2', [pk, attempt]);
}
