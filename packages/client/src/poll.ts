/**
 * When to ask for a run's status next. A run is asked about soon after it
 * was created, then less and less often. Once its progress has moved
 * between two of the worker's heartbeats, the rows still to come at the rate
 * between them say when it should end; each wait is then half the time left,
 * so the questions close in on the end instead of finding the run finished
 * up to a whole interval late; until then a long export is asked about every
 * 2 s at most. Past the expected end (the file being published) it is asked
 * about soon again, then less and less often.
 */

/** What the schedule reads of a status: the rows written and expected, and when the worker last reported them. */
export interface Progress {
  readonly currentCount: number | null;
  readonly totalCount: number | null;
  /** Epoch ms of the heartbeat that reported `currentCount` (the server's clock). */
  readonly lastAcknowledgeTime: number | null;
}

export interface PollScheduleOptions {
  /** The first wait, before any progress is known (ms). */
  readonly firstMs?: number;
  /** No wait is longer (ms). */
  readonly maxIntervalMs?: number;
  /** No wait is shorter (ms). */
  readonly minMs?: number;
  /** A clock of this machine that never steps back, in ms (tests pass their own). */
  readonly now?: () => number;
}

/** How much longer each wait is than the last, while the end cannot be foreseen. */
const GROWTH = 1.5;
/**
 * How much longer each wait is than the last past the expected end, while the
 * file is being published: slower, so that the run is found closed within
 * about a third of the time since its expected end rather than about a half
 * or more (the bench's 756 MB JSON export closes 0.5-1 s after its last row).
 */
const OVERDUE_GROWTH = 1.25;

/** One heartbeat: its rows, and its time on the server's clock. */
interface Beat {
  readonly rows: number;
  readonly at: number;
}

export class PollSchedule {
  private readonly maxMs: number;
  private readonly minMs: number;
  /** The clock the schedule reads, and `next` takes its `askedAt` on. */
  readonly now: () => number;
  /** The next wait while the end cannot be foreseen. */
  private backoff: number;
  /** The next wait once the expected end has passed. */
  private overdue: number;
  /** The first heartbeat with rows known and the latest one, of the attempt under way. */
  private first: Beat | undefined;
  private last: Beat | undefined;
  private total: number | null = null;
  /** When the last status was asked for (this machine's clock), and the heartbeat it showed. */
  private answered: { readonly askedAt: number; readonly beat: number | null } | undefined;
  /**
   * How far this machine's clock is ahead of the server's, at least: a
   * heartbeat that one status did not show but the next did was written
   * after the first was asked for. Reading heartbeats as that early foresees
   * the end early rather than late: a question too many rather than a run
   * found finished late.
   */
  private aheadAtLeast = -Infinity;

  constructor(opts: PollScheduleOptions = {}) {
    const ms = (v: number | undefined, otherwise: number) => (v !== undefined && Number.isFinite(v) && v > 0 ? v : otherwise);
    this.maxMs = ms(opts.maxIntervalMs, 2000);
    this.minMs = Math.min(ms(opts.minMs, 50), this.maxMs);
    this.backoff = Math.min(Math.max(ms(opts.firstMs, 200), this.minMs), this.maxMs);
    this.overdue = this.minMs;
    this.now = opts.now ?? (() => performance.timeOrigin + performance.now());
  }

  /**
   * How long to wait, in ms, after this status of a run still running, before
   * asking again; `askedAt` is when it was asked for, on the `now` clock (now, when absent).
   */
  next(status: Progress, askedAt = this.now()): number {
    const endsIn = this.observe(status, askedAt);
    if (endsIn === undefined) {
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * GROWTH, this.maxMs);
      return wait;
    }
    if (endsIn > 0) {
      this.overdue = this.minMs;
      return Math.round(Math.min(this.maxMs, Math.max(this.minMs, endsIn / 2)));
    }
    const wait = this.overdue;
    this.overdue = Math.min(this.overdue * OVERDUE_GROWTH, this.maxMs);
    return wait;
  }

  /** Records a status; the ms until the run's rows should all be written, once two heartbeats of this attempt show a rate. */
  private observe({ currentCount: rows, totalCount: total, lastAcknowledgeTime: at }: Progress, askedAt: number): number | undefined {
    const now = this.now();
    const before = this.answered;
    this.answered = { askedAt, beat: at };
    if (at !== null && before && before.beat !== at) this.aheadAtLeast = Math.max(this.aheadAtLeast, before.askedAt - at);
    // No rows known (a run back in the queue, or not yet counted): whatever comes next is read afresh.
    if (rows === null || total === null || at === null || total <= 0) {
      this.first = this.last = undefined;
      return undefined;
    }
    // Fewer rows than before, or another total: another attempt has started over.
    if (this.last && (rows < this.last.rows || total !== this.total)) this.first = this.last = undefined;
    this.total = total;
    if (!this.last || at > this.last.at) {
      this.last = { rows, at };
      // The rate counts from the last heartbeat before the rows began to move (not the count or a wait before it).
      if (!this.first || rows === this.first.rows) this.first = this.last;
    }
    const { first, last } = this;
    if (!first || last.rows <= first.rows || this.aheadAtLeast === -Infinity) return undefined;
    const rowsPerMs = (last.rows - first.rows) / (last.at - first.at);
    return last.at + this.aheadAtLeast + (total - last.rows) / rowsPerMs - now;
  }
}
