/**
 * Checks an export's file against rows computed independently: a SQL query
 * written by hand in the test (not the production query builder), with times
 * formatted in JavaScript by Intl (not PostgreSQL's to_char). The catalog is
 * read only for column names and types. The conversation export has its own
 * oracle in expected.ts, which names its columns itself. An xlsx file is
 * read by SheetJS (./sheet.ts), not by the library that wrote it.
 */
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { EXPORTS } from '../../src/exports/catalog/index.ts';
import type { ColumnType } from '../../src/exports/catalog/types.ts';
import { conversationRows, formatTime, type Style, type TestZone } from './expected.ts';
import { exportFile, type TestService } from './service.ts';
import { sheetRows, wallTime } from './sheet.ts';

/** The hand-written filters a case applies; each oracle uses the ones its export has. */
export interface Filters {
  /** Predicate on a conversations alias. */
  conv(c: string): string;
  /** Predicate on an event time. */
  bh(t: string): string;
  /** Predicate on a team id expression. */
  team(t: string): string;
  /** Predicate on an agent id expression. */
  agent(a: string): string;
  campaign(c: string): string;
  includeDisabled: boolean;
  raiseLimit: boolean;
}

export const NO_FILTERS: Filters = {
  conv: () => 'true',
  bh: () => 'true',
  team: () => 'true',
  agent: () => 'true',
  campaign: () => 'true',
  includeDisabled: false,
  raiseLimit: false,
};

/**
 * An oracle in SQL: over `$1` (company id), with `{S}` and `{E}` standing for the
 * range bounds, returning the export's columns by name in the export's row
 * order; times as epoch milliseconds, everything else as text or null.
 */
export type SqlOracle = (f: Filters) => string;

/** An oracle that computes a case's rows whole: every column, named and formatted by itself, in the export's row order. */
export interface RowsOracle {
  rows(svc: TestService, c: Case, f: Filters): Promise<Rows>;
}

export type Oracle = SqlOracle | RowsOracle;

/**
 * The conversation export's oracle, conversationRows of expected.ts (the one
 * the quick start and the conversation options are checked against too);
 * `where` picks the conversations, over alias c with `$1` the company id and
 * `$2`/`$3` the range in epoch milliseconds.
 */
export function conversationOracle(where: (f: Filters) => string): RowsOracle {
  return {
    rows: (svc, c, f) =>
      conversationRows(svc.pool, { companyKey: 'demo', where: where(f), start: c.start, end: c.end, zone: c.zone, style: c.locale }),
  };
}

/** The demo company's business hours, written out: Monday–Friday 08:00–18:00 America/Chicago, not on its holidays. */
export function insideBusinessHours(t: string): string {
  const local = `((${t}) AT TIME ZONE 'America/Chicago')`;
  return `(extract(isodow FROM ${local}) BETWEEN 1 AND 5 AND ${local}::time >= '08:00' AND ${local}::time < '18:00'
           AND ${local}::date NOT IN (SELECT day FROM holidays WHERE company_id = $1))`;
}

export interface Case {
  /** `conversation_actions`, or `marketing/raw_brand_post`. */
  readonly path: string;
  readonly start: number;
  readonly end: number;
  /** Extra query parameters. */
  readonly query?: string;
  readonly columns?: readonly string[];
  readonly format?: 'csv' | 'json' | 'xlsx';
  readonly zone?: TestZone;
  readonly locale?: Style;
}

export type Rows = Record<string, string>[];

/** The export's file for a case, parsed. */
export async function exportRows(svc: TestService, c: Case): Promise<Rows> {
  const format = c.format ?? 'csv';
  const params = [
    'companyKey=demo',
    `startTime=${c.start}`,
    `endTime=${c.end}`,
    `reportFormat=${format}`,
    ...(c.columns ?? []).map((m) => `reportMetrics=${m}`),
    ...(c.zone ? ['iana' in c.zone ? `timezone=${c.zone.iana}` : `timezoneOffset=${c.zone.offsetMs}`] : []),
    ...(c.locale && c.locale !== 'ISO_8601' ? [`locale=${c.locale}`] : []),
    ...(c.query ? [c.query] : []),
  ];
  const bytes = await exportFile(svc, `${c.path}?${params.join('&')}`);
  if (format === 'xlsx') return sheetRows(bytes, (name) => columnTypes(c).get(name) ?? 'text', c.locale);
  const file = bytes.toString('utf8');
  if (format === 'json') return JSON.parse(file) as Rows;
  return parse<Record<string, string>>(file, { columns: true });
}

/** The catalog's type of each column of the case's export. */
function columnTypes(c: Case): Map<string, ColumnType> {
  const id = c.path.replace(/^marketing\//, '');
  const def = EXPORTS.find((e) => e.id === id);
  assert.ok(def, `export ${id} is in the catalog`);
  return new Map(def.columns.map((x) => [x.name, x.type]));
}

/** The oracle's rows for a case, formatted as the file should have them. */
export async function oracleRows(svc: TestService, c: Case, oracle: Oracle, filters: Partial<Filters> = {}): Promise<Rows> {
  if (c.format !== 'xlsx') return textRows(svc, c, oracle, filters);
  // A date cell holds the wall-clock time to the millisecond, whatever style shows it: the ISO text without its offset.
  const rows = await textRows(svc, { ...c, locale: 'ISO_8601' }, oracle, filters);
  const types = columnTypes(c);
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, types.get(k) === 'timestamp' && v !== '' ? wallTime(v) : v])));
}

/** The oracle's rows as CSV and JSON write them. */
async function textRows(svc: TestService, c: Case, oracle: Oracle, filters: Partial<Filters>): Promise<Rows> {
  const f = { ...NO_FILTERS, ...filters };
  if (typeof oracle !== 'function') {
    const rows = await oracle.rows(svc, c, f);
    return c.columns ? project(rows, c.columns, (v) => v as string) : rows;
  }
  const types = columnTypes(c);
  const columns = c.columns ?? [...types.keys()];
  const timestamps = new Set([...types].filter(([, type]) => type === 'timestamp').map(([name]) => name));
  const sql = oracle(f)
    .replaceAll('{S}', 'to_timestamp($2::float8 / 1000)')
    .replaceAll('{E}', 'to_timestamp($3::float8 / 1000)');
  const company = await svc.pool.query<{ id: string }>(`SELECT id FROM companies WHERE key = 'demo'`);
  const r = await svc.pool.query<Record<string, unknown>>(sql, [company.rows[0]!.id, c.start, c.end]);
  const zone = c.zone ?? { iana: 'UTC' };
  return project(r.rows, columns, (v, name) => {
    if (v === null || v === undefined) return '';
    if (timestamps.has(name)) return formatTime(Math.round(Number(v)), zone, c.locale ?? 'ISO_8601');
    assert.equal(typeof v, 'string', `the oracle gives ${name} as text`);
    return v as string;
  });
}

/** The case's columns of the oracle's rows, each value as `text` makes it. */
function project(rows: Record<string, unknown>[], columns: readonly string[], text: (v: unknown, name: string) => string): Rows {
  return rows.map((row) =>
    Object.fromEntries(
      columns.map((name) => {
        assert.ok(name in row, `the oracle gives ${name}`);
        return [name, text(row[name], name)];
      }),
    ),
  );
}

/** Runs the case and compares every row and value, in order; returns the rows. */
export async function checkCase(svc: TestService, c: Case, oracle: Oracle, filters: Partial<Filters> = {}): Promise<Rows> {
  const [got, want] = await Promise.all([exportRows(svc, c), oracleRows(svc, c, oracle, filters)]);
  assert.equal(got.length, want.length, `row count of ${c.path}?${c.query ?? ''}`);
  for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], want[i], `row ${i} of ${c.path}?${c.query ?? ''}`);
  return got;
}

/** How a filter case relates to the unfiltered export. */
export type Effect = 'changes' | 'keeps';

export interface FilterCase {
  readonly name: string;
  readonly query: string;
  readonly filters: Partial<Filters>;
  readonly effect: Effect;
}

/** Checks a filter case against the oracle, and that it removes rows (or changes values) or keeps everything. */
export async function checkFilter(svc: TestService, base: Case, oracle: Oracle, f: FilterCase, unfiltered: Rows): Promise<void> {
  const got = await checkCase(svc, { ...base, query: [base.query, f.query].filter(Boolean).join('&') }, oracle, f.filters);
  if (f.effect === 'keeps') {
    assert.deepEqual(got, unfiltered, `${f.name} keeps every row`);
  } else {
    assert.ok(got.length > 0, `${f.name} leaves some rows`);
    assert.notDeepEqual(got, unfiltered, `${f.name} removes rows (or changes the aggregates)`);
  }
}

/** The filters shared by every export whose rows belong to conversations. */
export const CONVERSATION_FILTER_CASES: readonly FilterCase[] = [
  { name: 'priorities', query: 'priorities=0%2C5', filters: { conv: (c) => `${c}.priority IN (0, 5)` }, effect: 'changes' },
  { name: 'priorities (all)', query: 'priorities=0,1,2,3,4,5', filters: {}, effect: 'keeps' },
  { name: 'workqueueIds', query: 'workqueueIds=502,504', filters: { conv: (c) => `${c}.workqueue_id IN (502, 504)` }, effect: 'changes' },
  {
    name: 'workqueueIds (all)',
    query: 'workqueueIds=501,502,503,504,505,506,507,508',
    filters: {},
    effect: 'keeps',
  },
  {
    name: 'smartViewId',
    query: 'smartViewId=9001',
    filters: { conv: (c) => `${c}.network IN ('TWITTER', 'FACEBOOK', 'INSTAGRAM') AND ${c}.priority IN (4, 5)` },
    effect: 'changes',
  },
];

export const BUSINESS_HOUR_CASES: readonly FilterCase[] = [
  { name: 'business hours (inside)', query: 'enableBusinessHour=true&businessHourType=true', filters: { bh: insideBusinessHours }, effect: 'changes' },
  { name: 'business hours (outside)', query: 'enableBusinessHour=true&businessHourType=false', filters: { bh: (t) => `NOT ${insideBusinessHours(t)}` }, effect: 'changes' },
  { name: 'business hours (off)', query: 'enableBusinessHour=false', filters: {}, effect: 'keeps' },
  {
    name: 'smart view overriding business hours',
    query: 'smartViewId=9004&enableBusinessHour=true&businessHourType=true',
    filters: { conv: (c) => `${c}.network IN ('WHATSAPP', 'SMS', 'CHAT')`, bh: (t) => `NOT ${insideBusinessHours(t)}` },
    effect: 'changes',
  },
];

/** A week early in the demo data, when agents since disabled still took conversations. */
export const WEEK_START = Date.UTC(2019, 1, 20);
export const WEEK_END = Date.UTC(2019, 1, 27);

/** The base cases every export gets: all columns as CSV (UTC, ISO 8601), as JSON (Chicago, a locale), a reordered subset, and all as xlsx. */
export function baseCases(path: string, subset: readonly string[], extra = ''): { name: string; c: Case }[] {
  const common = { path, start: WEEK_START, end: WEEK_END, ...(extra ? { query: extra } : {}) };
  return [
    { name: 'every column, CSV, UTC', c: { ...common } },
    { name: 'every column, JSON, America/Chicago, locale en', c: { ...common, format: 'json', zone: { iana: 'America/Chicago' }, locale: 'en' } },
    { name: `columns ${subset.join(', ')}, JSON, +05:30, locale de`, c: { ...common, format: 'json', columns: subset, zone: { offsetMs: 19_800_000 }, locale: 'de' } },
    { name: `columns ${subset.join(', ')}, CSV, Europe/Istanbul, locale fr`, c: { ...common, columns: subset, zone: { iana: 'Europe/Istanbul' }, locale: 'fr' } },
    { name: 'every column, xlsx, America/Chicago', c: { ...common, format: 'xlsx', zone: { iana: 'America/Chicago' } } },
  ];
}
