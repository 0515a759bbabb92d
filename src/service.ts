/**
 * Wires the parts into a running service. `npm start` runs the API and a
 * worker in one process on the embedded database; `care-reports worker` and
 * `care-reports api` run one side each against a shared database.
 */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { PgBoss } from 'pg-boss';
import { buildServer } from './api/server.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { ReadReplicas } from './db/replicas.ts';
import { loadSecret } from './db/secrets.ts';
import { ZoneCatalog } from './exports/zones.ts';
import { startQueue } from './jobs/queue.ts';
import { startSweeper } from './jobs/sweeper.ts';
import { startWorker, type Worker } from './jobs/worker.ts';
import type { Logger } from './log.ts';
import { AccessTokens } from './runs/access-token.ts';
import { openExportStore } from './storage/index.ts';

export interface Service {
  /** Bound address of the API, when it runs. */
  readonly address: string | undefined;
  readonly app: FastifyInstance | undefined;
  readonly boss: PgBoss;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  readonly api: boolean;
  readonly worker: boolean;
  /** False: the API is built and ready but binds no port (driven in-process with `app.inject()`). */
  readonly listen?: boolean;
}

/** Connections the service's pool needs: the API's and the sweeper's, and one per slice of each export the worker runs at once. */
export function poolSizeFor(config: Config, opts: Pick<ServiceOptions, 'worker'>): number {
  return 10 + (opts.worker ? config.workerConcurrency * config.exportSlices : 0);
}

export async function startService(config: Config, db: Database, log: Logger, opts: ServiceOptions): Promise<Service> {
  // The API signs its links with the key every API node shares.
  const store = await openExportStore(config, { urlSecret: opts.api ? await loadSecret(db.pool, 'signed-url') : undefined });
  await store.init();
  const boss = await startQueue(db, { supervise: true, log: (m) => log.warn(m) });
  // Only a worker reads replicas: a connection per slice of each export it runs at once.
  const replicas = opts.worker && config.databaseReadUrls.length > 0 ? new ReadReplicas(config.databaseReadUrls, config.workerConcurrency * config.exportSlices + 1) : undefined;
  let worker: Worker | undefined;
  let app: FastifyInstance | undefined;
  let address: string | undefined;
  try {
    if (opts.worker) {
      const workerLog = log.child({ part: 'worker' });
      worker = await startWorker(
        boss,
        {
          pool: db.pool,
          store,
          log: workerLog,
          workerName: `${os.hostname()}:${process.pid}`,
          retentionDays: config.retentionDays,
          maxExportRows: config.maxExportRows,
          slices: { max: config.exportSlices, minRows: config.exportSliceMinRows },
          workMemMb: config.exportWorkMemMb,
          replicas: replicas && { pool: replicas, maxWaitMs: config.readReplicaWaitSeconds * 1000 },
        },
        { concurrency: config.workerConcurrency, companyConcurrency: config.companyConcurrency },
      );
      await startSweeper(boss, { pool: db.pool, store, log: workerLog, runHistoryDays: config.runHistoryDays });
    }
    if (opts.api) {
      const [tokenSecret, zones] = await Promise.all([loadSecret(db.pool, 'access-token'), ZoneCatalog.load(db.pool)]);
      app = buildServer({
        pool: db.pool,
        boss,
        store,
        zones,
        tokens: new AccessTokens(tokenSecret, config.accessTokenTtlSeconds),
        log: log.child({ part: 'api' }),
        publicUrl: config.publicUrl,
        downloadUrlTtlSeconds: config.downloadUrlTtlSeconds,
        limits: {
          createRatePerMinute: config.createRatePerMinute,
          maxRangeDays: config.maxRangeDays,
          maxExportRows: config.maxExportRows,
          companyConcurrency: config.companyConcurrency,
        },
        http: config.http,
        logins: config.logins,
        notReady: async () => {
          try {
            await db.pool.query('SELECT 1');
          } catch {
            return 'database unreachable';
          }
          return opts.worker && !worker ? 'worker not started' : null;
        },
      });
      if (opts.listen === false) await app.ready();
      else address = await app.listen({ port: config.port, host: config.host });
    }
  } catch (e) {
    await app?.close();
    await worker?.stop(0);
    await boss.stop({ graceful: false });
    await replicas?.close();
    throw e;
  }

  let stopping: Promise<void> | undefined;
  return {
    address,
    app,
    boss,
    stop() {
      stopping ??= (async () => {
        await app?.close();
        // Running exports get the grace period to finish; the rest are handed back to the queue before it stops.
        await worker?.stop(config.shutdownGraceSeconds * 1000);
        await boss.stop({ graceful: true, timeout: 5000 });
        await replicas?.close();
      })();
      return stopping;
    },
  };
}
