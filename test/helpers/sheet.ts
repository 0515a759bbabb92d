/**
 * Reads an export's xlsx file with SheetJS, a reader independent of the
 * library that wrote it, into rows of text, checking on the way that each
 * cell is of the kind its column's type calls for: text (ids, text, enums,
 * booleans) a string cell, integers and durations a whole number, times a
 * date cell in the style's number format, no value an empty cell, and
 * nothing anywhere a formula. A time reads as its wall-clock value to the
 * millisecond, `2019-03-10T03:30:00.000` (see wallTime).
 */
import assert from 'node:assert/strict';
import * as XLSX from 'xlsx';
import type { ColumnType } from '../../src/exports/catalog/types.ts';
import type { Style } from './expected.ts';

export type Rows = Record<string, string>[];

/** How each time style shows a date cell: its text in CSV, less the offset. */
export const SHEET_DATE_FORMATS: Record<Style, string> = {
  ISO_8601: 'yyyy-mm-dd hh:mm:ss.000',
  en: 'mm/dd/yyyy hh:mm:ss AM/PM',
  es: 'dd/mm/yyyy hh:mm:ss',
  fr: 'dd/mm/yyyy hh:mm:ss',
  de: 'dd\\.mm\\.yyyy hh:mm:ss',
  tr: 'dd\\.mm\\.yyyy hh:mm:ss',
};

const DAY_MS = 86_400_000;
/** The serial of 1970-01-01 00:00 in a spreadsheet's 1900 date system. */
const EPOCH_SERIAL = 25569;

export function sheetRows(file: Buffer, typeOf: (column: string) => ColumnType, style: Style = 'ISO_8601'): Rows {
  const wb = XLSX.read(file, { type: 'buffer', cellFormula: true, cellNF: true });
  assert.equal(wb.SheetNames.length, 1, 'one sheet');
  const ws = wb.Sheets[wb.SheetNames[0]!]!;
  const range = XLSX.utils.decode_range(ws['!ref'] ?? 'A1:A1');
  const cell = (r: number, c: number) => ws[XLSX.utils.encode_cell({ r, c })] as XLSX.CellObject | undefined;
  const header: string[] = [];
  for (let c = 0; c <= range.e.c; c++) {
    const h = cell(0, c);
    assert.equal(h?.t, 's', `header cell ${c} is text`);
    header.push(h.v as string);
  }
  const rows: Rows = [];
  for (let r = 1; r <= range.e.r; r++) {
    const row: Record<string, string> = {};
    header.forEach((name, c) => {
      const x = cell(r, c);
      const where = `${name} of row ${r}`;
      assert.equal(x?.f, undefined, `${where} is no formula`);
      if (x?.v === undefined) {
        row[name] = '';
        return;
      }
      const type = typeOf(name);
      if (type === 'integer' || type === 'duration_ms') {
        assert.deepEqual([x.t, x.z], ['n', '0'], `${where} is a whole number`);
        row[name] = String(x.v);
      } else if (type === 'timestamp') {
        assert.deepEqual([x.t, x.z], ['n', SHEET_DATE_FORMATS[style]], `${where} is a date cell in the ${style} style`);
        row[name] = new Date(Math.round(((x.v as number) - EPOCH_SERIAL) * DAY_MS)).toISOString().slice(0, 23);
      } else {
        assert.equal(x.t, 's', `${where} is a string cell`);
        row[name] = x.v as string;
      }
    });
    rows.push(row);
  }
  return rows;
}

/** The wall-clock value of a time as an ISO 8601 text with offset gives it: `2019-03-10T03:30:00.000-05:00` is `2019-03-10T03:30:00.000`. */
export function wallTime(isoWithOffset: string): string {
  assert.match(isoWithOffset, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/);
  return isoWithOffset.slice(0, 23);
}
