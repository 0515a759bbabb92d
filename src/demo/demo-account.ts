/**
 * The demo company of the embedded default: company `demo`, user `demo` with
 * the Analytics Reports API permission, and generated data for the first half
 * of 2019 (the span of the quick start's example request).
 */
import { inTransaction } from '../db/database.ts';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { createCompany, createUser, findCompanyByKey, findUser, grant, setPassword } from '../accounts/accounts.ts';
import type { Logger } from '../log.ts';
import { DEMO_DEFAULTS } from './generator.ts';
import { seedCompany } from './seed.ts';

export const DEMO_COMPANY = 'demo';
export const DEMO_USER = 'demo';

export interface DemoCredentials {
  readonly companyKey: string;
  readonly username: string;
  readonly password: string;
  /** True when this start made the password up: the only time it is shown. */
  readonly generated: boolean;
  readonly file: string;
}

/** Creates the demo company and user when missing; returns the credentials to show. */
export async function ensureDemo(pool: pg.Pool, dataDir: string, demoPassword: string | undefined, log: Logger): Promise<DemoCredentials> {
  const file = path.join(dataDir, 'demo-credentials.txt');
  if (!(await findCompanyByKey(pool, DEMO_COMPANY))) {
    const seeded = await inTransaction(pool, async (client) => {
      const company = await createCompany(client, { key: DEMO_COMPANY, name: 'Demo Company', timezone: 'America/Chicago' });
      log.info('generating demo data (company demo, 2019-01-01 to 2019-06-30)');
      return seedCompany(client, company.id, DEMO_DEFAULTS);
    });
    log.info({ rows: seeded.rows, ms: seeded.ms }, 'demo data loaded');
  }

  const existing = await readCredentials(file);
  const generated = demoPassword === undefined && existing === undefined;
  const password = demoPassword ?? existing ?? randomBytes(12).toString('base64url');
  if (!(await findUser(pool, DEMO_USER))) {
    await createUser(pool, { companyKey: DEMO_COMPANY, username: DEMO_USER, password });
    await grant(pool, DEMO_USER, 'ANALYTICS_REPORTS_API');
    await grant(pool, DEMO_USER, 'INGEST');
  } else if (password !== existing) {
    await setPassword(pool, DEMO_USER, password);
  }
  if (password !== existing) {
    await fs.writeFile(file, `companyKey=${DEMO_COMPANY}\nusername=${DEMO_USER}\npassword=${password}\n`, { mode: 0o600 });
  }
  await fs.chmod(file, 0o600);
  return { companyKey: DEMO_COMPANY, username: DEMO_USER, password, generated, file };
}

async function readCredentials(file: string): Promise<string | undefined> {
  try {
    const m = /^password=(.*)$/m.exec(await fs.readFile(file, 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}
