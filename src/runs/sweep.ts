/**
 * Housekeeping of runs, run every minute by one worker (`jobs/sweeper.ts`):
 * deletes the files of runs past their retention (their download then
 * answers 410), the records of runs past their history period, closes runs
 * whose queue job is gone for good (a worker died on the last attempt), and
 * discards the uploads of attempts that died (a killed worker) through the
 * records they left.
 */
import type pg from 'pg';
import type { Logger } from '../log.ts';
import type { ExportStore } from '../storage/index.ts';
import { closeRun } from './close.ts';

export interface SweepDeps {
  readonly pool: pg.Pool;
  readonly store: ExportStore;
  readonly log: Logger;
  readonly runHistoryDays: number;
  /** Whether the queue will still run this job; asked of the queue's own API. */
  readonly jobIsOpen: (jobId: string) => Promise<boolean>;
}

export interface SweepResult {
  filesExpired: number;
  runsDeleted: number;
  runsOrphaned: number;
  tempFilesRemoved: number;
  uploadsDiscarded: number;
}

/** Open runs checked against the queue per sweep, oldest first; the next sweep takes the rest. */
const ORPHAN_CHECKS_PER_SWEEP = 500;
const ORPHANED_REASON = 'the worker running this export stopped and the retries ran out; create the export again';

/** One pass; `now` is the clock the retention periods are measured against. */
export async function sweep(deps: SweepDeps, now: Date = new Date()): Promise<SweepResult> {
  const expired = await deps.pool.query<{ pk: string; file_key: string }>(
    `SELECT id::text AS pk, file_key FROM export_runs WHERE file_key IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT 1000`,
    [now],
  );
  for (const r of expired.rows) {
    await deps.store.remove(r.file_key);
    await deps.pool.query('UPDATE export_runs SET file_key = NULL WHERE id = $1 AND file_key = $2', [r.pk, r.file_key]);
  }
  const deleted = await deps.pool.query(
    `DELETE FROM export_runs
      WHERE state IN ('COMPLETED', 'FAILED', 'CANCELED') AND file_key IS NULL
        AND coalesce(expires_at, finished_at) < $2::timestamptz - $1 * interval '1 day'`,
    [deps.runHistoryDays, now],
  );
  const runsOrphaned = await closeOrphans(deps, now);
  const uploadsDiscarded = await discardDeadUploads(deps);
  // A backstop for what no record names (a record that failed to be written).
  const temp = await deps.store.removeStale(24 * 3600_000);
  const result = { filesExpired: expired.rowCount ?? 0, runsDeleted: deleted.rowCount ?? 0, runsOrphaned, tempFilesRemoved: temp, uploadsDiscarded };
  if (Object.values(result).some((n) => n > 0)) deps.log.info(result, 'sweep');
  return result;
}

/**
 * Uploads recorded by attempts that no longer hold their run (the worker was
 * killed, the run was cancelled, retried or deleted) are discarded through
 * the store and forgotten. A live attempt that lost its run fails on its own
 * when its upload vanishes.
 */
async function discardDeadUploads(deps: SweepDeps): Promise<number> {
  const dead = await deps.pool.query<{ pk: string; attempt: number; handle: string }>(
    `SELECT u.run_id::text AS pk, u.attempt, u.handle FROM export_uploads u LEFT JOIN export_runs r ON r.id = u.run_id
      WHERE r.id IS NULL OR r.attempt <> u.attempt OR r.state <> 'RUNNING'
      ORDER BY u.started_at LIMIT 1000`,
  );
  for (const u of dead.rows) {
    await deps.store.discard(u.handle);
    await deps.pool.query('DELETE FROM export_uploads WHERE run_id = $1 AND attempt = $2 AND handle = $3', [u.pk, u.attempt, u.handle]);
  }
  return dead.rowCount ?? 0;
}

/**
 * An open run whose job the queue has given up on (failed, cancelled) or
 * lost will never run: it closes as FAILED. The close is guarded by the job
 * id, so a run handed a new job meanwhile stays open.
 */
async function closeOrphans(deps: SweepDeps, now: Date): Promise<number> {
  // A run younger than a few seconds may still be committing its job.
  const open = await deps.pool.query<{ pk: string; job_id: string }>(
    `SELECT id::text AS pk, job_id::text FROM export_runs
      WHERE state IN ('QUEUED', 'RUNNING') AND job_id IS NOT NULL AND created_at < $2::timestamptz - interval '10 seconds'
      ORDER BY id LIMIT $1`,
    [ORPHAN_CHECKS_PER_SWEEP, now],
  );
  let closed = 0;
  for (const r of open.rows) {
    if (await deps.jobIsOpen(r.job_id)) continue;
    if (await closeRun(deps.pool, r.pk, { state: 'FAILED', reason: ORPHANED_REASON, jobId: r.job_id })) closed++;
  }
  return closed;
}
