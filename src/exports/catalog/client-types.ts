/**
 * The catalog as the client package's types: for each export, the
 * parameters it takes and the columns it has, so that a call naming a
 * column the export lacks, or a filter it does not take, fails to compile.
 * Written to packages/client/src/catalog.ts by `npm run docs`; a test fails
 * when that file is out of date.
 */
import { LOCALES } from '../time-style.ts';
import { CONVERSATION_REPORT_TYPES } from './export-request.ts';
import { DEFAULT_REPORT_FORMAT, FORMULA_TRIGGERS_TEXT, REPORT_FORMATS, REPORT_FORMAT_NAMES } from './formats.ts';
import { exportPath, EXPORTS } from './index.ts';
import { COMMON_PARAMETERS, PARAMETER_DOCS } from './parameters.ts';

const ids = 'readonly (number | string)[]';
const literals = (values: readonly string[]) => values.map((v) => `'${v}'`).join(' | ');

/** The TypeScript type of each parameter's value as the client sends it (reportMetrics: per export). */
const PARAMETER_TYPES = {
  startTime: 'number',
  endTime: 'number',
  reportFormat: 'ReportFormat',
  csvEscapeFormulas: 'boolean',
  locale: literals(LOCALES),
  timezone: 'string',
  timezoneOffset: 'number',
  reportMetrics: 'never',
  conversationReportType: literals(CONVERSATION_REPORT_TYPES),
  priorities: 'readonly (0 | 1 | 2 | 3 | 4 | 5)[]',
  workqueueIds: ids,
  smartViewId: 'number | string',
  enableBusinessHour: 'boolean',
  businessHourType: 'boolean',
  raiselimit: 'boolean',
  teamIds: ids,
  teamId: ids,
  agentId: ids,
  includeDisabled: 'boolean',
  timeInterval: 'number',
  campaignIds: ids,
} as const satisfies Record<keyof typeof PARAMETER_DOCS, string>;

const typeName = (id: string) => id.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
const doc = (text: string, indent: string) => `${indent}/** ${text.replaceAll('*/', '*\\/')} */`;

/** packages/client/src/catalog.ts. */
export function renderClientCatalog(): string {
  const common = COMMON_PARAMETERS.filter((p) => p !== 'reportMetrics');
  const out = [
    '// Generated from the export catalog (src/exports/catalog) by `npm run docs`; a test fails when it is out of date.',
    '',
    `/** File formats; ${DEFAULT_REPORT_FORMAT} when a request names none. */`,
    `export const REPORT_FORMAT_NAMES = [${REPORT_FORMAT_NAMES.map((f) => `'${f}'`).join(', ')}] as const;`,
    'export type ReportFormat = (typeof REPORT_FORMAT_NAMES)[number];',
    '/** The extension of a file of each format. */',
    `export const REPORT_FORMAT_EXTENSIONS: Readonly<Record<ReportFormat, string>> = { ${REPORT_FORMAT_NAMES.map((f) => `${f}: '${REPORT_FORMATS[f].extension}'`).join(', ')} };`,
    '/** The first characters that make a spreadsheet read a text as a formula (what csvEscapeFormulas escapes). */',
    `export const FORMULA_TRIGGERS_TEXT = ${JSON.stringify(FORMULA_TRIGGERS_TEXT)};`,
    '/** Parameters every export takes. */',
    `export const COMMON_PARAMETERS = [${COMMON_PARAMETERS.map((p) => `'${p}'`).join(', ')}] as const;`,
    '',
    '/** What every create call sends: the company, the range, and how the file is written. */',
    'export interface CommonParameters {',
    doc('The company whose data is exported.', '  '),
    '  readonly companyKey: string;',
    ...common.flatMap((p) => [doc(PARAMETER_DOCS[p].description, '  '), `  readonly ${p}${PARAMETER_DOCS[p].required ? '' : '?'}: ${PARAMETER_TYPES[p]};`]),
    '}',
    '',
  ];
  for (const def of EXPORTS) {
    out.push(`/** Columns of ${exportPath(def)}: ${def.grain}. */`, `export type ${typeName(def.id)}Column = ${literals(def.columns.map((c) => c.name))};`);
  }
  out.push('', '/** Each export by its path, with the parameters it takes. */', 'export interface ExportParameters {');
  for (const def of EXPORTS) {
    out.push(doc(def.description, '  '), `  readonly '${exportPath(def)}': CommonParameters & {`);
    out.push(doc(PARAMETER_DOCS.reportMetrics.description, '    '), `    readonly reportMetrics?: readonly ${typeName(def.id)}Column[];`);
    for (const p of def.parameters) {
      out.push(doc(PARAMETER_DOCS[p].description, '    '), `    readonly ${p}${PARAMETER_DOCS[p].required ? '' : '?'}: ${PARAMETER_TYPES[p]};`);
    }
    out.push('  };');
  }
  out.push('}', '', '/** The path of an export, as in /api/public/reports/report/{path}. */', 'export type ExportPath = keyof ExportParameters;', '');
  return out.join('\n');
}
