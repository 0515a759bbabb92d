/**
 * The one place a run closes. Completing, failing, cancelling and the
 * sweeper's clean-up all end a run here, in one transaction with the state
 * change, which also announces the end on the `export_run_closed` channel
 * (delivered on commit, never for a change that rolled back). Whatever must
 * happen exactly once when a run ends (an outbox row for webhooks, a
 * schedule's bookkeeping) joins this transaction.
 */
import type pg from 'pg';
import { Announcements } from '../db/announcements.ts';
import { inTransaction } from '../db/database.ts';
import { RUN_COLUMNS, type Run } from './run.ts';

/** PostgreSQL channel that carries the pk of every run as it closes. */
export const RUN_CLOSED_CHANNEL = 'export_run_closed';

export type RunEnd =
  | {
      readonly state: 'COMPLETED';
      /** Only this attempt may publish: a worker that lost the run changes nothing. */
      readonly attempt: number;
      readonly fileKey: string;
      readonly fileBytes: number;
      readonly fileSha256: string;
      readonly rows: number;
      readonly retentionDays: number;
    }
  | {
      readonly state: 'FAILED';
      /** Shown to the customer: what went wrong and what to do. */
      readonly reason: string;
      /** When given, only if this attempt still holds the run. */
      readonly attempt?: number | undefined;
      /** When given, only if the run still waits on this queue job (the sweeper's guard against a re-queued run). */
      readonly jobId?: string | undefined;
    }
  | { readonly state: 'CANCELED'; readonly reason: string };

/**
 * Closes an open run; returns it as closed, or undefined when it was already
 * closed or its guard (attempt, job) no longer holds.
 */
export async function closeRun(pool: pg.Pool, pk: string, end: RunEnd): Promise<Run | undefined> {
  return inTransaction(pool, async (client) => {
    const res =
      end.state === 'COMPLETED'
        ? await client.query<Run>(
            `UPDATE export_runs
                SET state = 'COMPLETED', file_key = $3, file_bytes = $4, file_sha256 = $7, current_count = $5, total_count = $5,
                    reason = NULL, last_ack_at = now(), finished_at = now(), expires_at = now() + $6 * interval '1 day'
              WHERE id = $1 AND attempt = $2 AND state = 'RUNNING'
              RETURNING ${RUN_COLUMNS}`,
            [pk, end.attempt, end.fileKey, end.fileBytes, end.rows, end.retentionDays, end.fileSha256],
          )
        : await client.query<Run>(
            `UPDATE export_runs SET state = $2, reason = $3, finished_at = now()
              WHERE id = $1 AND state IN ('QUEUED', 'RUNNING')
                AND ($4::int IS NULL OR attempt = $4) AND ($5::uuid IS NULL OR job_id = $5)
              RETURNING ${RUN_COLUMNS}`,
            [pk, end.state, end.reason, end.state === 'FAILED' ? (end.attempt ?? null) : null, end.state === 'FAILED' ? (end.jobId ?? null) : null],
          );
    const run = res.rows[0];
    if (run) await client.query('SELECT pg_notify($1, $2)', [RUN_CLOSED_CHANNEL, run.pk]);
    return run;
  });
}

/**
 * Calls `onClosed` with the pk of every run as it closes, on any process:
 * a worker stops an export whose run was cancelled at once, rather than at
 * its next heartbeat. Holds one connection of `pool`; a lost connection is
 * replaced after a second (meanwhile, heartbeats still notice), and each
 * loss is reported to `onError`.
 */
export async function listenForClosedRuns(pool: pg.Pool, onClosed: (runPk: string) => void, onError: (e: Error) => void): Promise<Pick<Announcements, 'stop'>> {
  const announcements = new Announcements(pool, (msg, err) => onError(err instanceof Error ? err : new Error(msg)));
  announcements.subscribe(RUN_CLOSED_CHANNEL, {
    heard: (pk) => {
      if (pk) onClosed(pk);
    },
    forgetAll: () => {},
  });
  await announcements.start();
  return announcements;
}
