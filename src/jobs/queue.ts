/**
 * The job queue (pg-boss on the service's database). API nodes enqueue;
 * worker processes consume. Heartbeats let pg-boss hand a dead worker's job
 * to another worker within seconds; LISTEN/NOTIFY wakes workers at once.
 */
import { PgBoss } from 'pg-boss';

export const EXPORT_QUEUE = 'export-run';

export interface ExportJob {
  /** export_runs.id */
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

export async function startQueue(url: string, opts: { supervise: boolean; log: (msg: string) => void }): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    schema: 'pgboss',
    application_name: 'care-reports-queue',
    max: 4,
    useListenNotify: true,
    supervise: opts.supervise,
    schedule: opts.supervise,
  });
  boss.on('error', (e: Error) => opts.log(`queue error: ${e.message}`));
  await boss.start();
  await boss.createQueue(EXPORT_QUEUE, EXPORT_QUEUE_OPTIONS);
  return boss;
}

export async function enqueueExport(boss: PgBoss, job: ExportJob): Promise<void> {
  await boss.send(EXPORT_QUEUE, job, { singletonKey: `run:${job.runPk}` });
}
