/**
 * Failed logins, counted per username and per client address in
 * PostgreSQL, so that every API process refuses the same guesser. Each
 * subject counts its failures in a fixed window that starts with its first
 * failure; once it reaches its limit, every login of that user, or from that
 * address, is refused (429 with Retry-After) until the window ends — the
 * right password too, or the refusal would tell a guesser which guess was
 * right.
 *
 * A process keeps what it last read of each subject: a refusal until it
 * ends, that a subject is not throttled for a second. A login whose password
 * is remembered (already verified) is judged on that (`recent`), so that
 * polling does not read the database on every call, and a refusal counted by
 * another process reaches it within a second; a password to be checked is
 * judged on the database as it is (`now`).
 */
import type pg from 'pg';
import type { LoginLimits } from '../config.ts';
import { ApiError } from '../errors.ts';

type Queryable = Pick<pg.Pool, 'query'>;

/** Longer usernames are counted by their start (no stored username is that long). */
const MAX_SUBJECT_NAME = 200;
/** How long `recent` trusts that a subject is not throttled. */
const CLEAR_FOR_MS = 1000;
const MAX_KNOWN = 10_000;
const CLEANUP_EVERY_MS = 60_000;

interface Count {
  subject: string;
  failures: number;
  /** Seconds until the window ends. */
  retry: number;
}

export class LoginThrottle {
  private readonly db: Queryable;
  private readonly limits: LoginLimits;
  /** What this process last read of each subject: refused until (ms, 0: not refused), read at (ms). */
  private readonly known = new Map<string, { refusedUntil: number; readAt: number }>();
  private lastCleanup = 0;

  constructor(db: Queryable, limits: LoginLimits) {
    this.db = db;
    this.limits = limits;
  }

  /**
   * Refuses (429) a login of `username` from `address` while either is
   * throttled: judged on what this process read in the last second
   * (`recent`) or on the database as it is (`now`).
   */
  async refuseIfThrottled(username: string | undefined, address: string, freshness: 'recent' | 'now'): Promise<void> {
    const now = Date.now();
    const all = subjects(username, address);
    const unknown = all.filter((s) => {
      const k = this.known.get(s);
      return !k || (k.refusedUntil <= now && (freshness === 'now' || now - k.readAt > CLEAR_FOR_MS));
    });
    if (unknown.length > 0) {
      const r = await this.db.query<Count>(
        `SELECT subject, failures, ceil(extract(epoch FROM window_start + $2::int * interval '1 second' - now()))::int AS retry
           FROM login_failures
          WHERE subject = ANY($1::text[]) AND window_start > now() - $2::int * interval '1 second'`,
        [unknown, this.limits.windowSeconds],
      );
      this.learn(unknown, r.rows);
    }
    const until = Math.max(...all.map((s) => this.known.get(s)?.refusedUntil ?? 0));
    if (until > Date.now()) throw throttled(Math.ceil((until - Date.now()) / 1000));
  }

  /** Counts a failed login against the username (when there is one) and the address. */
  async failed(username: string | undefined, address: string): Promise<void> {
    const all = subjects(username, address);
    // Sorted, so that two processes counting the same pair lock its rows in the same order.
    const r = await this.db.query<Count>(
      `INSERT INTO login_failures AS f (subject, window_start, failures)
       SELECT s, now(), 1 FROM unnest($1::text[]) AS s
       ON CONFLICT (subject) DO UPDATE SET
         failures = CASE WHEN f.window_start > now() - $2::int * interval '1 second' THEN f.failures + 1 ELSE 1 END,
         window_start = CASE WHEN f.window_start > now() - $2::int * interval '1 second' THEN f.window_start ELSE now() END
       RETURNING subject, failures, ceil(extract(epoch FROM window_start + $2::int * interval '1 second' - now()))::int AS retry`,
      [[...all].sort(), this.limits.windowSeconds],
    );
    this.learn(all, r.rows);
    if (Date.now() - this.lastCleanup > CLEANUP_EVERY_MS) {
      this.lastCleanup = Date.now();
      // Windows that have ended mean nothing; whichever process notices first removes them.
      await this.db.query(`DELETE FROM login_failures WHERE window_start < now() - $1::int * interval '1 second'`, [this.limits.windowSeconds]);
    }
  }

  /** Records what was read of `read` subjects (those without a row in a window are not throttled). */
  private learn(read: readonly string[], rows: readonly Count[]): void {
    if (this.known.size + read.length > MAX_KNOWN) this.known.clear();
    const now = Date.now();
    for (const subject of read) {
      const row = rows.find((r) => r.subject === subject);
      const limit = subject.startsWith('user:') ? this.limits.failuresPerUser : this.limits.failuresPerAddress;
      const refused = row !== undefined && row.failures >= limit && row.retry > 0;
      this.known.set(subject, { refusedUntil: refused ? now + row.retry * 1000 : 0, readAt: now });
    }
  }
}

function subjects(username: string | undefined, address: string): string[] {
  // An IPv4 client of a dual-stack socket is the same client as over IPv4.
  const out = [`address:${address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '')}`];
  if (username !== undefined) out.push(`user:${username.slice(0, MAX_SUBJECT_NAME)}`);
  return out;
}

function throttled(retryAfterSeconds: number): ApiError {
  return new ApiError(
    'LOGIN_THROTTLED',
    `too many failed logins for this user or from this address; retry in ${retryAfterSeconds} s with the right password`,
    { 'Retry-After': String(retryAfterSeconds) },
  );
}
