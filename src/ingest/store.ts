/**
 * Writes a validated batch in one transaction: a set-based upsert keyed by
 * the company and the source ids, applying a record only when it is newer
 * (updatedAt) than the stored version, so a repeated batch changes nothing
 * and an older version never replaces a newer one. Unknown
 * references are reported, not dropped.
 */
import type pg from 'pg';
import { inTransaction } from '../db/database.ts';
import { allFields, ENTITIES, type EntityDef, type FieldDef } from './entities.ts';
import type { Validated } from './validate.ts';

export interface IngestResult {
  readonly received: number;
  /** New records. */
  readonly inserted: number;
  /** Records that replaced an older version. */
  readonly updated: number;
  /** Records no newer than the stored version (a repeat, or arriving late), left as they were. */
  readonly unchanged: number;
  /** How many references name ids the company does not have; the first MAX_UNKNOWN_LISTED of them are listed. */
  readonly unknownReferenceCount: number;
  readonly unknownReferences: readonly UnknownReference[];
}

/** Unknown references listed in an ingest answer or an import's outcome; the count covers them all. */
export const MAX_UNKNOWN_LISTED = 1000;

const SQL_TYPE: Record<FieldDef['type'], string> = {
  id: 'bigint', text: 'text', integer: 'bigint', boolean: 'boolean', time: 'timestamptz', enum: 'text', 'text[]': 'text[]', object: 'jsonb', uuid: 'uuid',
};

export function sqlType(f: FieldDef): string {
  return SQL_TYPE[f.type];
}

/** The column list of a record set (`name type, …`), for jsonb_to_record(set). */
export function recordColumns(entity: EntityDef): string {
  return columnsOf(entity).map((f) => `${f.column} ${SQL_TYPE[f.type]}`).join(', ');
}

/**
 * INSERT … ON CONFLICT of the rows of `source` (a FROM item with alias `r`
 * and the entity's columns) into the entity's table for company `$1`: a row
 * replaces the stored one only when its updated_at is newer.
 */
export function upsertSql(entity: EntityDef, source: string): string {
  const cols = columnsOf(entity);
  const keyCols = keyColumns(entity);
  return `INSERT INTO ${entity.table} AS t (company_id, ${cols.map((f) => f.column).join(', ')})
       SELECT $1, ${cols.map((f) => `r.${f.column}`).join(', ')} FROM ${source}
       ON CONFLICT (company_id, ${keyCols.join(', ')}) DO UPDATE
          SET ${cols.filter((f) => !keyCols.includes(f.column)).map((f) => `${f.column} = EXCLUDED.${f.column}`).join(', ')}
        WHERE t.updated_at < EXCLUDED.updated_at`;
}

export function keyColumns(entity: EntityDef): string[] {
  return entity.key.map((k) => allFields(entity).find((f) => f.name === k)!.column);
}

function columnsOf(entity: EntityDef): FieldDef[] {
  return allFields(entity).filter((f) => f.column);
}

/** Writes a batch in a transaction of its own; with `dryRun`, answers what writing it would do and writes nothing. */
export async function ingestBatch(pool: pg.Pool, companyId: string, entity: EntityDef, records: readonly Validated[], opts: { dryRun?: boolean } = {}): Promise<IngestResult> {
  return inTransaction(pool, (client) => writeBatch(client, companyId, entity, records), opts);
}

/** Writes a batch on `client`, inside the caller's transaction. */
export async function writeBatch(client: pg.ClientBase, companyId: string, entity: EntityDef, records: readonly Validated[]): Promise<IngestResult> {
  // Within one batch the newest version of a key wins (the later line on a tie).
  const keyCols = keyColumns(entity);
  const newest = new Map<string, Validated>();
  for (const r of records) {
    const key = keyCols.map((c) => String(r.row[c] as string)).join('\u0000');
    const seen = newest.get(key);
    if (!seen || Date.parse(r.row['updated_at'] as string) >= Date.parse(seen.row['updated_at'] as string)) newest.set(key, r);
  }
  const rows = [...newest.values()];
  const res = await client.query<{ inserted: boolean; agent: string | null }>(
    // In key order, so that concurrent batches naming the same keys lock them in the same order and never deadlock.
    `${upsertSql(entity, `(SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(${recordColumns(entity)}) ORDER BY ${keyCols.join(', ')}) r`)}
     RETURNING (xmax = 0) AS inserted, ${entity.membershipsField !== undefined ? 't.agent_id::text' : 'NULL'} AS agent`,
    [companyId, JSON.stringify(rows.map((r) => r.row))],
  );
  if (entity.membershipsField !== undefined) {
    const applied = new Set(res.rows.map((r) => r.agent));
    await replaceMemberships(client, companyId, rows.filter((r) => r.teamIds && applied.has(String(r.row['agent_id'] as string))));
  }
  const unknown = await References.of(entity, records).missing(client, companyId, MAX_UNKNOWN_LISTED);
  const inserted = res.rows.filter((r) => r.inserted).length;
  return {
    received: records.length,
    inserted,
    updated: res.rows.length - inserted,
    unchanged: records.length - res.rows.length,
    unknownReferenceCount: unknown.count,
    unknownReferences: unknown.first,
  };
}

/** An applied agent's memberships become those of the record (teams that exist; the others are reported). */
async function replaceMemberships(client: pg.ClientBase, companyId: string, agents: readonly Validated[]): Promise<void> {
  if (agents.length === 0) return;
  const ids = agents.map((a) => String(a.row['agent_id'] as string));
  await client.query('DELETE FROM team_members WHERE company_id = $1 AND agent_id = ANY($2::bigint[])', [companyId, ids]);
  const pairs = agents.flatMap((a) => (a.teamIds ?? []).map((t) => [String(a.row['agent_id'] as string), t]));
  await client.query(
    `INSERT INTO team_members (company_id, agent_id, team_id)
     SELECT $1, p.agent_id, p.team_id FROM unnest($2::bigint[], $3::bigint[]) AS p(agent_id, team_id)
      WHERE EXISTS (SELECT 1 FROM teams t WHERE t.company_id = $1 AND t.team_id = p.team_id)
      ORDER BY p.team_id, p.agent_id
     ON CONFLICT DO NOTHING`,
    [companyId, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
}

/** The smallest and largest of validated ids (decimal, no leading zeros), compared as numbers without converting them. */
export function idRange(ids: readonly string[]): [string, string] {
  let lo = ids[0]!;
  let hi = ids[0]!;
  for (const id of ids) {
    if (id.length < lo.length || (id.length === lo.length && id < lo)) lo = id;
    if (id.length > hi.length || (id.length === hi.length && id > hi)) hi = id;
  }
  return [lo, hi];
}

export type UnknownReference = { line: number; field: string; id: string; entity: string };

/**
 * The references a set of records makes, kept compact for bulk import:
 * per field, the referring lines and the ids, side by side.
 */
export class References {
  private readonly fields: readonly FieldDef[];
  private readonly lines: number[][];
  private readonly ids: string[][];

  constructor(entity: EntityDef) {
    this.fields = allFields(entity).filter((f) => f.ref);
    this.lines = this.fields.map(() => []);
    this.ids = this.fields.map(() => []);
  }

  static of(entity: EntityDef, records: readonly Validated[]): References {
    const refs = new References(entity);
    for (const r of records) refs.add(r);
    return refs;
  }

  add(r: Validated): void {
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i]!;
      const v = f.name === 'teamIds' ? r.teamIds : (r.row[f.column] as string | string[] | null);
      if (v === null || v === undefined) continue;
      if (typeof v === 'string') {
        this.lines[i]!.push(r.line);
        this.ids[i]!.push(v);
      } else {
        for (const id of v) {
          this.lines[i]!.push(r.line);
          this.ids[i]!.push(id);
        }
      }
    }
  }

  /**
   * References to ids the company does not have: how many, and the first
   * `limit` by line. One query per entity referred to, over its distinct ids.
   */
  async missing(client: pg.ClientBase, companyId: string, limit = Infinity): Promise<{ count: number; first: UnknownReference[] }> {
    const wanted = new Map<string, Set<string>>();
    this.fields.forEach((f, i) => {
      const set = wanted.get(f.ref!) ?? wanted.set(f.ref!, new Set()).get(f.ref!)!;
      for (const id of this.ids[i]!) set.add(id);
    });
    const gone = new Map<string, Set<string>>();
    for (const [name, ids] of wanted) {
      if (ids.size === 0) continue;
      const target = ENTITIES.find((e) => e.name === name)!;
      const keyCol = allFields(target).find((f) => f.name === target.key[0])!.column;
      const list = [...ids];
      const [lo, hi] = idRange(list);
      if (BigInt(hi) - BigInt(lo) < BigInt(list.length) * 4n) {
        // Ids close together (a source's ids mostly grow): one scan of the range, and the difference here.
        const r = await client.query<{ id: string }>(
          `SELECT ${keyCol}::text AS id FROM ${target.table} WHERE company_id = $1 AND ${keyCol} BETWEEN $2 AND $3`,
          [companyId, lo, hi],
        );
        const there = new Set(r.rows.map((x) => x.id));
        const missing = list.filter((id) => !there.has(id));
        if (missing.length > 0) gone.set(name, new Set(missing));
        continue;
      }
      const r = await client.query<{ id: string }>(
        `SELECT x::text AS id FROM unnest($2::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM ${target.table} t WHERE t.company_id = $1 AND t.${keyCol} = x)`,
        [companyId, list],
      );
      if (r.rows.length > 0) gone.set(name, new Set(r.rows.map((x) => x.id)));
    }
    let count = 0;
    const first: UnknownReference[] = [];
    this.fields.forEach((f, i) => {
      const set = gone.get(f.ref!);
      if (!set) return;
      const ids = this.ids[i]!;
      let kept = 0;
      for (let j = 0; j < ids.length; j++) {
        if (!set.has(ids[j]!)) continue;
        count++;
        // Lines only grow within a field, so its first `limit` are all that can make the list.
        if (kept++ < limit) first.push({ line: this.lines[i]![j]!, field: f.name, id: ids[j]!, entity: f.ref! });
      }
    });
    // Stable: on one line, fields keep their order.
    return { count, first: first.sort((a, b) => a.line - b.line).slice(0, limit) };
  }
}
