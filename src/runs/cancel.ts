/**
 * Cancelling a run at its owner's request: the run closes as CANCELED at
 * once; a queued job is dropped, and a running export stops at its next
 * heartbeat (its attempt no longer holds the run) and removes its partial
 * file.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { cancelExportJob } from '../jobs/queue.ts';
import { closeRun } from './close.ts';
import type { Run } from './run.ts';

/** The run as canceled, or undefined when it had already closed. */
export async function cancelRun(deps: { readonly pool: pg.Pool; readonly boss: PgBoss }, run: Run, by: string): Promise<Run | undefined> {
  const canceled = await closeRun(deps.pool, run.pk, { state: 'CANCELED', reason: `canceled by ${by}` });
  if (canceled?.jobId) await cancelExportJob(deps.boss, canceled.jobId);
  return canceled;
}
