/**
 * Companies, API users and permissions: the control-plane records behind
 * authentication. Every function takes a pool or client so callers choose the
 * transaction.
 */
import type pg from 'pg';
import { UserError } from '../errors.ts';
import { hashPassword } from './passwords.ts';

export const PERMISSIONS = ['ANALYTICS_REPORTS_API', 'INGEST'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Company {
  id: string;
  key: string;
  name: string;
  timezone: string;
  timeFormat: 'ISO_8601' | 'EPOCH_MILLIS';
}

export interface User {
  id: string;
  username: string;
  companyId: string;
  enabled: boolean;
  passwordHash: string;
  permissions: Permission[];
  company: Company;
}

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** A change the accounts refuse: a duplicate, a missing company or user, a short password. */
export class AccountError extends UserError {
  override name = 'AccountError';
}

export async function createCompany(
  db: Queryable,
  input: { key: string; name?: string; timezone?: string },
): Promise<Company> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO companies (key, name, timezone) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO NOTHING RETURNING id::text`,
    [input.key, input.name ?? input.key, input.timezone ?? 'UTC'],
  );
  if (r.rowCount === 0) throw new AccountError(`company ${input.key} already exists`);
  const company = await findCompanyByKey(db, input.key);
  if (!company) throw new AccountError(`company ${input.key} vanished while being created`);
  return company;
}

/** Changes the zone a company's business hours are read in; an unknown zone or company is an AccountError. */
export async function setCompanyTimezone(db: Queryable, key: string, timezone: string): Promise<void> {
  const known = await db.query('SELECT 1 FROM pg_timezone_names WHERE name = $1', [timezone]);
  if (!known.rowCount) throw new AccountError(`'${timezone}' is not a time zone PostgreSQL knows; give an IANA name such as Europe/Berlin`);
  const r = await db.query('UPDATE companies SET timezone = $2 WHERE key = $1', [key, timezone]);
  if (!r.rowCount) throw new AccountError(`company ${key} does not exist`);
}

export async function findCompanyByKey(db: Queryable, key: string): Promise<Company | undefined> {
  const r = await db.query<Company>(
    `SELECT id::text, key, name, timezone, time_format AS "timeFormat" FROM companies WHERE key = $1`,
    [key],
  );
  return r.rows[0];
}

export async function findCompanyById(db: Queryable, id: string): Promise<Company | undefined> {
  const r = await db.query<Company>(
    `SELECT id::text, key, name, timezone, time_format AS "timeFormat" FROM companies WHERE id = $1`,
    [id],
  );
  return r.rows[0];
}

export async function createUser(
  db: Queryable,
  input: { companyKey: string; username: string; password: string },
): Promise<User> {
  const company = await findCompanyByKey(db, input.companyKey);
  if (!company) throw new AccountError(`company ${input.companyKey} does not exist`);
  if (input.password.length < 8) throw new AccountError('a password needs at least 8 characters');
  const hash = await hashPassword(input.password);
  const r = await db.query<{ id: string }>(
    `INSERT INTO api_users (company_id, username, password_hash) VALUES ($1, $2, $3)
     ON CONFLICT (username) DO NOTHING RETURNING id::text`,
    [company.id, input.username, hash],
  );
  if (r.rowCount === 0) throw new AccountError(`user ${input.username} already exists`);
  const user = await findUser(db, input.username);
  if (!user) throw new AccountError(`user ${input.username} vanished while being created`);
  return user;
}

export async function setPassword(db: Queryable, username: string, password: string): Promise<void> {
  if (password.length < 8) throw new AccountError('a password needs at least 8 characters');
  const r = await db.query('UPDATE api_users SET password_hash = $2 WHERE username = $1', [
    username,
    await hashPassword(password),
  ]);
  if (r.rowCount === 0) throw new AccountError(`user ${username} does not exist`);
}

/** A user with its permissions and company, in one round trip (authentication reads it on every call). */
export async function findUser(db: Queryable, username: string): Promise<User | undefined> {
  const r = await db.query<User>(
    `SELECT u.id::text, u.username, u.company_id::text AS "companyId", u.enabled,
            u.password_hash AS "passwordHash",
            coalesce(array_agg(p.permission ORDER BY p.permission) FILTER (WHERE p.permission IS NOT NULL), '{}') AS permissions,
            json_build_object('id', c.id::text, 'key', c.key, 'name', c.name, 'timezone', c.timezone, 'timeFormat', c.time_format) AS company
       FROM api_users u
       JOIN companies c ON c.id = u.company_id
       LEFT JOIN user_permissions p ON p.user_id = u.id
      WHERE u.username = $1
      GROUP BY u.id, c.id`,
    [username],
  );
  return r.rows[0];
}

export async function grant(db: Queryable, username: string, permission: Permission): Promise<void> {
  const r = await db.query(
    `INSERT INTO user_permissions (user_id, permission)
     SELECT id, $2 FROM api_users WHERE username = $1
     ON CONFLICT DO NOTHING`,
    [username, permission],
  );
  if (r.rowCount === 0 && !(await findUser(db, username))) throw new AccountError(`user ${username} does not exist`);
}

export async function revoke(db: Queryable, username: string, permission: Permission): Promise<void> {
  if (!(await findUser(db, username))) throw new AccountError(`user ${username} does not exist`);
  await db.query(
    `DELETE FROM user_permissions p USING api_users u WHERE p.user_id = u.id AND u.username = $1 AND p.permission = $2`,
    [username, permission],
  );
}
