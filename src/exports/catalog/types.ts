/**
 * The shape of the export catalog: what an export is, declared once. The
 * request validator, the SQL builder, the file writers and discovery all read
 * these definitions; nothing about an export is written down twice.
 */
import type { ExportRequest } from '../request.ts';

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
  /** SQL expression over the export's aliases; a timestamptz for `timestamp` columns. */
  readonly sql: string;
  /** Names of the export's optional joins this expression needs. */
  readonly joins?: readonly string[];
}

/** Parameters beyond the ones every export takes (time range, format, zone, locale, columns). */
export type ParameterName =
  | 'priorities'
  | 'workqueueIds'
  | 'smartViewId'
  | 'enableBusinessHour'
  | 'businessHourType'
  | 'conversationReportType';

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

export interface ExportDef {
  readonly id: string;
  /** `care` exports live at /report/{id}, `marketing` ones at /report/marketing/{id}. */
  readonly section: 'care' | 'marketing';
  readonly description: string;
  /** What one row of the file is. */
  readonly grain: string;
  /** FROM clause with the export's main alias. */
  readonly from: string;
  /** Optional joins, added only when a selected column needs them. */
  readonly joins: Readonly<Record<string, string>>;
  readonly columns: readonly ColumnDef[];
  readonly parameters: readonly ParameterName[];
  /** Alias of the conversations table, for the conversation filters. */
  readonly conversationAlias?: string;
  /** The row-selection predicates (time range, report type). */
  rangePredicates(req: ExportRequest): string[];
  /** The event time that business-hour filters test. */
  eventTime(req: ExportRequest): string;
  /** Deterministic row order. */
  readonly orderBy: string;
}
