/**
 * Keys shared by every process of the service, kept in the database so that
 * any API node can verify what another signed. Created on first use.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';

export async function loadSecret(pool: pg.Pool, name: string): Promise<Buffer> {
  await pool.query('INSERT INTO service_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    randomBytes(32),
  ]);
  const r = await pool.query<{ secret: Buffer }>('SELECT secret FROM service_secrets WHERE name = $1', [name]);
  const secret = r.rows[0]?.secret;
  if (!secret) throw new Error(`service secret ${name} is missing`);
  return secret;
}
