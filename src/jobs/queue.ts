/**
 * The job queue (pg-boss on the service's database). API nodes enqueue;
 * worker processes consume. Heartbeats let pg-boss hand a dead worker's job
 * to another worker within seconds; LISTEN/NOTIFY wakes workers at once.
 * Each job belongs to its company's group, so a company never has more than
 * its share of exports running, and carries the run's fair-queue priority.
 */
import { PgBoss } from 'pg-boss';
import type { Database } from '../db/database.ts';
import type { Run } from '../runs/run.ts';

export const EXPORT_QUEUE = 'export-run';
export const SWEEP_QUEUE = 'sweep';

export interface ExportJob {
  /** The run's pk (export_runs.id). */
  runPk: string;
}

export const EXPORT_QUEUE_OPTIONS = {
  retryLimit: 3,
  retryDelay: 2,
  retryBackoff: true,
  retryDelayMax: 60,
  heartbeatSeconds: 10,
  expireInSeconds: 6 * 3600,
  notify: true,
} as const;

/**
 * Starts the queue on the service's database. When the service role is not
 * the owner, the owner first installs or upgrades the queue's tables and
 * grants the service role their use; the service's own instance then never
 * changes the schema.
 */
export async function startQueue(
  db: Pick<Database, 'url' | 'ownerUrl' | 'grantServiceRole'>,
  opts: { supervise: boolean; log: (msg: string) => void },
): Promise<PgBoss> {
  const separate = db.ownerUrl !== db.url;
  if (separate) {
    const installer = new PgBoss({ connectionString: db.ownerUrl, schema: 'pgboss', application_name: 'care-reports-migrate', max: 1, supervise: false, schedule: false });
    installer.on('error', (e: Error) => opts.log(`queue install error: ${e.message}`));
    try {
      await installer.start();
      await createQueues(installer);
    } finally {
      await installer.stop({ graceful: false });
    }
    await db.grantServiceRole();
  }
  const boss = new PgBoss({
    ...(separate ? { migrate: false, createSchema: false } : {}),
    connectionString: db.url,
    schema: 'pgboss',
    application_name: 'care-reports-queue',
    max: 4,
    useListenNotify: true,
    supervise: opts.supervise,
    // Jobs of a worker that stopped heartbeating are failed (and so retried) by the monitor pass:
    // every 5 s rather than the default minute.
    superviseIntervalSeconds: 5,
    monitorIntervalSeconds: 5,
    schedule: opts.supervise,
  });
  boss.on('error', (e: Error) => opts.log(`queue error: ${e.message}`));
  await boss.start();
  if (!separate) await createQueues(boss);
  return boss;
}

async function createQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(EXPORT_QUEUE, EXPORT_QUEUE_OPTIONS);
  await boss.createQueue(SWEEP_QUEUE, { retryLimit: 0, expireInSeconds: 600 });
}

type Sql = (text: string, values?: unknown[]) => Promise<unknown>;

/**
 * Queues the run's job through `executeSql` (the caller's transaction, so the
 * job commits with the run); returns the job id. A second job for the same run
 * is harmless: the run's attempt fencing lets only one of them work on it.
 */
export async function enqueueExport(boss: PgBoss, run: Run, executeSql: Sql, delaySeconds = 0): Promise<string> {
  const id = await boss.send(EXPORT_QUEUE, { runPk: run.pk } satisfies ExportJob, {
    ...(delaySeconds > 0 ? { startAfter: delaySeconds } : {}),
    group: { id: run.companyId },
    priority: run.queuePriority,
    db: { executeSql: executeSql as (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }> },
  });
  if (!id) throw new Error(`run ${run.pk} is already queued`);
  return id;
}

/** Drops a queued job (a running one is stopped by its run's fencing instead); a job already gone is fine. */
export async function cancelExportJob(boss: PgBoss, jobId: string): Promise<void> {
  await boss.cancel(EXPORT_QUEUE, jobId).catch(() => undefined);
}

/** Whether pg-boss will still run this job (waiting, retrying or active), rather than having finished or given up on it. */
export async function exportJobIsOpen(boss: PgBoss, jobId: string): Promise<boolean> {
  const [job] = await boss.findJobs(EXPORT_QUEUE, { id: jobId });
  return job !== undefined && (job.state === 'created' || job.state === 'retry' || job.state === 'active');
}
