/**
 * The catalog as readers see it: the discovery endpoint's JSON and the
 * generated docs/exports.md both come from here.
 */
import { MAX_BUCKETS } from '../buckets.ts';
import { REPORT_FORMATS, SHEET_CELLS, type SheetCell } from './formats.ts';
import { exportPath, EXPORTS } from './index.ts';
import { COMMON_PARAMETERS, PARAMETER_DOCS } from './parameters.ts';
import type { ExportDef } from './types.ts';
import type { ExportDescription } from '../../../packages/client/src/index.ts';

export type { ExportDescription };

export function describeExport(def: ExportDef): ExportDescription {
  return {
    exportId: def.id,
    section: def.section,
    path: `/api/public/reports/report/${exportPath(def)}`,
    description: def.description,
    grain: def.grain,
    columns: def.columns.map((c) => ({ name: c.name, type: c.type, description: c.description })),
    parameters: [...COMMON_PARAMETERS, ...def.parameters].map((name) => {
      const doc = PARAMETER_DOCS[name];
      return { name, type: doc.type, required: doc.required ?? false, description: doc.description };
    }),
  };
}

const TYPE_NOTES: Record<string, string> = {
  id: 'numeric id',
  text: 'text',
  integer: 'integer',
  duration_ms: 'milliseconds',
  timestamp: 'time (zone and format of the request)',
  boolean: '`true` or `false`',
  enum: 'one of the listed values',
};

const SHEET_CELL_NOTES: Record<SheetCell, string> = {
  text: 'text cell',
  number: 'number cell, shown whole',
  date: 'date cell: the wall-clock time in the requested zone, shown in the time style of the request without the offset (ISO form for epoch milliseconds)',
};

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** docs/exports.md. */
export function renderExportsMarkdown(): string {
  const out: string[] = [
    '# Exports',
    '',
    '<!-- Generated from src/exports/catalog by `npm run docs`; a test fails when it is out of date. -->',
    '',
    'Every export is created with `GET` or `POST /api/public/reports/report/{path}` (see the README for the flow).',
    'Every value in a CSV or JSON file is a string: CSV has a header row, JSON is an array of flat objects. Empty values',
    'are an empty field in CSV, `""` in JSON and an empty cell in xlsx. Durations are whole milliseconds.',
    '',
    '## Formats',
    '',
    '| reportFormat | file | what it is |',
    '| --- | --- | --- |',
    ...Object.entries(REPORT_FORMATS).map(([name, f]) => `| \`${name}\` | \`.${f.extension}\` | ${cell(f.description)} |`),
    '',
    'In an xlsx file, each column type is a cell of its own kind. Ids are text: they reach 18 digits, and a spreadsheet',
    'keeps 15 significant digits of a number.',
    '',
    '| column type | xlsx cell |',
    '| --- | --- |',
    ...Object.entries(SHEET_CELLS).map(([type, kind]) => `| ${TYPE_NOTES[type] ?? type} | ${SHEET_CELL_NOTES[kind]} |`),
    '',
    'A CSV file opened in a spreadsheet runs a value such as `=HYPERLINK(…)` as a formula. `csvEscapeFormulas=true`',
    "writes such text values with a `'` before them, as OWASP recommends; without it a CSV file holds every value",
    'byte for byte, as pipelines expect. For people who open files in a spreadsheet, `reportFormat=xlsx` is the better',
    'path: nothing in it is ever read as a formula, and numbers and times stay numbers and times.',
    '',
    'Every create call names the caller\'s company with `companyKey` (required; another company\'s key is a 403), and',
    'the range with `startTime` and `endTime` in epoch milliseconds (`[startTime, endTime)`). Each export below lists',
    'every other parameter it takes.',
    '',
    '## Times',
    '',
    'Times are written in the requested `timezone` (DST-aware) or fixed `timezoneOffset`, else UTC. With `locale`, in',
    "that locale's numeric form; without it, in the company's time format (ISO 8601 with offset by default):",
    '',
    '| style | example (America/Chicago) |',
    '| --- | --- |',
    '| ISO 8601 (company default) | `2019-03-10T03:30:00.000-05:00` |',
    '| epoch milliseconds (company setting) | `1552206600000` |',
    '| `locale=en` | `03/10/2019 03:30:00 AM` |',
    '| `locale=es`, `locale=fr` | `10/03/2019 03:30:00` |',
    '| `locale=de`, `locale=tr` | `10.03.2019 03:30:00` |',
    '',
    'Region forms (`en_US`, `de-DE`) map to their language. In xlsx, a time is a date cell holding the wall-clock time',
    'in the requested zone (a date cell has no zone), shown in the same style without the offset.',
    '',
    '## Index',
    '',
    '| export | path | one row per |',
    '| --- | --- | --- |',
    ...EXPORTS.map((d) => `| [\`${d.id}\`](#${d.id}) | \`${exportPath(d)}\` | ${cell(d.grain)} |`),
    '',
  ];
  for (const def of EXPORTS) {
    const d = describeExport(def);
    out.push(`## ${d.exportId}`, '', `\`${d.path}\` — one row per ${d.grain}.`, '', d.description, '', '| column | type | meaning |', '| --- | --- | --- |');
    for (const c of d.columns) out.push(`| \`${c.name}\` | ${TYPE_NOTES[c.type] ?? c.type} | ${cell(c.description)} |`);
    out.push('', '| parameter | type | meaning |', '| --- | --- | --- |');
    for (const p of d.parameters) out.push(`| \`${p.name}\`${p.required ? ' (required)' : ''} | ${cell(p.type)} | ${cell(p.description)} |`);
    out.push('');
  }
  out.push(
    '## Rules for timeInterval',
    '',
    '- A range longer than one week allows only 28800000, 43200000, 86400000, 604800000 or months.',
    '- A range longer than one month (31 days) allows only 86400000, 604800000 or months.',
    `- At most ${MAX_BUCKETS} buckets; more fails with \`Too many buckets (N) requested. Select a larger interval?\`.`,
    '',
  );
  return out.join('\n');
}
