/**
 * Loads generated care data into a company through the bulk import path, all
 * tables in one transaction: a seed is either wholly there or not at all.
 */
import { allFields, ENTITIES, type EntityDef } from '../ingest/entities.ts';
import { importRecords } from '../ingest/import.ts';
import type { SourceRecord } from '../ingest/read.ts';
import type pg from 'pg';
import { demoTables, type DemoOptions, type TableRows } from './generator.ts';

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

/** A generated table's rows as ingest records (field names, ISO times), numbered by line. */
export function* demoRecords(entity: EntityDef, t: TableRows, stamp: string, teamsOf: Map<string, string[]>): Generator<SourceRecord> {
  const fieldOf = new Map(allFields(entity).filter((f) => f.column).map((f) => [f.column, f]));
  let line = 0;
  for (const values of t.rows()) {
    const record: Record<string, unknown> = { updatedAt: stamp };
    t.columns.forEach((column, i) => {
      const f = fieldOf.get(column);
      const v = values[i];
      if (!f || v === null || v === undefined) return;
      record[f.name] = v instanceof Date ? v.toISOString() : f.type === 'object' && typeof v === 'string' ? JSON.parse(v) : typeof v === 'bigint' ? String(v) : v;
    });
    if (entity.membershipsField !== undefined) record[entity.membershipsField] = teamsOf.get(String(record['id'])) ?? [];
    yield { line: ++line, value: record };
  }
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
  // Generated records go in through the bulk import path, validated like any
  // other source's. They were last changed at the end of the generated period,
  // so a later version ingested for them replaces them.
  const stamp = opts.to.toISOString();
  const tables = demoTables(companyId, opts);
  const teamsOf = new Map<string, string[]>();
  for (const [, team, agent] of tables.find((t) => t.table === 'team_members')?.rows() ?? []) {
    teamsOf.set(String(agent), [...(teamsOf.get(String(agent)) ?? []), String(team)]);
  }
  for (const t of tables) {
    if (t.table === 'team_members') continue; // carried by the agents' teamIds
    const entity = ENTITIES.find((e) => e.table === t.table);
    if (!entity) throw new Error(`the demo table ${t.table} has no ingest entity`);
    const r = await importRecords(client, companyId, entity, demoRecords(entity, t, stamp, teamsOf));
    rows[t.table] = r.received;
    onTable?.(t.table, r.received);
  }
  await client.query('ANALYZE');
  return { rows, ms: Date.now() - started };
}
