/**
 * What the database announces on commit (LISTEN/NOTIFY), heard on one
 * connection of its own: by an API, for the caches that must forget what
 * changed (users and permissions, closed runs); by a worker, for the runs
 * that closed elsewhere. While the connection is down
 * (it is opened again every second) nothing may be kept: `listening` says so,
 * and every subscriber is told to forget when it is lost and again when it is
 * back, since what changed meanwhile is unknown.
 */
import type pg from 'pg';

const RECONNECT_MS = 1_000;

export interface Subscriber {
  /** A notification on this subscriber's channel, with its payload. */
  heard(payload: string): void;
  /** The connection was lost or has just been opened: anything kept may be stale. */
  forgetAll(): void;
}

export class Announcements {
  private readonly pool: pg.Pool;
  private readonly log: (msg: string, err?: unknown) => void;
  private readonly subscribers = new Map<string, Subscriber[]>();
  private listener: pg.PoolClient | undefined;
  /** Per connection, what takes this class's handlers off it. */
  private readonly detachers = new Map<pg.PoolClient, () => void>();
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(pool: pg.Pool, log: (msg: string, err?: unknown) => void = () => {}) {
    this.pool = pool;
    this.log = log;
  }

  /** True while notifications arrive: only then may a cache keep anything. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Subscribes to `channel` (a plain identifier); call before start(). */
  subscribe(channel: string, subscriber: Subscriber): void {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
    this.subscribers.set(channel, [...(this.subscribers.get(channel) ?? []), subscriber]);
  }

  /** Starts listening; until that succeeds (and whenever it fails) `listening` is false. */
  async start(): Promise<void> {
    this.stopped = false;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const c = client;
      const onError = (err: Error) => this.lost(c, err);
      const onEnd = () => this.lost(c, undefined);
      c.on('notification', this.onNotification);
      c.on('error', onError);
      c.on('end', onEnd);
      this.detachers.set(c, () => {
        c.off('notification', this.onNotification);
        c.off('error', onError);
        c.off('end', onEnd);
        this.detachers.delete(c);
      });
      await c.query([...this.subscribers.keys()].map((channel) => `LISTEN ${channel}`).join('; '));
      if (this.stopped) {
        // Stopped while starting: the connection still listens, so it is closed rather than pooled.
        this.detach(c);
        c.release(true);
        return;
      }
      // Whatever changed before LISTEN took effect is unknown: start empty.
      this.forgetAll();
      this.listener = c;
    } catch (err) {
      if (client) {
        this.detach(client);
        client.release(true);
      }
      if (this.stopped) return;
      this.log('could not listen for the database\'s announcements; trying again in a second', err);
      this.scheduleRetry();
    }
  }

  private readonly onNotification = (n: pg.Notification): void => {
    for (const s of this.subscribers.get(n.channel) ?? []) s.heard(n.payload ?? '');
  };

  /** Removes what this class attached to a connection, before it goes back to the pool. */
  private detach(client: pg.PoolClient): void {
    this.detachers.get(client)?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.listener;
    this.listener = undefined;
    this.forgetAll();
    if (client) {
      await client.query('UNLISTEN *').catch(() => undefined);
      this.detach(client);
      client.release();
    }
  }

  private forgetAll(): void {
    for (const list of this.subscribers.values()) for (const s of list) s.forgetAll();
  }

  private lost(client: pg.PoolClient, err: unknown): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    this.forgetAll();
    this.detach(client);
    client.release(err instanceof Error ? err : true);
    if (this.stopped) return;
    this.log('lost the database\'s announcements; listening again in a second', err);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.start(), RECONNECT_MS);
    this.retry.unref();
  }
}
