/**
 * Closed runs as this process last read them. A closed run's state, counts
 * and file never change, and its status is what clients poll hardest (a
 * script loops on statusUrl, a dashboard refreshes a list of them), so an API
 * answers status, download and cancel calls for it without reading the
 * database again. What may still happen to a closed run (its file expiring,
 * its record deleted after the history period) is announced by a trigger on
 * commit (`care_closed_run_changed`, with the run's id; empty for all), and
 * the run is forgotten when the announcement arrives; while the listening
 * connection is down nothing is kept. Who may see a run is checked on every
 * call before this cache is asked, and its key holds the caller's company.
 */
import type { Announcements } from '../db/announcements.ts';
import { isClosed, type Run } from './run.ts';

const CHANNEL = 'care_closed_run_changed';
/** A last resort, as announcements are: a kept run is read again after this long. */
const TTL_MS = 10_000;
/** Beyond this many, the cache starts again empty (a burst of distinct runs must not grow it without bound). */
const MAX_RUNS = 10_000;
/** A run whose request is larger (long id lists) is not kept: 10,000 of them would hold too much memory. */
const MAX_REQUEST_CHARS = 4_096;

export class ClosedRuns {
  private readonly changes: Pick<Announcements, 'listening'>;
  private readonly now: () => number;
  /** In the order they were kept, so the oldest (the first to expire) come first. */
  private readonly runs = new Map<string, { run: Run; expires: number }>();
  private readonly keyOfPk = new Map<string, string>();
  /** Bumped on every announcement: a read that began before one is not kept. */
  private generationNow = 0;

  constructor(changes: Pick<Announcements, 'listening' | 'subscribe'>, now: () => number = Date.now) {
    this.changes = changes;
    this.now = now;
    changes.subscribe(CHANNEL, {
      heard: (pk) => this.forget(pk === '' ? undefined : pk),
      forgetAll: () => this.forget(),
    });
  }

  /** Taken before reading a run from the database, and given back to remember(). */
  get generation(): number {
    return this.generationNow;
  }

  /** The closed run of `companyId` with these public ids, if kept. */
  get(companyId: string, workflowId: string, runId: string): Run | undefined {
    if (!this.changes.listening) return undefined;
    const hit = this.runs.get(key(companyId, workflowId, runId));
    if (!hit) return undefined;
    if (hit.expires > this.now()) return hit.run;
    this.drop(hit.run.pk);
    return undefined;
  }

  /** Keeps `run`, read at `generation`, if it is closed and nothing was announced since; an open run is always read afresh. */
  remember(run: Run, generation: number): void {
    if (!isClosed(run.state) || !this.changes.listening || generation !== this.generationNow) return;
    if (JSON.stringify(run.request).length > MAX_REQUEST_CHARS) return;
    const now = this.now();
    // Expired runs leave from the front; runs nobody asks about again do not stay.
    for (const [, { run: oldest, expires }] of this.runs) {
      if (expires > now) break;
      this.drop(oldest.pk);
    }
    if (this.runs.size >= MAX_RUNS) this.forget();
    this.drop(run.pk);
    const k = key(run.companyId, run.workflowId, run.runId);
    this.runs.set(k, { run, expires: now + TTL_MS });
    this.keyOfPk.set(run.pk, k);
  }

  /** Forgets the run with this pk, or every run. */
  private forget(pk?: string): void {
    this.generationNow++;
    if (pk !== undefined) return this.drop(pk);
    this.runs.clear();
    this.keyOfPk.clear();
  }

  private drop(pk: string): void {
    const k = this.keyOfPk.get(pk);
    if (k === undefined) return;
    this.keyOfPk.delete(pk);
    this.runs.delete(k);
  }
}

/** Workflow ids are UUIDs, compared as lower case; run ids are compared as given. */
function key(companyId: string, workflowId: string, runId: string): string {
  return `${companyId}\0${workflowId.toLowerCase()}\0${runId}`;
}
