/**
 * Reads an export's xlsx file with SheetJS, a reader independent of the
 * library that wrote it, into rows of text as the CSV has them, checking on
 * the way that each cell is of the kind its column's type calls for: text
 * (ids, text, enums, booleans) a string cell, integers and durations a whole
 * number, times a date cell (its text as the cell's number format shows it),
 * no value an empty cell, and nothing anywhere a formula.
 */
import assert from 'node:assert/strict';
import * as XLSX from 'xlsx';
import type { ColumnType } from '../../src/exports/catalog/types.ts';

export type Rows = Record<string, string>[];

export function sheetRows(file: Buffer, typeOf: (column: string) => ColumnType): Rows {
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
        assert.equal(x.t, 'n', `${where} is a date cell`);
        assert.match(String(x.z), /yy.*hh:mm:ss/, `${where} has a date-time format`);
        row[name] = x.w ?? '';
      } else {
        assert.equal(x.t, 's', `${where} is a string cell`);
        row[name] = x.v as string;
      }
    });
    rows.push(row);
  }
  return rows;
}

/** A time as a date cell shows it: the CSV text's wall clock, without the offset the cell cannot hold. */
export function sheetTime(csvText: string): string {
  // ISO 8601 `2019-03-10T03:30:00.000-05:00` shows as `2019-03-10 03:30:00.000`; the locale forms show as they are.
  const iso = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}\.\d{3})[+-]\d{2}:\d{2}$/.exec(csvText);
  return iso ? `${iso[1]} ${iso[2]}` : csvText;
}
