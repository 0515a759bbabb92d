/**
 * Loads generated care data into a company with COPY, all tables in one
 * transaction: a seed is either wholly there or not at all.
 */
import type pg from 'pg';
import { copyRows } from '../db/copy-in.ts';
import { demoTables, type DemoOptions } from './generator.ts';

export interface SeedResult {
  readonly rows: Record<string, number>;
  readonly ms: number;
}

/** Business hours of the demo company: Monday–Friday 08:00–18:00 in its zone, and US holidays. */
async function seedCompanySettings(client: pg.ClientBase, companyId: string): Promise<void> {
  await client.query(
    `INSERT INTO business_hours (company_id, iso_dow, start_minute, end_minute)
     SELECT $1, d, 480, 1080 FROM generate_series(1, 5) d ON CONFLICT DO NOTHING`,
    [companyId],
  );
  await client.query(
    `INSERT INTO holidays (company_id, day, name) VALUES
       ($1, '2019-01-01', 'New Year''s Day'), ($1, '2019-05-27', 'Memorial Day'), ($1, '2019-07-04', 'Independence Day')
     ON CONFLICT DO NOTHING`,
    [companyId],
  );
}

export async function seedCompany(
  client: pg.ClientBase,
  companyId: string,
  opts: DemoOptions,
  onTable?: (table: string, rows: number) => void,
): Promise<SeedResult> {
  const started = Date.now();
  const rows: Record<string, number> = {};
  await seedCompanySettings(client, companyId);
  for (const t of demoTables(companyId, opts)) {
    const n = await copyRows(client, t.table, t.columns, t.rows());
    rows[t.table] = n;
    onTable?.(t.table, n);
  }
  await client.query('ANALYZE');
  return { rows, ms: Date.now() - started };
}
