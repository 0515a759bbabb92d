/**
 * The users authentication reads, kept in memory while the process hears
 * account changes: a trigger announces every change to users, their
 * permissions and companies on commit (`care_accounts_changed`), and the
 * cache is emptied when the announcement arrives, a few milliseconds later.
 * While the listening connection is down nothing is kept, so a change is never
 * missed; entries also expire after a few seconds as a last resort.
 */
import type pg from 'pg';
import type { Announcements } from '../db/announcements.ts';
import { findUser, type User } from './accounts.ts';

const CHANNEL = 'care_accounts_changed';
const TTL_MS = 10_000;
const MAX_USERS = 10_000;

export class UserCache {
  private readonly pool: pg.Pool;
  private readonly changes: Announcements;
  private readonly users = new Map<string, { user: User; expires: number }>();
  /** Bumped on every announcement: a read that began before one is not kept. */
  private generation = 0;

  constructor(pool: pg.Pool, changes: Announcements) {
    this.pool = pool;
    this.changes = changes;
    const forget = () => this.forget();
    changes.subscribe(CHANNEL, { heard: forget, forgetAll: forget });
  }

  /** The user named `username` with its permissions and company, from memory when that is safe. */
  async find(username: string): Promise<User | undefined> {
    const hit = this.users.get(username);
    if (this.changes.listening && hit && hit.expires > Date.now()) return hit.user;
    const generation = this.generation;
    const user = await findUser(this.pool, username);
    if (user && this.changes.listening && generation === this.generation) {
      if (this.users.size >= MAX_USERS) this.users.clear();
      this.users.set(username, { user, expires: Date.now() + TTL_MS });
    }
    return user;
  }

  private forget(): void {
    this.generation++;
    this.users.clear();
  }
}
