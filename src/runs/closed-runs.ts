/**
 * Closed runs as this process last read them. A closed run's state, counts
 * and file never change, and its status is what clients poll hardest (a
 * script loops on statusUrl, a dashboard refreshes a list of them), so an API
 * answers it without reading the database again. What may still happen to a
 * closed run (its file expiring, its record deleted after the history period)
 * is announced by a trigger on commit (`care_closed_run_changed`), and the run
 * is forgotten when the announcement arrives; while the listening connection
 * is down nothing is kept. Who may see a run is checked on every call before
 * this cache is asked, and its key holds the caller's company.
 */
import type { Announcements } from '../db/announcements.ts';
import { isClosed, type Run } from './run.ts';

const CHANNEL = 'care_closed_run_changed';
/** A last resort, as announcements are: a kept run is read again after this long. */
const TTL_MS = 10_000;
/** Beyond this many, the cache starts again empty (a burst of distinct runs must not grow it without bound). */
const MAX_RUNS = 10_000;

export class ClosedRuns {
  private readonly changes: Pick<Announcements, 'listening'>;
  private readonly now: () => number;
  private readonly runs = new Map<string, { run: Run; expires: number }>();
  /** Bumped on every announcement: a read that began before one is not kept. */
  private generationNow = 0;

  constructor(changes: Pick<Announcements, 'listening' | 'subscribe'>, now: () => number = Date.now) {
    this.changes = changes;
    this.now = now;
    changes.subscribe(CHANNEL, {
      heard: (pk) => this.forget(pk),
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
    const k = key(companyId, workflowId, runId);
    const hit = this.runs.get(k);
    if (!hit) return undefined;
    if (hit.expires > this.now()) return hit.run;
    this.runs.delete(k);
    return undefined;
  }

  /** Keeps `run`, read at `generation`, if it is closed and nothing was announced since; an open run is always read afresh. */
  remember(run: Run, generation: number): void {
    if (!isClosed(run.state) || !this.changes.listening || generation !== this.generationNow) return;
    if (this.runs.size >= MAX_RUNS) this.runs.clear();
    this.runs.set(key(run.companyId, run.workflowId, run.runId), { run, expires: this.now() + TTL_MS });
  }

  /** Forgets the run with this pk, or every run. */
  private forget(pk?: string): void {
    this.generationNow++;
    if (pk === undefined) return this.runs.clear();
    for (const [k, { run }] of this.runs) if (run.pk === pk) this.runs.delete(k);
  }
}

/** Workflow ids are UUIDs, compared as lower case; run ids are compared as given. */
function key(companyId: string, workflowId: string, runId: string): string {
  return `${companyId}\0${workflowId.toLowerCase()}\0${runId}`;
}
