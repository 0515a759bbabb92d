/**
 * The worker side of the queue: takes export jobs and runs them. Retries are
 * pg-boss's (with backoff); a run whose last attempt fails, or that fails for
 * a reason retrying cannot fix, is closed as FAILED with a customer-safe
 * reason while the full error goes to the log. At most `companyConcurrency`
 * exports of one company run at once across every worker process.
 */
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { EXPORT_QUEUE, type ExportJob } from './queue.ts';
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

export async function startWorker(boss: PgBoss, deps: TaskDeps, opts: WorkerOptions): Promise<Worker> {
  const handler = async ([job]: JobWithMetadata<ExportJob>[]) => {
    if (!job) return;
    const runPk = job.data.runPk;
    try {
      await runExportTask(deps, runPk, job.signal);
    } catch (e) {
      const final = e instanceof PermanentRunError || (job.retryCount >= job.retryLimit && !job.signal.aborted);
      deps.log.error({ err: e, runPk, jobId: job.id, retryCount: job.retryCount, final }, 'export attempt failed');
      if (!final) throw e;
      await closeFailedRun(deps, runPk, e, `run ${runPk}, job ${job.id}`);
    }
  };
  await boss.work(
    EXPORT_QUEUE,
    {
      localConcurrency: opts.concurrency,
      groupConcurrency: opts.companyConcurrency,
      batchSize: 1,
      includeMetadata: true as const,
      pollingIntervalSeconds: 2,
    },
    handler,
  );
  return {
    async stop() {
      await boss.offWork(EXPORT_QUEUE, { wait: false });
    },
  };
}
