/**
 * The bulk import's writer. A row-by-row upsert is too slow for files of
 * millions of records, so validated records are written in chunks with
 * `COPY`: a chunk of keys the company does not have yet (none twice) goes
 * straight into the care table; any other chunk goes into a staging table and
 * is merged by one set-based upsert with the ingest API's rule (the newest
 * updatedAt wins). The server writes one chunk while the caller reads the
 * next. The references of each chunk are checked as it is written.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { allFields, type EntityDef, type FieldDef } from './entities.ts';
import { idRange, keyColumns, MAX_UNKNOWN_LISTED, recordColumns, References, sqlType, upsertSql, type UnknownReference } from './store.ts';
import type { Row, Validated } from './validate.ts';

/** Records validated and written together; the next chunk is read while the server writes this one. */
export const CHUNK = 50_000;
const FIRST_CHUNK = 2_000;

/**
 * One chunk of validated records: their COPY text (company first), kept off
 * the JavaScript heap as buffers, and each one's key and references.
 */
interface Chunk {
  readonly text: Buffer[];
  count: number;
  /** Per key column, each record's value. */
  readonly keys: string[][];
  readonly refs: References;
}

/** COPY text is gathered in strings of about this many characters, then encoded to a buffer. */
const TEXT_PIECE = 1 << 18;
/**
 * Writes the chunks of one entity for one company, on one connection, in
 * order. The server writes one chunk while the caller reads the next.
 */
export class ChunkWriter {
  readonly totals = { inserted: 0, applied: 0, unknownReferenceCount: 0, unknownReferences: [] as UnknownReference[] };
  private readonly client: pg.ClientBase;
  private readonly companyId: string;
  private readonly entity: EntityDef;
  private readonly size: number;
  /** The first chunks are small, so that the server starts writing early; they double up to `size`. */
  private target: number;
  private readonly cols: readonly FieldDef[];
  private readonly keyFields: readonly FieldDef[];
  private readonly keyCols: readonly string[];
  private readonly serializeRow: (row: Row) => string;
  private chunk: Chunk;
  private pending = '';
  private writing: Promise<void> = Promise.resolve();
  private staged = false;

  constructor(client: pg.ClientBase, companyId: string, entity: EntityDef, size: number) {
    this.client = client;
    this.companyId = companyId;
    this.entity = entity;
    this.size = size;
    this.target = Math.min(size, FIRST_CHUNK);
    this.cols = allFields(entity).filter((f) => f.column);
    this.keyCols = keyColumns(entity);
    this.keyFields = this.keyCols.map((col) => this.cols.find((f) => f.column === col)!);
    this.serializeRow = rowSerializer(this.cols);
    this.chunk = this.empty();
  }

  /** Adds a record; true when the chunk is full and should be flushed. */
  add(v: Validated): boolean {
    const c = this.chunk;
    this.pending += `${this.companyId},${this.serializeRow(v.row)}\n`;
    if (this.pending.length >= TEXT_PIECE) {
      c.text.push(Buffer.from(this.pending));
      this.pending = '';
    }
    c.count++;
    for (let i = 0; i < this.keyCols.length; i++) c.keys[i]!.push(v.row[this.keyCols[i]!] as string);
    c.refs.add(v);
    return c.count >= this.target;
  }

  /** Hands the chunk to the server once it has written the previous one. */
  async flush(): Promise<void> {
    const c = this.chunk;
    if (this.pending !== '') c.text.push(Buffer.from(this.pending));
    this.pending = '';
    this.chunk = this.empty();
    this.target = Math.min(this.size, this.target * 2);
    await this.writing;
    if (c.count === 0) return;
    this.writing = this.write(c);
    this.writing.catch(() => undefined); // awaited by the next flush or finish; this only keeps an early failure from going unhandled
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.writing;
  }

  private empty(): Chunk {
    return { text: [], count: 0, keys: this.keyCols.map(() => []), refs: new References(this.entity) };
  }

  private async write(c: Chunk): Promise<void> {
    if (await this.allNew(c)) {
      await this.copy(`COPY ${this.entity.table} (company_id, ${this.cols.map((f) => f.column).join(', ')}) FROM STDIN WITH (FORMAT csv)`, c);
      this.totals.inserted += c.count;
      this.totals.applied += c.count;
    } else {
      await this.merge(c);
    }
    const unknown = await c.refs.missing(this.client, this.companyId, MAX_UNKNOWN_LISTED - this.totals.unknownReferences.length);
    this.totals.unknownReferenceCount += unknown.count;
    this.totals.unknownReferences.push(...unknown.first);
  }

  /**
   * True when no key of the chunk is there twice and none is stored yet, so
   * that plain COPY into the table is the same as the upsert. Ids of a
   * source mostly grow, so one probe of the chunk's id range usually
   * answers; otherwise the keys are looked up one by one.
   */
  private async allNew(c: Chunk): Promise<boolean> {
    const { keys } = c;
    const seen = new Set<string>();
    for (let i = 0; i < c.count; i++) {
      const k = keys.length === 1 ? keys[0]![i]! : keys.map((col) => col[i]).join('\u0000');
      if (seen.has(k)) return false;
      seen.add(k);
    }
    const table = this.entity.table;
    if (this.keyFields.length === 1 && this.keyFields[0]!.type === 'id') {
      const [lo, hi] = idRange(keys[0]!);
      const range = await this.client.query(`SELECT 1 FROM ${table} WHERE company_id = $1 AND ${this.keyCols[0]} BETWEEN $2 AND $3 LIMIT 1`, [this.companyId, lo, hi]);
      if (range.rowCount === 0) return true;
    }
    const types = this.keyFields.map(sqlType);
    const stored = await this.client.query(
      `SELECT 1 FROM unnest(${types.map((t, i) => `$${i + 2}::${t}[]`).join(', ')}) AS k(${this.keyCols.join(', ')})
        WHERE EXISTS (SELECT 1 FROM ${table} t WHERE t.company_id = $1 AND ${this.keyCols.map((col) => `t.${col} = k.${col}`).join(' AND ')})
        LIMIT 1`,
      [this.companyId, ...keys],
    );
    return stored.rowCount === 0;
  }

  /**
   * Stages the chunk and upserts it: the newest version of each key wins (the
   * later record on a tie, numbered by `seq` in file order), and only over an
   * older stored one.
   */
  private async merge(c: Chunk): Promise<void> {
    const cols = this.cols.map((f) => f.column).join(', ');
    if (!this.staged) {
      await this.client.query('DROP TABLE IF EXISTS care_stage');
      await this.client.query(`CREATE TEMP TABLE care_stage (company_id bigint, ${recordColumns(this.entity)}, seq bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DROP`);
      await this.client.query(`SET LOCAL work_mem = '256MB'`);
      this.staged = true;
    }
    await this.copy(`COPY care_stage (company_id, ${cols}) FROM STDIN WITH (FORMAT csv)`, c);
    const keys = this.keyCols.join(', ');
    const merged = await this.client.query<{ inserted: number; applied: number }>(
      `WITH m AS (
         ${upsertSql(this.entity, `(SELECT DISTINCT ON (${keys}) * FROM care_stage ORDER BY ${keys}, updated_at DESC, seq DESC) r`)}
         RETURNING (xmax = 0) AS inserted)
       SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*)::int AS applied FROM m`,
      [this.companyId],
    );
    await this.client.query('TRUNCATE care_stage');
    this.totals.inserted += merged.rows[0]!.inserted;
    this.totals.applied += merged.rows[0]!.applied;
  }

  /** COPY of the chunk's text. */
  private async copy(sql: string, c: Chunk): Promise<void> {
    const stream = this.client.query(copyFrom(sql));
    await pipeline(Readable.from(c.text), stream);
  }
}

/**
 * A row's columns as CSV cells for COPY. Validated ids, numbers, times,
 * enums and UUIDs hold no comma, quote or line break, so they are written as
 * they are; text is always quoted (an empty string is not NULL).
 */
function rowSerializer(cols: readonly FieldDef[]): (row: Row) => string {
  const plain = (v: Row[string]) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
  const cells = cols.map((f) => (f.type === 'text' || f.type === 'text[]' || f.type === 'object' ? csvCell : plain));
  const names = cols.map((f) => f.column);
  return (row) => {
    let line = cells[0]!(row[names[0]!] ?? null);
    for (let i = 1; i < names.length; i++) line += `,${cells[i]!(row[names[i]!] ?? null)}`;
    return line;
  };
}

/** A value as a CSV cell for COPY: empty for null, quoted text, PostgreSQL array literals for lists, JSON for objects. */
export function csvCell(v: string | number | boolean | string[] | object | null): string {
  if (v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const text = Array.isArray(v) ? `{${v.map((x) => `"${String(x).replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}` : typeof v === 'string' ? v : JSON.stringify(v);
  return `"${text.includes('"') ? text.replaceAll('"', '""') : text}"`;
}
