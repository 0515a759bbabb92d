/**
 * Housekeeping, every minute on one worker (a pg-boss cron job): deletes the
 * files of runs past their retention (their download then answers 410), the
 * records of runs past their history period, closes runs whose queue job is
 * gone for good (a worker died on the last attempt), and removes temporary
 * files a killed worker left behind.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../log.ts';
import type { FileStore } from '../storage/file-store.ts';
import { EXPORT_QUEUE, SWEEP_QUEUE } from './queue.ts';

export interface SweepDeps {
  readonly pool: pg.Pool;
  readonly store: FileStore;
  readonly log: Logger;
  readonly runHistoryDays: number;
}

export interface SweepResult {
  filesExpired: number;
  runsDeleted: number;
  runsOrphaned: number;
  tempFilesRemoved: number;
}

export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const expired = await deps.pool.query<{ id: string; file_key: string }>(
    `SELECT id::text, file_key FROM export_runs WHERE file_key IS NOT NULL AND expires_at <= now() ORDER BY expires_at LIMIT 1000`,
  );
  for (const r of expired.rows) {
    await deps.store.remove(r.file_key);
    await deps.pool.query('UPDATE export_runs SET file_key = NULL WHERE id = $1 AND file_key = $2', [r.id, r.file_key]);
  }
  const deleted = await deps.pool.query(
    `DELETE FROM export_runs
      WHERE state IN ('COMPLETED', 'FAILED', 'CANCELED') AND file_key IS NULL
        AND coalesce(expires_at, finished_at) < now() - $1 * interval '1 day'`,
    [deps.runHistoryDays],
  );
  // An open run whose job pg-boss has given up on (failed, cancelled) or lost: nobody will run it.
  const orphaned = await deps.pool.query(
    `UPDATE export_runs r
        SET state = 'FAILED', finished_at = now(),
            reason = 'the worker running this export stopped and the retries ran out; create the export again'
      WHERE r.state IN ('QUEUED', 'RUNNING') AND r.job_id IS NOT NULL AND r.created_at < now() - interval '10 seconds'
        AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = $1 AND j.id = r.job_id AND j.state IN ('created', 'retry', 'active'))`,
    [EXPORT_QUEUE],
  );
  const temp = await deps.store.removeStaleTemp(24 * 3600_000);
  const result = { filesExpired: expired.rowCount ?? 0, runsDeleted: deleted.rowCount ?? 0, runsOrphaned: orphaned.rowCount ?? 0, tempFilesRemoved: temp };
  if (Object.values(result).some((n) => n > 0)) deps.log.info(result, 'sweep');
  return result;
}

export async function startSweeper(boss: PgBoss, deps: SweepDeps): Promise<void> {
  await boss.schedule(SWEEP_QUEUE, '* * * * *');
  await boss.work(SWEEP_QUEUE, { pollingIntervalSeconds: 10 }, async () => {
    await sweep(deps);
  });
}
