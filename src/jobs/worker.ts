/**
 * The worker side of the queue: takes export jobs and runs them. Retries are
 * pg-boss's (with backoff); a run whose last attempt fails, or that fails for
 * a reason retrying cannot fix, is closed as FAILED with a customer-safe
 * reason while the full error goes to the log. At most `companyConcurrency`
 * exports of one company run at once across every worker process.
 */
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { getRun, setRunJob } from '../runs/runs.ts';
import { EXPORT_QUEUE, enqueueExport, type ExportJob } from './queue.ts';

const BUSY_RETRY_SECONDS = 2;
import { closeFailedRun, PermanentRunError, runExportTask, type TaskDeps } from './export-task.ts';

export interface Worker {
  /** Takes no new runs; the ones running finish or are handed back when the queue stops. */
  stop(): Promise<void>;
}

export interface WorkerOptions {
  /** Exports this process runs at once. */
  readonly concurrency: number;
  readonly companyConcurrency: number;
}

export async function startWorker(boss: PgBoss, deps: Omit<TaskDeps, 'companyConcurrency'>, opts: WorkerOptions): Promise<Worker> {
  const taskDeps: TaskDeps = { ...deps, companyConcurrency: opts.companyConcurrency };
  const handler = async ([job]: JobWithMetadata<ExportJob>[]) => {
    if (!job) return;
    const runPk = job.data.runPk;
    try {
      if ((await runExportTask(taskDeps, runPk, job.signal)) === 'company-busy') {
        // Another worker took the company's last slot between the queue's check and ours: wait in the queue again.
        const run = await getRun(deps.pool, runPk);
        if (run) await setRunJob(deps.pool, run.id, await enqueueExport(boss, run, (t, v) => deps.pool.query(t, v), BUSY_RETRY_SECONDS));
      }
    } catch (e) {
      const final = e instanceof PermanentRunError || (job.retryCount >= job.retryLimit && !job.signal.aborted);
      deps.log.error({ err: e, runPk, jobId: job.id, retryCount: job.retryCount, final }, 'export attempt failed');
      if (!final) throw e;
      await closeFailedRun(taskDeps, runPk, e, `run ${runPk}, job ${job.id}`);
    }
  };
  await boss.work(
    EXPORT_QUEUE,
    {
      localConcurrency: opts.concurrency,
      groupConcurrency: opts.companyConcurrency,
      batchSize: 1,
      includeMetadata: true as const,
      // NOTIFY wakes an idle worker at once, but not one that was busy when the job arrived, nor for a
      // retry of a dead worker's job: a one-second poll picks those up.
      pollingIntervalSeconds: 1,
      notifyPollingIntervalSeconds: 1,
    },
    handler,
  );
  return {
    async stop() {
      await boss.offWork(EXPORT_QUEUE, { wait: false });
    },
  };
}
