/**
 * Read replicas for exports (DATABASE_READ_URL): the heavy reads of an
 * export go to a streaming replica, while runs, the queue and ingest stay on
 * the primary. A run records the primary's WAL position when it is created;
 * a replica serves it only once it has replayed past that position, so an
 * export never misses rows ingested before its run. A replica that is down,
 * or too far behind for too long, is passed over and the primary serves the
 * export (the caller logs why).
 */
import type pg from 'pg';
import { createPool } from './database.ts';

export interface Replica {
  /** How the log names it: its host, port and database, never its password. */
  readonly name: string;
  readonly pool: pg.Pool;
}

export type ReplicaChoice = { readonly replica: Replica } | { readonly fallback: string };

export interface WaitOptions {
  /** How long to wait for a replica to replay past the position. */
  readonly maxWaitMs: number;
  readonly signal?: AbortSignal;
  /** Called once, when no replica has caught up at the first look (the caller tells the run's status). */
  readonly waiting?: () => Promise<void>;
  /** Between looks; 100 ms by default. */
  readonly everyMs?: number;
}

/** How long connecting to a replica, or asking it how far it has replayed, may take before it counts as down. */
const LOOK_TIMEOUT_MS = 5000;

export class ReadReplicas {
  readonly replicas: readonly Replica[];
  private next = 0;

  constructor(urls: readonly string[], poolSize: number) {
    // A replica that drops packets must not hold an export for the system's TCP timeout: connecting and each look are bounded.
    this.replicas = urls.map((url) => ({ name: nameOf(url), pool: createPool(url, poolSize, { connectTimeoutMs: LOOK_TIMEOUT_MS }) }));
  }

  /**
   * A replica that has replayed past `lsn` (taken in turn, so exports spread
   * over them), waiting for one up to `maxWaitMs`; otherwise why the primary
   * must serve.
   */
  async caughtUp(lsn: string, opts: WaitOptions): Promise<ReplicaChoice> {
    const deadline = Date.now() + opts.maxWaitMs;
    const start = this.next++ % this.replicas.length;
    const order = [...this.replicas.slice(start), ...this.replicas.slice(0, start)];
    let told = false;
    for (;;) {
      const behind: string[] = [];
      const down: string[] = [];
      for (const replica of order) {
        try {
          const r = await withinLookTimeout(
            replica.pool.query<{ ready: boolean; lag: string | null }>(
              `SELECT coalesce(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END >= $1::pg_lsn, false) AS ready,
                      pg_size_pretty(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())) AS lag`,
              [lsn],
            ),
          );
          if (r.rows[0]?.ready) return { replica };
          behind.push(`${replica.name} is ${r.rows[0]?.lag ?? 'an unknown amount'} of WAL behind`);
        } catch (e) {
          down.push(`${replica.name} is unreachable (${(e as Error).message})`);
        }
      }
      if (behind.length === 0) return { fallback: down.join('; ') };
      if (Date.now() >= deadline) return { fallback: `no replica replayed the run's data within ${Math.round(opts.maxWaitMs / 1000)} s: ${[...behind, ...down].join('; ')}` };
      if (!told) {
        told = true;
        await opts.waiting?.();
      }
      opts.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.pool.end()));
  }
}

/** `query`'s answer, or a rejection once the look has taken too long (the query itself is left to its connection). */
function withinLookTimeout<T>(query: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${LOOK_TIMEOUT_MS / 1000} s`)), LOOK_TIMEOUT_MS);
  });
  query.catch(() => undefined);
  return Promise.race([query, late]).finally(() => clearTimeout(timer));
}

function nameOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
}
