/**
 * Opens the service's one database: the external server named by
 * DATABASE_URL, or else the embedded server under DATA_DIR. Migrations are
 * applied as the owner role (DATABASE_OWNER_URL, or the embedded server's
 * owner) before the handle is returned; the handle's pool connects as the
 * service role, which may change rows but not the schema.
 */
import pg from 'pg';
import type { Config } from '../config.ts';
import { UserError } from '../errors.ts';
import { runningEmbedded, startEmbedded, type EmbeddedServer } from './embedded.ts';
import { migrate } from './migrate.ts';
import { grantServiceRole, roleOf } from './roles.ts';

/** The schemas the service role works in: its own and the job queue's. */
export const SERVICE_SCHEMAS = ['public', 'pgboss'] as const;

export interface Database {
  readonly pool: pg.Pool;
  /** As the service role. */
  readonly url: string;
  /** As the owner role (the same as `url` when one role does both). */
  readonly ownerUrl: string;
  /** Grants the service role what it needs on everything that exists now (after the queue installs its tables). */
  grantServiceRole(): Promise<void>;
  /** Present when this process started the embedded server. */
  readonly embedded: EmbeddedServer | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * Without DATABASE_URL: start the embedded server unless a live process of
   * this service already runs it (then join it); false: only join.
   */
  startEmbedded: boolean;
  poolSize?: number;
  log: (msg: string) => void;
}

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'databaseOwnerUrl' | 'dataDir' | 'embeddedPgPort'>,
  opts: OpenOptions,
): Promise<Database> {
  let embedded: EmbeddedServer | undefined;
  let urls = config.databaseUrl ? { url: config.databaseUrl, ownerUrl: config.databaseOwnerUrl ?? config.databaseUrl } : undefined;
  if (!urls) {
    // Another live process owns the server under this DATA_DIR: join it, never stop it.
    urls = await runningEmbedded(config.dataDir);
    if (!urls && opts.startEmbedded) {
      embedded = await startEmbedded(config.dataDir, config.embeddedPgPort, opts.log);
      urls = embedded;
    }
    if (!urls) {
      throw new UserError(`no DATABASE_URL, and no service runs the embedded server under ${config.dataDir}: start the service (npm start) first, or set DATABASE_URL`);
    }
  }
  const { url, ownerUrl } = urls;
  const grant = async () => {
    if (ownerUrl === url) return;
    const owner = new pg.Client({ connectionString: ownerUrl, application_name: 'care-reports-migrate' });
    await owner.connect();
    try {
      const present = await owner.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [SERVICE_SCHEMAS]);
      await grantServiceRole(owner, roleOf(url), present.rows.map((r) => r.nspname));
    } finally {
      await owner.end();
    }
  };
  const pool = createPool(url, opts.poolSize ?? 10);
  try {
    const ownerPool = createPool(ownerUrl, 1);
    try {
      await migrate(ownerPool);
    } catch (e) {
      if ((e as { code?: string }).code === '42501') {
        // The role may use rows but not change the schema: the service role given where the owner's is needed.
        const role = decodeURIComponent(new URL(ownerUrl).username);
        throw new UserError(
          `the role ${role} may not change the database schema (${(e as Error).message}): set DATABASE_OWNER_URL to the owner role's URL, or DATABASE_URL to a role that owns the database`,
          'BAD_INPUT',
          { cause: e },
        );
      }
      throw unreachable(e, ownerUrl, config.databaseUrl ? 'DATABASE_OWNER_URL or DATABASE_URL' : 'the embedded server');
    } finally {
      await ownerPool.end();
    }
    await grant();
  } catch (e) {
    await pool.end();
    await embedded?.stop();
    throw e;
  }
  return {
    pool,
    url,
    ownerUrl,
    grantServiceRole: grant,
    embedded,
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}

/**
 * Runs `fn` in a transaction on a pooled connection: committed when it
 * returns (rolled back anyway with `dryRun`, to see what it would do), rolled
 * back when it throws.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: { dryRun?: boolean } = {}): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query(opts.dryRun ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export function createPool(url: string, max = 10, opts: { connectTimeoutMs?: number } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'care-reports', ...(opts.connectTimeoutMs ? { connectionTimeoutMillis: opts.connectTimeoutMs } : {}) });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

/** Errors of the socket to the server: it is down, restarting, or not where the URL says. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/** SQLSTATEs of a server that is shutting down, starting up or out of connections. */
const SERVER_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300']);
/** What pg says, without a code, when a connection cannot be made or is cut. */
const LOST_CONNECTION = /^(timeout exceeded when trying to connect|Connection terminated)/;

/**
 * A database that cannot be reached at start is the operator's to fix: one
 * line naming it, not a stack trace. Any other error is returned as it is.
 */
function unreachable(e: unknown, url: string, what: string): unknown {
  if (!isDatabaseUnreachable(e)) return e;
  const u = new URL(url);
  const why = (e as { code?: string }).code ?? (e as Error).message;
  return new UserError(`cannot connect to PostgreSQL at ${u.hostname}:${u.port || 5432} as ${decodeURIComponent(u.username)} (${why}); check ${what} and that the server runs`, 'NETWORK', { cause: e });
}

/**
 * Whether an error means the database cannot be reached right now (worth
 * trying again later) rather than that a statement is wrong.
 */
export function isDatabaseUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_ERRORS.has(code) || SERVER_UNAVAILABLE.has(code) || code.startsWith('08'))) return true;
  return LOST_CONNECTION.test(e.message);
}
