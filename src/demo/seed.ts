/**
 * Loads generated care data into a company with COPY, all tables in one
 * transaction: a seed is either wholly there or not at all.
 */
import type { CopyValue } from '../db/copy-in.ts';
import { ENTITIES } from '../ingest/entities.ts';
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

function* withStamp(rows: Iterable<readonly CopyValue[]>, stamp: string): Generator<readonly CopyValue[]> {
  for (const r of rows) yield [...r, stamp];
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
  // Generated records were last changed at the end of the generated period: a later version ingested for them replaces them.
  const stamp = opts.to.toISOString();
  for (const t of demoTables(companyId, opts)) {
    const stamped = !t.columns.includes('updated_at') && ENTITIES.some((e) => e.table === t.table);
    const columns = stamped ? [...t.columns, 'updated_at'] : t.columns;
    const source = stamped ? withStamp(t.rows(), stamp) : t.rows();
    const n = await copyRows(client, t.table, columns, source);
    rows[t.table] = n;
    onTable?.(t.table, n);
  }
  await client.query('ANALYZE');
  return { rows, ms: Date.now() - started };
}
