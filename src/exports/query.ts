/**
 * Builds the SQL of an export from its catalog entry and a validated request:
 * the row query (what COPY streams), the same rows as JSON object texts, as
 * typed cells for a spreadsheet, and a count over the same rows.
 */
import type { ColumnDef, ColumnType, ExportDef, QueryContext, SqlScope } from './catalog/types.ts';
import type { ExportRequest } from './catalog/export-request.ts';
import { FORMULA_TRIGGERS, SHEET_CELLS, type SheetCell } from './catalog/formats.ts';
import { sqlIdent, sqlInt, sqlIntList, sqlTextArray, sqlTimestamp } from './sql.ts';
import { formatTimestampSql, sheetDateFormat, type TimeStyle } from './time-style.ts';

export interface ExportQuery {
  /** One row per record, one text column per requested column (CSV; text values escaped when the request asks). */
  readonly rows: string;
  /** The same rows, each as one JSON object text and a comma (keys in column order, every value a string). */
  readonly jsonRows: string;
  readonly sheet: SheetQuery;
  readonly count: string;
  /** A query with the export's rows, whose plan the planner's estimate of their number tops (to EXPLAIN, not run; see plannedRows). */
  readonly estimate: string;
  /** How the rows split into ordered parts for a parallel export; absent when they cannot. */
  readonly slicing?: Slicing | undefined;
}

/**
 * The rows of an export split on their leading sort key: every row of a part
 * whose keys are all lower sorts before every row of the next, so the parts
 * exported one after the other are the whole export in its order.
 */
export interface Slicing {
  /** The leading ORDER BY expression (ascending, nulls last). */
  readonly key: string;
  /**
   * One row of two columns, from one pass over the rows: `n`, how many there
   * are, and `bounds`, the keys (as text) at the `1/k … (k-1)/k` quantiles of
   * a random sample of them, each taken with probability `fraction`.
   */
  sample(k: number, fraction: number): string;
  /** The CSV rows and JSON rows of the part where `condition` (on the key) holds. */
  part(condition: string): { readonly rows: string; readonly jsonRows: string };
}

/** The rows as spreadsheet cells. */
export interface SheetQuery {
  /** The sheet's name: the export's id. */
  readonly name: string;
  /**
   * The same rows, each as one JSON array text with an element per column:
   * text as a string, numbers as numbers, times as the milliseconds from
   * 1970-01-01 00:00 to their wall-clock time in the session's zone; null for no value.
   */
  readonly rows: string;
  readonly columns: readonly { readonly name: string; readonly cell: SheetCell }[];
  /** Number format of date cells, showing times as the request's time style does. */
  readonly dateFormat: string;
}

export function buildExportQuery(def: ExportDef, req: ExportRequest, ctx: QueryContext, style: TimeStyle): ExportQuery {
  const cols = req.columns.map((name) => {
    const col = def.columns.find((c) => c.name === name);
    if (!col) throw new Error(`column ${name} is not in the ${def.id} catalog`);
    return col;
  });
  const scope = sqlScope(req, ctx);
  /** The column's SQL expression, as its catalog entry writes it. */
  const exprOf = (c: ColumnDef) => (typeof c.sql === 'string' ? c.sql : c.sql(scope));
  const text = (c: ColumnDef) => (c.type === 'timestamp' ? formatTimestampSql(exprOf(c), style) : `(${exprOf(c)})::text`);

  const source = def.source(scope);
  const joinNames = new Set(cols.flatMap((c) => c.joins ?? []));
  const joins = [...joinNames].map((name) => {
    const sql = source.joins?.[name];
    if (!sql) throw new Error(`the ${def.id} export has no join '${name}'`);
    return sql;
  });
  const whereOf = (conditions: readonly string[]) => (conditions.length > 0 ? `\nWHERE ${conditions.join('\n  AND ')}` : '');
  const where = whereOf(source.where);
  const bodyWhere = (extra: readonly string[]) => `FROM ${source.from}\n${joins.join('\n')}${whereOf([...source.where, ...extra])}`;
  const body = bodyWhere([]);

  const csvText = (c: ColumnDef) => {
    if (req.csvEscapeFormulas && SHEET_CELLS[c.type] === 'text') return escapeFormulaSql(text(c));
    return WRITTEN_AS_TEXT.has(c.type) ? `(${exprOf(c)})` : text(c);
  };
  /** A SELECT list of one expression per column, each named by its column. */
  const selectOf = (expr: (c: ColumnDef) => string) => `SELECT ${cols.map((c) => `${expr(c)} AS ${sqlIdent(c.name)}`).join(',\n       ')}`;
  const rowsSelect = selectOf(csvText);
  // row_to_json writes each object in one pass, keys in column order and named by the columns' aliases: the same bytes
  // as a to_json() per column joined with ||, and cheaper in the database (the 1M-conversation export: 17.4 s, not 19.1).
  // The outer query only projects, so the rows keep the inner ORDER BY.
  // Each row ends in a comma: the file is the rows as they come, but for the array's ends (see the writer).
  const jsonSelect = selectOf((c) => `coalesce(${text(c)}, '')`);
  const asJson = (inner: string) => `SELECT row_to_json(r)::text || ',' FROM (\n${inner}\n) r`;
  const rows = `${rowsSelect}\n${body}\nORDER BY ${source.orderBy}`;
  const jsonRows = asJson(`${jsonSelect}\n${body}\nORDER BY ${source.orderBy}`);
  const cell = (c: ColumnDef) => {
    const expr = exprOf(c);
    switch (SHEET_CELLS[c.type]) {
      case 'text':
        return text(c);
      case 'number':
        return `(${expr})::numeric`;
      case 'date':
        // timestamptz → timestamp is the wall-clock time in the session's zone; its epoch counts that as if it were UTC.
        // Whole milliseconds, truncated as the text styles' to_char truncates them.
        return `floor(extract(epoch FROM (${expr})::timestamp) * 1000)`;
    }
  };
  const cells = cols.map((c) => `coalesce(to_json(${cell(c)})::text, 'null')`).join(" || ',' || ");
  const sheet: SheetQuery = {
    name: def.id,
    rows: `SELECT '[' || ${cells} || ']'\n${body}\nORDER BY ${source.orderBy}`,
    columns: cols.map((c) => ({ name: c.name, cell: SHEET_CELLS[c.type] })),
    dateFormat: sheetDateFormat(style),
  };
  const count = `SELECT count(*) AS n FROM ${source.from}${where}`;
  const key = sliceKey(source.orderBy);
  const slicing: Slicing | undefined = key
    ? {
        key,
        sample: (k, fraction) => {
          const quantiles = Array.from({ length: k - 1 }, (_, i) => String((i + 1) / k)).join(', ');
          const bounds = `percentile_disc(ARRAY[${quantiles}]::float8[]) WITHIN GROUP (ORDER BY ${key}) FILTER (WHERE random() < ${Number(fraction)})`;
          return `SELECT count(*) AS n, (${bounds})::text[] AS bounds FROM ${source.from}${where}`;
        },
        part: (condition) => ({
          rows: `${rowsSelect}\n${bodyWhere([condition])}\nORDER BY ${source.orderBy}`,
          jsonRows: asJson(`${jsonSelect}\n${bodyWhere([condition])}\nORDER BY ${source.orderBy}`),
        }),
      }
    : undefined;
  return { rows, jsonRows, sheet, count, estimate: `SELECT 1 FROM ${source.from}${where}`, slicing };
}

/** The leading ORDER BY term when it is a plain ascending column (`alias.column`), the only kind a part ranges over. */
function sliceKey(orderBy: string): string | undefined {
  const first = orderBy.split(',')[0]!.trim();
  return /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(first) ? first : undefined;
}

/** A regular-expression bracket of the formula triggers: tab and CR as escapes the regex engine reads, '-' last, where it is literal. */
const TRIGGER_CLASS = `[${FORMULA_TRIGGERS.filter((c) => c !== '-')
  .map((c) => (c === '\t' ? '\\t' : c === '\r' ? '\\r' : c))
  .join('')}${FORMULA_TRIGGERS.includes('-') ? '-' : ''}]`;

/**
 * Column types whose values COPY writes in CSV exactly as their text: numbers,
 * which it writes with the same output function as a cast to text, so the
 * cast's round trip through a text value is left out: the 1M-conversation
 * export's one COPY took 10.9-12.4 s instead of 11.2-13.8 s (six runs each,
 * in turn). A boolean's cast (`true`) is not what COPY writes (`t`), so
 * booleans keep theirs; JSON and sheets keep every cast.
 */
const WRITTEN_AS_TEXT: ReadonlySet<ColumnType> = new Set<ColumnType>(['id', 'integer', 'duration_ms']);

/** `text` with a `'` before a value that a spreadsheet would read as a formula (the expression is evaluated once). */
function escapeFormulaSql(text: string): string {
  return `regexp_replace(${text}, '^(${TRIGGER_CLASS})', '''\\1')`;
}

function sqlScope(req: ExportRequest, ctx: QueryContext): SqlScope {
  const company = sqlInt(ctx.companyId);
  const start = sqlTimestamp(req.startTime);
  const end = sqlTimestamp(req.endTime);
  const conversationFilters = (c: string): string[] => {
    const out: string[] = [];
    if (req.priorities) out.push(`${c}.priority IN (${sqlIntList(req.priorities)})`);
    if (req.workqueueIds) out.push(`${c}.workqueue_id IN (${sqlIntList(req.workqueueIds)})`);
    const sv = ctx.smartView;
    if (sv) {
      if (sv.networks?.length) out.push(`${c}.network = ANY(${sqlTextArray(sv.networks)})`);
      if (sv.priorities?.length) out.push(`${c}.priority IN (${sqlIntList(sv.priorities)})`);
      if (sv.workqueueIds?.length) out.push(`${c}.workqueue_id IN (${sqlIntList(sv.workqueueIds)})`);
      if (sv.tags?.length) out.push(`${c}.tags && ${sqlTextArray(sv.tags)}`);
    }
    return out;
  };
  return {
    req,
    company,
    start,
    end,
    inRange: (expr) => `${expr} >= ${start} AND ${expr} < ${end}`,
    conversationFilters,
    conversationOf(row) {
      const filters = conversationFilters('fc');
      if (filters.length === 0) return [];
      return [
        `EXISTS (SELECT 1 FROM conversations fc WHERE fc.company_id = ${row}.company_id AND fc.conversation_id = ${row}.conversation_id AND ${filters.join(' AND ')})`,
      ];
    },
    businessHours(eventTime) {
      // A smart view's own business-hours setting overrides the request's.
      const inside = ctx.smartView?.businessHours ?? req.businessHours;
      if (inside === undefined) return [];
      const test = `care_in_business_hours(${company}, ${eventTime})`;
      return [inside ? test : `NOT ${test}`];
    },
    ids: (values) => sqlIntList(values),
  };
}
