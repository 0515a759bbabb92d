/**
 * The users authentication reads, kept in memory while this process listens
 * for account changes: a trigger announces every change to users, their
 * permissions and companies on commit (`care_accounts_changed`), and the
 * cache is emptied when the announcement arrives, a few milliseconds later.
 * While the listening connection is down nothing is kept, so a change is never
 * missed; entries also expire after a few seconds as a last resort.
 */
import type pg from 'pg';
import { findUser, type User } from './accounts.ts';

const CHANNEL = 'care_accounts_changed';
const TTL_MS = 10_000;
const MAX_USERS = 10_000;
const RECONNECT_MS = 1_000;

export class UserCache {
  private readonly pool: pg.Pool;
  private readonly log: (msg: string, err?: unknown) => void;
  private readonly users = new Map<string, { user: User; expires: number }>();
  private listener: pg.PoolClient | undefined;
  /** Bumped on every announcement: a read that began before one is not kept. */
  private generation = 0;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(pool: pg.Pool, log: (msg: string, err?: unknown) => void = () => {}) {
    this.pool = pool;
    this.log = log;
  }

  /** Starts listening; until that succeeds (and whenever it fails) every lookup reads the database. */
  async start(): Promise<void> {
    this.stopped = false;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const c = client;
      c.on('notification', (n) => {
        if (n.channel === CHANNEL) this.forget();
      });
      c.on('error', (err) => this.lost(c, err));
      c.on('end', () => this.lost(c, undefined));
      await c.query(`LISTEN ${CHANNEL}`);
      if (this.stopped) {
        c.release();
        return;
      }
      // Whatever changed before LISTEN took effect is unknown: start empty.
      this.forget();
      this.listener = c;
    } catch (err) {
      client?.release(true);
      this.log('account change listener failed to start; users are read on every call until it does', err);
      this.scheduleRetry();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.listener;
    this.listener = undefined;
    this.forget();
    if (client) {
      await client.query(`UNLISTEN ${CHANNEL}`).catch(() => undefined);
      client.release();
    }
  }

  /** The user named `username` with its permissions and company, from memory when that is safe. */
  async find(username: string): Promise<User | undefined> {
    const hit = this.users.get(username);
    if (this.listener && hit && hit.expires > Date.now()) return hit.user;
    const generation = this.generation;
    const user = await findUser(this.pool, username);
    if (user && this.listener && generation === this.generation) {
      if (this.users.size >= MAX_USERS) this.users.clear();
      this.users.set(username, { user, expires: Date.now() + TTL_MS });
    }
    return user;
  }

  private forget(): void {
    this.generation++;
    this.users.clear();
  }

  private lost(client: pg.PoolClient, err: unknown): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    this.forget();
    client.release(err instanceof Error ? err : true);
    if (this.stopped) return;
    this.log('account change listener lost; users are read on every call until it is back', err);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.start(), RECONNECT_MS);
    this.retry.unref();
  }
}
