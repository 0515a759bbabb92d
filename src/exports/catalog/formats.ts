/**
 * The file formats an export can be written in, declared once: the
 * validator takes reportFormat's values from here, the worker the file's
 * extension (which gives the download its Content-Type) and row limit,
 * discovery and the docs page their descriptions.
 */
import type { ColumnType } from './types.ts';

export interface FormatDef {
  /** Extension of the file's name. */
  readonly extension: string;
  /** Most data rows a file of this format can hold (below its header), when the format itself bounds it. */
  readonly maxRows?: number;
  /** What a file of this format is, for the docs page. */
  readonly description: string;
}

/** A spreadsheet sheet holds 1,048,576 rows; the first is the header. */
export const SHEET_MAX_DATA_ROWS = 1_048_575;

export const REPORT_FORMATS = {
  csv: {
    extension: 'csv',
    description:
      'RFC 4180, UTF-8, LF line ends, a header row; every value exactly as the database has it (see `csvEscapeFormulas` ' +
      'for files that will be opened in a spreadsheet).',
  },
  json: {
    extension: 'json',
    description: 'One array of flat objects, every value a string, `""` for no value.',
  },
  xlsx: {
    extension: 'xlsx',
    maxRows: SHEET_MAX_DATA_ROWS,
    description:
      'One Excel sheet with the header row frozen. Text is written as text cells, never as a formula; numbers as ' +
      'numbers; times as date cells holding the wall-clock time of the requested zone. No value: an empty cell. ' +
      `At most ${SHEET_MAX_DATA_ROWS.toLocaleString('en')} rows, refused at create when more.`,
  },
} as const satisfies Record<string, FormatDef>;

export type ReportFormat = keyof typeof REPORT_FORMATS;
export const REPORT_FORMAT_NAMES = Object.keys(REPORT_FORMATS) as ReportFormat[];
/** reportFormat when the request has none. */
export const DEFAULT_REPORT_FORMAT: ReportFormat = 'json';

export function isReportFormat(name: string): name is ReportFormat {
  return Object.hasOwn(REPORT_FORMATS, name);
}

/**
 * How a spreadsheet cell holds a column of each type. Ids are text: they
 * reach 18 digits and a spreadsheet keeps 15 significant digits of a number.
 */
export type SheetCell = 'text' | 'number' | 'date';
export const SHEET_CELLS: Readonly<Record<ColumnType, SheetCell>> = {
  id: 'text',
  text: 'text',
  integer: 'number',
  duration_ms: 'number',
  timestamp: 'date',
  boolean: 'text',
  enum: 'text',
};

/**
 * Characters that make a spreadsheet read a cell as a formula when a text
 * value starts with them (OWASP, CSV injection): = + - @ tab and carriage
 * return. With csvEscapeFormulas=true, such values of text cells are written
 * with a `'` before them.
 */
export const FORMULA_TRIGGERS = ['=', '+', '-', '@', '\t', '\r'] as const;
/** The triggers as the docs and help name them: `= + - @ \t \r`. */
export const FORMULA_TRIGGERS_TEXT = FORMULA_TRIGGERS.map((c) => JSON.stringify(c).slice(1, -1)).join(' ');

/** The most rows an export in `format` may have, and the refusal's explanation when it has more. */
export function rowLimit(format: ReportFormat, maxExportRows: number): { readonly rows: number; readonly exceeded: string } {
  const sheet: number | undefined = (REPORT_FORMATS[format] as FormatDef).maxRows;
  if (sheet !== undefined && sheet < maxExportRows) return { rows: sheet, exceeded: sheetFull(format, sheet) };
  return { rows: maxExportRows, exceeded: `more than the limit of ${maxExportRows} per export; ask for a shorter range or narrower filters` };
}

export function sheetFull(format: ReportFormat, rows: number): string {
  return `more than the ${rows} data rows one ${format} sheet holds; ask for a shorter range or narrower filters, or use reportFormat=csv`;
}
