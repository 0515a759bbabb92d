/**
 * Every export this service offers. The catalog is the single source of truth
 * for ids, columns and parameters.
 */
import { conversation } from './conversation.ts';
import type { ExportDef } from './types.ts';

export const EXPORTS: readonly ExportDef[] = [conversation];

const byKey = new Map(EXPORTS.map((e) => [`${e.section}/${e.id}`, e]));

/** The export at `/report/{id}` (care) or `/report/marketing/{id}`. */
export function findExport(section: 'care' | 'marketing', id: string): ExportDef | undefined {
  return byKey.get(`${section}/${id}`);
}

export type { ExportDef, ColumnDef, ParameterName, QueryContext, SmartViewFilter } from './types.ts';
