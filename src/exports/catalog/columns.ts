/** Small helpers for writing catalog columns. */
import type { ParameterName } from './parameters.ts';
import type { ColumnDef, ColumnType } from './types.ts';

export function col(name: string, type: ColumnType, description: string, sql: ColumnDef['sql'], ...joins: string[]): ColumnDef {
  return joins.length > 0 ? { name, type, description, sql, joins } : { name, type, description, sql };
}

/** Whole milliseconds from `from` to `to` (timestamptz expressions); null when either is null. */
export const millisBetween = (from: string, to: string): string => `round(extract(epoch FROM (${to} - ${from})) * 1000)::bigint`;

/** The filters of rows that belong to a conversation. */
export const CONVERSATION_FILTERS = ['priorities', 'workqueueIds', 'smartViewId'] as const satisfies readonly ParameterName[];
export const BUSINESS_HOURS = ['enableBusinessHour', 'businessHourType'] as const satisfies readonly ParameterName[];

/** LEFT JOINs from a row alias with company_id to the care tables it names by id. */
export const joinAgent = (alias: string, on: string) => `LEFT JOIN agents ${alias} ON ${alias}.company_id = ${on.split('.')[0]}.company_id AND ${alias}.agent_id = ${on}`;
export const joinAuthor = (alias: string, on: string) => `LEFT JOIN authors ${alias} ON ${alias}.company_id = ${on.split('.')[0]}.company_id AND ${alias}.author_id = ${on}`;
