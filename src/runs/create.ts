/**
 * Creating an export run, for any caller (the HTTP API today; a schedule or
 * a console tomorrow): validate the request against the export's catalog
 * entry, refuse what is too big up front, then record the run and queue its
 * job in one transaction, with idempotency and the per-user rate limit.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Company } from '../accounts/accounts.ts';
import { inTransaction } from '../db/database.ts';
import { ApiError, badParameter } from '../errors.ts';
import { rowLimit } from '../exports/catalog/formats.ts';
import type { ExportDef } from '../exports/catalog/index.ts';
import { queryContext } from '../exports/context.ts';
import { buildExportQuery } from '../exports/query.ts';
import { checkReferences } from '../exports/references.ts';
import { plannedRows } from '../exports/writer.ts';
import type { ExportRequest } from '../exports/catalog/export-request.ts';
import { parseExportRequest, type RawParams } from '../exports/request.ts';
import type { ZoneCatalog } from '../exports/zones.ts';
import { enqueueRun } from './attempts.ts';
import { newRunId, workflowId as makeWorkflowId } from './ids.ts';
import { RUN_COLUMNS, type Queryable, type Run } from './run.ts';

export interface RunLimits {
  readonly createRatePerMinute: number;
  readonly maxRangeDays: number;
  readonly maxExportRows: number;
  /** Exports of one company running at once (the workers enforce it; status explains the wait). */
  readonly companyConcurrency: number;
}

export interface CreateDeps {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly zones: ZoneCatalog;
  readonly limits: RunLimits;
}

export interface CreateRunInput {
  /** Who asks: the run counts against this user's rate limit and belongs to the company. */
  readonly requester: { readonly userId: string; readonly company: Company };
  readonly def: ExportDef;
  /** The parameters as the caller gave them, each a list of strings. */
  readonly params: RawParams;
  /** A key seen in the last 24 hours returns its run instead of a new one. */
  readonly idempotencyKey?: string | undefined;
}

/** How long an Idempotency-Key returns its first answer. */
const IDEMPOTENCY_HOURS = 24;
const DAY_MS = 86_400_000;

/**
 * Creates the run (or returns the earlier one an Idempotency-Key or an
 * identical open request names). Throws an ApiError that says what to fix for
 * a request it refuses.
 */
export async function createRun(deps: CreateDeps, input: CreateRunInput): Promise<Run> {
  const { def, requester } = input;
  const request = parseExportRequest(def, input.params, { resolveZone: (z) => deps.zones.resolve(z) });
  const days = (request.endTime - request.startTime) / DAY_MS;
  if (days > deps.limits.maxRangeDays) {
    throw badParameter(
      `the range is ${days.toFixed(1)} days, more than the ${deps.limits.maxRangeDays} days one export may cover; split it into several exports`,
    );
  }
  await checkReferences(deps.pool, requester.company, def, request);
  await checkRowLimit(deps, requester.company.id, def, request);
  return recordRun(deps, requester, request, input.idempotencyKey);
}

/**
 * Refuses up front an export with more rows than the limit (MAX_EXPORT_ROWS,
 * or what one sheet holds for xlsx), rather than truncating it: the planner's
 * estimate settles small exports at once, an exact count the ones near the limit.
 */
async function checkRowLimit(deps: CreateDeps, companyId: string, def: ExportDef, request: ExportRequest): Promise<void> {
  const ctx = await queryContext(deps.pool, companyId, request);
  if (!ctx) return; // the smart view check has already answered
  const query = buildExportQuery(def, request, ctx, 'ISO_8601');
  const limit = rowLimit(request.reportFormat, deps.limits.maxExportRows);
  if ((await plannedRows(deps.pool, query)) * 4 < limit.rows) return;
  const n = await inTransaction(deps.pool, async (client) => {
    await client.query('SET TRANSACTION READ ONLY');
    await client.query(`SET LOCAL statement_timeout = '60s'`);
    return Number((await client.query<{ n: string }>(query.count)).rows[0]?.n ?? 0);
  });
  if (n > limit.rows) throw badParameter(`this export would have ${n} rows, ${limit.exceeded}`);
}

/**
 * Records the run and queues its job in one transaction, serialised per user
 * so that the rate limit and the idempotency checks see every earlier create:
 * an Idempotency-Key seen in the last 24 hours returns its run (or a 422 if
 * the request differs); an identical request whose run is still open returns
 * that run; otherwise the create counts against the per-minute limit.
 */
async function recordRun(deps: CreateDeps, requester: CreateRunInput['requester'], request: ExportRequest, idempotencyKey: string | undefined): Promise<Run> {
  const workflowId = makeWorkflowId(requester.company.key, request);
  const userId = requester.userId;
  return inTransaction(deps.pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('create-run:' || $1, 0))`, [userId]);
    if (idempotencyKey) {
      const earlier = await findByIdempotencyKey(client, userId, idempotencyKey);
      if (earlier && earlier.workflowId !== workflowId) {
        throw new ApiError(
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key '${idempotencyKey}' was used in the last ${IDEMPOTENCY_HOURS} hours for a different request; use a new key for a new request`,
        );
      }
      if (earlier) return earlier;
    }
    const open = await findOpenDuplicate(client, userId, workflowId);
    if (open) return open;
    const recent = await recentCreates(client, userId);
    if (recent.count >= deps.limits.createRatePerMinute) {
      const waitMs = (recent.oldest ? recent.oldest.getTime() + 60_000 : Date.now()) - Date.now();
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(
        'RATE_LIMITED',
        `at most ${deps.limits.createRatePerMinute} export runs may be created per minute per user; retry in ${seconds} s`,
        { 'Retry-After': String(seconds) },
      );
    }
    const run = await insertRun(client, { companyId: requester.company.id, userId, runId: newRunId(), workflowId, request, idempotencyKey });
    // The job commits with the run row: never a run without a job, nor a job without its run.
    return { ...run, jobId: await enqueueRun(client, deps.boss, run) };
  });
}

/**
 * Inserts a new QUEUED run with its place in the queue: a round, stored as
 * the job's priority (minus the round: the queue takes the highest priority
 * first, then the oldest). A company's run goes one round after the company's
 * last waiting run, and never before the earliest round still waiting, so the
 * queue serves companies round-robin (one run per company per round) and each
 * company's runs in the order they were created. (Ranking a run by how many
 * of its company's runs waited when it was created let a run created when
 * the backlog had shrunk pass older runs of the same company, which then
 * waited for as long as newer runs kept coming.)
 */
async function insertRun(
  db: Queryable,
  r: { companyId: string; userId: string; runId: string; workflowId: string; request: ExportRequest; idempotencyKey: string | undefined },
): Promise<Run> {
  const res = await db.query<Run>(
    `INSERT INTO export_runs (company_id, user_id, run_id, workflow_id, export_id, request, idempotency_key, created_lsn, queue_priority)
     VALUES ($1, $2, $3, $4, $5, $6, $7, pg_current_wal_insert_lsn(),
             -GREATEST(
               (SELECT coalesce(-max(queue_priority), 0) FROM export_runs WHERE state = 'QUEUED'),
               (SELECT coalesce(1 - min(queue_priority), 0) FROM export_runs w WHERE w.company_id = $1 AND w.state = 'QUEUED')
             )::int)
     RETURNING ${RUN_COLUMNS}`,
    [r.companyId, r.userId, r.runId, r.workflowId, r.request.exportId, JSON.stringify(r.request), r.idempotencyKey ?? null],
  );
  return res.rows[0]!;
}

/** The user's still-open run of the same workflow (the same company and canonical request). */
async function findOpenDuplicate(db: Queryable, userId: string, workflowId: string): Promise<Run | undefined> {
  const res = await db.query<Run>(
    `SELECT ${RUN_COLUMNS} FROM export_runs
      WHERE user_id = $1 AND workflow_id = $2 AND state IN ('QUEUED', 'RUNNING')
      ORDER BY created_at DESC LIMIT 1`,
    [userId, workflowId],
  );
  return res.rows[0];
}

/** The run the user created with this Idempotency-Key within the window; an older holder gives the key up. */
async function findByIdempotencyKey(db: Queryable, userId: string, key: string): Promise<Run | undefined> {
  await db.query(
    `UPDATE export_runs SET idempotency_key = NULL
      WHERE user_id = $1 AND idempotency_key = $2 AND created_at < now() - $3 * interval '1 hour'`,
    [userId, key, IDEMPOTENCY_HOURS],
  );
  const res = await db.query<Run>(`SELECT ${RUN_COLUMNS} FROM export_runs WHERE user_id = $1 AND idempotency_key = $2`, [userId, key]);
  return res.rows[0];
}

/** Runs the user created in the last minute, and when the oldest of them leaves that window. */
async function recentCreates(db: Queryable, userId: string): Promise<{ count: number; oldest: Date | null }> {
  const res = await db.query<{ count: number; oldest: Date | null }>(
    `SELECT count(*)::int AS count, min(created_at) AS oldest FROM export_runs
      WHERE user_id = $1 AND created_at > now() - interval '1 minute'`,
    [userId],
  );
  return res.rows[0]!;
}
