/**
 * Builds the SQL of an export from its catalog entry and a validated request:
 * the row query (what COPY streams), and a count over the same predicates.
 */
import type { ExportDef, QueryContext } from './catalog/types.ts';
import type { ExportRequest } from './request.ts';
import { sqlIdent, sqlInt, sqlIntList, sqlTextArray } from './sql.ts';
import { formatTimestampSql, type TimeStyle } from './time-style.ts';

export interface ExportQuery {
  /** One row per record, one text column per requested column. */
  readonly rows: string;
  /** The same rows, each as one JSON object text (keys in column order, every value a string). */
  readonly jsonRows: string;
  readonly count: string;
}

export function buildExportQuery(def: ExportDef, req: ExportRequest, ctx: QueryContext, style: TimeStyle): ExportQuery {
  const cols = req.columns.map((name) => {
    const col = def.columns.find((c) => c.name === name);
    if (!col) throw new Error(`column ${name} is not in the ${def.id} catalog`);
    return col;
  });
  const text = (expr: string, type: string) => (type === 'timestamp' ? formatTimestampSql(expr, style) : `(${expr})::text`);

  const joinNames = new Set(cols.flatMap((c) => c.joins ?? []));
  const joins = Object.entries(def.joins)
    .filter(([name]) => joinNames.has(name))
    .map(([, sql]) => sql);
  const where = predicates(def, req, ctx);
  const body = `FROM ${def.from}\n${joins.join('\n')}\nWHERE ${where.join('\n  AND ')}`;

  const rows = `SELECT ${cols.map((c) => `${text(c.sql, c.type)} AS ${sqlIdent(c.name)}`).join(',\n       ')}\n${body}\nORDER BY ${def.orderBy}`;
  const json = cols
    .map((c, i) => `'${i === 0 ? '{' : ','}"${c.name}":' || to_json(coalesce(${text(c.sql, c.type)}, ''))::text`)
    .join('\n    || ');
  const jsonRows = `SELECT ${json} || '}'\n${body}\nORDER BY ${def.orderBy}`;
  const count = `SELECT count(*) AS n FROM ${def.from}\nWHERE ${where.join('\n  AND ')}`;
  return { rows, jsonRows, count };
}

function predicates(def: ExportDef, req: ExportRequest, ctx: QueryContext): string[] {
  const main = def.from.trim().split(/\s+/).pop() ?? '';
  const out = [`${main}.company_id = ${sqlInt(ctx.companyId)}`, ...def.rangePredicates(req)];
  const c = def.conversationAlias;
  if (c) {
    if (req.priorities) out.push(`${c}.priority IN (${sqlIntList(req.priorities)})`);
    if (req.workqueueIds) out.push(`${c}.workqueue_id IN (${sqlIntList(req.workqueueIds)})`);
    const sv = ctx.smartView;
    if (sv) {
      if (sv.networks?.length) out.push(`${c}.network = ANY(${sqlTextArray(sv.networks)})`);
      if (sv.priorities?.length) out.push(`${c}.priority IN (${sqlIntList(sv.priorities)})`);
      if (sv.workqueueIds?.length) out.push(`${c}.workqueue_id IN (${sqlIntList(sv.workqueueIds)})`);
      if (sv.tags?.length) out.push(`${c}.tags && ${sqlTextArray(sv.tags)}`);
    }
  }
  // A smart view's own business-hours setting overrides the request's.
  const businessHours = ctx.smartView?.businessHours ?? req.businessHours;
  if (businessHours !== undefined) {
    const test = `care_in_business_hours(${main}.company_id, ${def.eventTime(req)})`;
    out.push(businessHours ? test : `NOT ${test}`);
  }
  return out;
}

