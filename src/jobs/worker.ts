/**
 * The worker side of the queue: takes export jobs and runs them. Retries are
 * pg-boss's (with backoff); a run whose last attempt fails, or that fails for
 * a reason retrying cannot fix, is closed as FAILED with a customer-safe
 * reason while the full error goes to the log. At most `companyConcurrency`
 * exports of one company run at once across every worker process.
 *
 * Stopping is deterministic: the worker fetches no new job, lets each task in
 * flight finish within the grace period, then asks the rest to hand their
 * runs back to the queue and waits until every one of them has. Only then may
 * the caller stop the queue and close the pool.
 */
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { requeueRun } from '../runs/attempts.ts';
import { listenForClosedRuns } from '../runs/close.ts';
import { closeFailedRun, PermanentRunError, runExportTask, type TaskDeps } from './export-task.ts';
import { EXPORT_QUEUE, type ExportJob } from './queue.ts';

/**
 * A run that finds its company at its limit waits here for a run to close (any
 * close may free its company's slot: it tries again at each), up to this long;
 * then it goes back to the queue for BUSY_RETRY_SECONDS.
 */
const BUSY_WAIT_MS = 5_000;
const BUSY_RETRY_SECONDS = 2;

export interface Worker {
  /**
   * Takes no new runs; waits up to `graceMs` for the running ones to finish,
   * then has the rest hand their runs back, and resolves once no task is left.
   */
  stop(graceMs: number): Promise<void>;
}

export interface WorkerOptions {
  /** Exports this process runs at once. */
  readonly concurrency: number;
  readonly companyConcurrency: number;
}

export async function startWorker(boss: PgBoss, deps: Omit<TaskDeps, 'companyConcurrency' | 'boss'>, opts: WorkerOptions): Promise<Worker> {
  const taskDeps: TaskDeps = { ...deps, boss, companyConcurrency: opts.companyConcurrency };
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  /** Per run being exported here, what tells its task that the run closed elsewhere (a cancel). */
  const closedSignals = new Map<string, AbortController>();
  /** Tasks waiting for a company slot: each is woken by the next close, or when the worker stops. */
  const waitingForSlot = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of [...waitingForSlot]) wake();
  };
  stopping.signal.addEventListener('abort', wakeAll, { once: true });
  const nextClose = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        waitingForSlot.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waitingForSlot.add(wake);
    });
  const listener = await listenForClosedRuns(
    deps.pool,
    (runPk) => {
      closedSignals.get(runPk)?.abort();
      wakeAll();
    },
    (e) => deps.log.warn({ err: e }, 'lost the run-closed notifications; reconnecting (heartbeats still notice a cancel)'),
  );

  const execute = async (job: JobWithMetadata<ExportJob>): Promise<void> => {
    const runPk = job.data.runPk;
    if (stopping.signal.aborted) {
      // Fetched as the worker began to stop: the run waits for another worker, at no cost to its retries.
      await requeueRun(deps.pool, boss, runPk, { jobId: job.id });
      return;
    }
    const closed = new AbortController();
    closedSignals.set(runPk, closed);
    try {
      const signals = { job: job.signal, stop: stopping.signal, closed: closed.signal };
      let outcome = await runExportTask(taskDeps, runPk, signals);
      // Another worker took the company's last slot between the queue's check and ours. The run takes the first
      // slot that frees (a run closing wakes it), rather than going back behind the company's later runs.
      const waitUntil = Date.now() + BUSY_WAIT_MS;
      while (outcome === 'company-busy' && Date.now() < waitUntil && !stopping.signal.aborted && !job.signal.aborted) {
        await nextClose(waitUntil - Date.now());
        if (stopping.signal.aborted) break;
        outcome = await runExportTask(taskDeps, runPk, signals);
      }
      if (outcome === 'company-busy') await requeueRun(deps.pool, boss, runPk, { jobId: job.id }, BUSY_RETRY_SECONDS);
    } catch (e) {
      const final = e instanceof PermanentRunError || (job.retryCount >= job.retryLimit && !job.signal.aborted);
      deps.log.error({ err: e, runPk, jobId: job.id, retryCount: job.retryCount, final }, 'export attempt failed');
      if (!final) throw e;
      await closeFailedRun(deps.pool, runPk, e, `run ${runPk}, job ${job.id}`);
    } finally {
      if (closedSignals.get(runPk) === closed) closedSignals.delete(runPk);
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
    async ([job]: JobWithMetadata<ExportJob>[]) => {
      if (!job) return;
      const task = execute(job);
      const tracked = task.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(tracked);
      try {
        await task;
      } finally {
        inFlight.delete(tracked);
      }
    },
  );

  let stopped: Promise<void> | undefined;
  return {
    stop(graceMs: number) {
      stopped ??= (async () => {
        await boss.offWork(EXPORT_QUEUE, { wait: false });
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
        await Promise.race([Promise.all(inFlight), grace]);
        clearTimeout(timer);
        stopping.abort(new Error('worker stopping'));
        // Tasks started after the race began are in the set too; wait until it is empty.
        while (inFlight.size > 0) await Promise.all(inFlight);
        await listener.stop();
      })();
      return stopped;
    },
  };
}
