/**
 * The shape of the export catalog: what an export is, declared once. The
 * request validator, the SQL builder, the file writers, discovery and the
 * docs page all read these definitions; nothing about an export is written
 * down twice.
 */
import type { ExportRequest } from './export-request.ts';
import type { ParameterName } from './parameters.ts';

/** How a column's value is written (every value is a string in the file). */
export type ColumnType =
  | 'id' // numeric identifier
  | 'text'
  | 'integer'
  | 'duration_ms' // milliseconds, integer
  | 'timestamp' // written in the requested zone and time style
  | 'boolean'
  | 'enum';

export interface ColumnDef {
  /** Canonical UPPER_SNAKE_CASE name, as written in headers and JSON keys. */
  readonly name: string;
  readonly type: ColumnType;
  readonly description: string;
  /** SQL expression over the source's aliases (a timestamptz for `timestamp` columns), or one built from the request. */
  readonly sql: string | ((scope: SqlScope) => string);
  /** Names of the source's optional joins this expression needs. */
  readonly joins?: readonly string[];
}

/** Values a worker looks up before building the query. */
export interface QueryContext {
  readonly companyId: string;
  /** The smart view's stored filter, when the request names one. */
  readonly smartView?: SmartViewFilter;
}

export interface SmartViewFilter {
  readonly networks?: readonly string[];
  readonly priorities?: readonly number[];
  readonly workqueueIds?: readonly string[];
  readonly tags?: readonly string[];
  /** true: inside business hours only; false: outside only. Overrides the request. */
  readonly businessHours?: boolean;
}

/**
 * What an export's source sees: the request, SQL literals of its values, and
 * the shared filters, rendered for whichever alias the export applies them to.
 */
export interface SqlScope {
  readonly req: ExportRequest;
  /** The company id literal; every table is filtered by it. */
  readonly company: string;
  /** `[startTime, endTime)` as timestamptz literals. */
  readonly start: string;
  readonly end: string;
  /** `expr` within `[start, end)`. */
  inRange(expr: string): string;
  /** Predicates on a conversations alias from priorities, workqueueIds and the smart view. */
  conversationFilters(alias: string): string[];
  /**
   * The same filters for a row that belongs to a conversation (`alias` has
   * company_id and conversation_id): a semi-join, or nothing when no filter applies.
   */
  conversationOf(alias: string): string[];
  /** The business-hours predicate on an event time (the smart view's setting wins), or none. */
  businessHours(eventTime: string): string[];
  /** Literal list of ids, for `IN (…)`. */
  ids(values: readonly string[]): string;
}

/** The FROM, WHERE and ORDER BY of an export, for one request. */
export interface RowSource {
  /** FROM clause with every join the WHERE clause needs; the row grain. */
  readonly from: string;
  /** LEFT JOINs that keep the grain, added only when a selected column names them. */
  readonly joins?: Readonly<Record<string, string>>;
  readonly where: readonly string[];
  /** Deterministic row order (unique per row). */
  readonly orderBy: string;
}

export interface ExportDef {
  readonly id: string;
  /** `care` exports live at /report/{id}, `marketing` ones at /report/marketing/{id}. */
  readonly section: 'care' | 'marketing';
  readonly description: string;
  /** What one row of the file is. */
  readonly grain: string;
  readonly columns: readonly ColumnDef[];
  /** The export's own parameters; any other export parameter is refused with a 400. */
  readonly parameters: readonly ParameterName[];
  /** Rows of the export for a request. */
  source(scope: SqlScope): RowSource;
}
