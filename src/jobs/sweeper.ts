/**
 * Runs the runs' housekeeping (`runs/sweep.ts`) every minute on one worker,
 * as a pg-boss cron job, so several worker processes never sweep at once.
 */
import type { PgBoss } from 'pg-boss';
import { sweep, type SweepDeps } from '../runs/sweep.ts';
import { exportJobIsOpen, SWEEP_QUEUE } from './queue.ts';

export async function startSweeper(boss: PgBoss, deps: Omit<SweepDeps, 'jobIsOpen'>): Promise<void> {
  await boss.schedule(SWEEP_QUEUE, '* * * * *');
  await boss.work(SWEEP_QUEUE, { pollingIntervalSeconds: 10 }, async () => {
    await sweep({ ...deps, jobIsOpen: (id) => exportJobIsOpen(boss, id) });
  });
}
