/**
 * Executes one export run: take the run (fencing), count, stream the file
 * into the store, publish it atomically, close the run. Progress and
 * the heartbeat go to the run row every second; a worker that finds it no
 * longer holds the run stops and publishes nothing. A worker that is
 * stopping hands the run back to the queue instead of finishing it.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../log.ts';
import { findCompanyById } from '../accounts/accounts.ts';
import { REPORT_FORMATS, rowLimit } from '../exports/catalog/formats.ts';
import { EXPORTS } from '../exports/catalog/index.ts';
import { queryContext } from '../exports/context.ts';
import { buildExportQuery } from '../exports/query.ts';
import { SheetFullError } from '../exports/sheet.ts';
import { ExportRead, type Connections, type SliceOptions } from '../exports/writer.ts';
import type { ReadReplicas } from '../db/replicas.ts';
import { StoreError, type ExportStore, type StoreUpload } from '../storage/index.ts';
import { claimRun, forgetUpload, noteWaiting, recordUpload, releaseRun, reportProgress, requeueRun } from '../runs/attempts.ts';
import type { Run } from '../runs/run.ts';
import { closeRun } from '../runs/close.ts';

export interface TaskDeps {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly store: ExportStore;
  readonly log: Logger;
  /** host:pid, recorded on the runs this process holds. */
  readonly workerName: string;
  readonly retentionDays: number;
  readonly maxExportRows: number;
  /** Exports of one company running at once, across all workers. */
  readonly companyConcurrency: number;
  readonly heartbeatMs?: number;
  /** When exports are copied in parallel slices; one COPY each when absent. */
  readonly slices?: SliceOptions;
  /** PostgreSQL's work_mem for the export's queries, in MB; the server's default when absent. */
  readonly workMemMb?: number;
  /** Where exports read, when not on the primary, and how long a run waits for one of them to catch up. */
  readonly replicas?: { readonly pool: ReadReplicas; readonly maxWaitMs: number } | undefined;
}

/** Why a task is asked to stop before its run is done. */
export interface TaskSignals {
  /** The queue took the job away (its claim is gone): let the run go; the queue retries the job. */
  readonly job: AbortSignal;
  /** This worker is stopping: hand the run back to the queue with a job of its own. */
  readonly stop: AbortSignal;
  /** The run was closed (cancelled) elsewhere: stop at once, as a heartbeat that finds it gone would. */
  readonly closed?: AbortSignal;
}

/** A failure that retrying cannot fix; its message is shown to the customer. */
export class PermanentRunError extends Error {
  override name = 'PermanentRunError';
}

export type TaskOutcome = 'completed' | 'closed-already' | 'lost' | 'company-busy' | 'handed-back';

export async function runExportTask(deps: TaskDeps, runPk: string, signals: TaskSignals): Promise<TaskOutcome> {
  const run = await claimRun(deps.pool, runPk, deps.workerName, deps.companyConcurrency);
  if (!run) return 'closed-already';
  if (run === 'busy') return 'company-busy';
  const log = deps.log.child({ runId: run.runId, runPk: run.pk, attempt: run.attempt });
  log.info({ exportId: run.exportId }, 'export started');
  const started = Date.now();

  const lost = new AbortController();
  const closedElsewhere = () => lost.abort(new Error('run closed'));
  signals.closed?.addEventListener('abort', closedElsewhere, { once: true });
  const abort = AbortSignal.any([signals.job, signals.stop, lost.signal]);
  let current = 0;
  const beat = async (extra: { totalCount?: number } = {}) => {
    const held = await reportProgress(deps.pool, run.pk, run.attempt, { currentCount: current, ...extra }).catch(() => true);
    if (!held) lost.abort(new Error('run taken over or closed'));
  };
  const timer = setInterval(() => void beat(), deps.heartbeatMs ?? 1000);

  let read: ExportRead | undefined;
  let upload: StoreUpload | undefined;
  let failed = true;
  try {
    const def = EXPORTS.find((e) => e.id === run.exportId);
    if (!def) throw new PermanentRunError(`the ${run.exportId} export is no longer offered by this service`);
    const company = await findCompanyById(deps.pool, run.companyId);
    if (!company) throw new PermanentRunError('the company of this run no longer exists');
    const ctx = await queryContext(deps.pool, run.companyId, run.request);
    if (!ctx) throw new PermanentRunError(`smart view ${run.request.smartViewId} no longer exists; run the export again without it or with another view`);
    const query = buildExportQuery(def, run.request, ctx, run.request.locale ?? company.timeFormat);

    read = await ExportRead.open(await exportSource(deps, run, log, abort), run.request.zone, { workMemMb: deps.workMemMb, slices: deps.slices });
    const key = `${run.companyId}/${run.pk}.${run.attempt}/${run.exportId}-${run.pk}.${REPORT_FORMATS[run.request.reportFormat].extension}`;
    // Recorded first: should this process die, the sweeper discards the upload.
    upload = await deps.store.begin(key, `${run.pk}-${run.attempt}`, (handle) => recordUpload(deps.pool, run.pk, run.attempt, handle));
    const total = await read.count(query, run.request.reportFormat);
    const limit = rowLimit(run.request.reportFormat, deps.maxExportRows);
    if (total > limit.rows) throw new PermanentRunError(`the export has ${total} rows, ${limit.exceeded}`);
    await beat({ totalCount: total });
    abort.throwIfAborted();
    const { rows, slices } = await read.write(query, upload, {
      format: run.request.reportFormat,
      onRows: (n) => (current = n),
      signal: abort,
    }).catch((e: unknown) => {
      // Rows that arrived after the count: a sheet cannot take them, and another attempt would meet them too.
      throw e instanceof SheetFullError ? new PermanentRunError(e.message) : e;
    });
    // The file is whole: a stopping worker publishes it rather than hand the run back; only losing the run stops it now.
    lost.signal.throwIfAborted();
    const file = await upload.publish();
    // Published: nothing is left to abort; a failure before this line discards the attempt's bytes.
    upload = undefined;
    await forgetUpload(deps.pool, run.pk, run.attempt);
    const closed = await closeRun(deps.pool, run.pk, {
      state: 'COMPLETED', attempt: run.attempt, fileKey: key, fileBytes: file.bytes, fileSha256: file.sha256, rows, retentionDays: deps.retentionDays,
    }).catch(async (e: unknown) => {
      // Published but not recorded: no row names the file any more, so it goes now or never.
      await deps.store.remove(key).catch(() => undefined);
      throw e;
    });
    if (!closed) {
      await deps.store.remove(key);
      log.warn('run was taken over before it could be published; file discarded');
      return 'lost';
    }
    log.info({ rows, slices, bytes: file.bytes, sha256: file.sha256, ms: Date.now() - started }, 'export completed');
    failed = false;
    return 'completed';
  } catch (e) {
    if (lost.signal.aborted) {
      log.warn('run was taken over or closed while exporting; stopped, partial output removed');
      return 'lost';
    }
    if (signals.stop.aborted) {
      const back = await requeueRun(deps.pool, deps.boss, run.pk, { attempt: run.attempt });
      log.warn(back ? 'worker stopping; run handed back to the queue' : 'worker stopping; the run had closed meanwhile');
      return back ? 'handed-back' : 'lost';
    }
    if (signals.job.aborted && (await releaseRun(deps.pool, run.pk, run.attempt))) {
      log.warn('the queue took the job back; run released for its retry');
    }
    throw e;
  } finally {
    clearInterval(timer);
    signals.closed?.removeEventListener('abort', closedElsewhere);
    // Connections whose export failed may be mid-COPY: they are destroyed and their queries ended in the server.
    await read?.release(failed);
    if (upload) {
      // Forgotten only once discarded; otherwise the sweeper finds the record and discards it.
      const aborted = await upload.abort().then(() => true, () => false);
      if (aborted) await forgetUpload(deps.pool, run.pk, run.attempt).catch(() => undefined);
    }
  }
}

/**
 * The database the export reads: a read replica that has replayed everything
 * committed before the run was created, or the primary when there is none,
 * when none catches up in time, or when none answers.
 */
async function exportSource(deps: TaskDeps, run: Run, log: Logger, signal: AbortSignal): Promise<Connections> {
  if (!deps.replicas || !run.createdLsn) return deps.pool;
  let waited = false;
  const choice = await deps.replicas.pool.caughtUp(run.createdLsn, {
    maxWaitMs: deps.replicas.maxWaitMs,
    signal,
    waiting: async () => {
      waited = true;
      await noteWaiting(deps.pool, run.pk, run.attempt, 'waiting for the read replica to replay the data ingested before this run');
    },
  });
  if (waited) await noteWaiting(deps.pool, run.pk, run.attempt, null);
  if ('replica' in choice) {
    log.debug({ replica: choice.replica.name }, 'export reads a replica');
    return choice.replica.pool;
  }
  log.warn({ why: choice.fallback }, 'no read replica can serve this export; it reads the primary');
  return deps.pool;
}

/** Closes a run that will not be retried, with a reason the customer can act on. */
export async function closeFailedRun(pool: pg.Pool, runPk: string, error: unknown, runRef: string): Promise<void> {
  await closeRun(pool, runPk, { state: 'FAILED', reason: customerReason(error, runRef) });
}

function customerReason(error: unknown, runRef: string): string {
  if (error instanceof PermanentRunError) return error.message;
  const code = (error as { code?: string } | null)?.code;
  if (error instanceof StoreError) return 'the export file could not be stored; try again later, and tell the operator if it keeps failing';
  if (code === 'ENOSPC') return 'the service ran out of disk space while writing the file; try again later';
  if (code === '57014') return 'the export took too long and was stopped; ask for a shorter time range';
  return `the export failed after several attempts (reference ${runRef}); try again, and tell the operator if it keeps failing`;
}
