/**
 * The xlsx file of an export: PostgreSQL streams each row as one JSON array
 * of typed cells (COPY), and exceljs's streaming WorkbookWriter turns them
 * into sheet XML and deflates it into the file as the rows arrive. Text goes
 * into inline string cells, which a spreadsheet never evaluates; numbers into
 * number cells; times into date cells.
 *
 * Memory: exceljs's sheet stream does not pass backpressure on (it writes
 * into the zip's input however full that is), so after each chunk from the
 * database this sink waits until the zip has taken what it holds. Only then
 * does it ask for more rows, and the database socket waits in turn.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { CellRichTextValue, Style, Workbook, Worksheet } from 'exceljs';
import { REPORT_FORMATS, sheetFull } from './catalog/formats.ts';
import type { SheetQuery } from './query.ts';

/** More rows than a sheet holds: the file is not written rather than cut short. */
export class SheetFullError extends Error {
  override name = 'SheetFullError';
}

const NL = 0x0a;
/** Numbers are whole (counts, milliseconds): shown in full, never as 1.2E+10. */
const NUMBER_FORMAT = '0';

/** A value as the database sends it (text, number, null), then as the sheet takes it. */
type Cell = string | number | Date | CellRichTextValue | null;

export interface SheetOptions {
  /** Called with the running row count as rows pass (per chunk). */
  readonly onRows?: ((rows: number) => void) | undefined;
  /** Most data rows (default: what one sheet holds); one more fails the file with a SheetFullError. */
  readonly maxRows?: number;
}

/**
 * A writable for the bytes of `COPY (sheet.rows) TO STDOUT` (one JSON array
 * per line), writing the workbook into `out`, which it ends. `rows` counts
 * the data rows written.
 */
export async function openSheetWriter(out: Writable, sheet: SheetQuery, opts: SheetOptions = {}): Promise<SheetWriter> {
  // Loaded on the first spreadsheet export only: exceljs takes most of a second to load.
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  return new SheetWriter(workbook, out, sheet, opts);
}

/** What the exceljs streaming writer's types leave out: each sheet's stream and the zip it feeds. */
interface StreamingWorkbook extends Workbook {
  commit(): Promise<void>;
  readonly zip: NodeJS.EventEmitter & { abort(): void };
}
interface StreamingSheet extends Worksheet {
  commit(): void;
  /** exceljs's StreamBuf; `pipes[0]` is the zip's input for this sheet. */
  readonly stream: { readonly pipes: (NodeJS.EventEmitter & { readonly _writableState: { needDrain: boolean } })[] };
}

export class SheetWriter extends Writable {
  rows = 0;
  private readonly workbook: StreamingWorkbook;
  private readonly sheet: StreamingSheet;
  private readonly dates: readonly boolean[];
  /** Each column's cell style, one object per column. */
  private readonly styles: readonly Partial<Style>[];
  private readonly onRows: ((rows: number) => void) | undefined;
  private readonly maxRows: number;
  /** The bytes of a line that continues in the next chunk. */
  private rest: Buffer = Buffer.alloc(0);

  constructor(workbook: Workbook, out: Writable, layout: SheetQuery, opts: SheetOptions) {
    super();
    this.workbook = workbook as StreamingWorkbook;
    this.onRows = opts.onRows;
    this.maxRows = opts.maxRows ?? REPORT_FORMATS.xlsx.maxRows;
    this.dates = layout.columns.map((c) => c.cell === 'date');
    this.styles = layout.columns.map((c): Partial<Style> => (c.cell === 'date' ? { numFmt: layout.dateFormat } : c.cell === 'number' ? { numFmt: NUMBER_FORMAT } : {}));
    // The file and the zip fail into this stream, so that whoever pipes into it sees the error.
    out.on('error', (e: Error) => this.destroy(e));
    this.workbook.zip.on('error', (e: Error) => this.destroy(e));
    this.workbook.creator = this.workbook.lastModifiedBy = 'care-reports';
    this.sheet = this.workbook.addWorksheet(layout.name, { views: [{ state: 'frozen', xSplit: 0, ySplit: 1 }] }) as StreamingSheet;
    this.sheet.columns = layout.columns.map((c) => ({
      key: c.name,
      // Wide enough for the name and for a whole time: a narrower date column shows ####.
      width: Math.max(c.name.length, c.cell === 'date' ? layout.dateFormat.length : 10) + 2,
    }));
    const header = this.sheet.addRow(layout.columns.map((c) => c.name));
    header.font = { bold: true };
    header.commit();
    if (this.sheet.stream.pipes.length !== 1) throw new Error('exceljs: the sheet stream is not piped into the zip as this version does');
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const buf = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    try {
      for (let nl = buf.indexOf(NL, start); nl >= 0; nl = buf.indexOf(NL, start)) {
        this.addRow(buf.toString('utf8', start, nl));
        start = nl + 1;
      }
    } catch (e) {
      done(e as Error);
      return;
    }
    // A copy: the chunk's memory is not kept alive for a few bytes.
    this.rest = Buffer.from(buf.subarray(start));
    this.onRows?.(this.rows);
    const zipInput = this.sheet.stream.pipes[0]!;
    if (!zipInput._writableState.needDrain) {
      done();
      return;
    }
    once(zipInput, 'drain').then(
      () => done(),
      (e: unknown) => done(e as Error),
    );
  }

  override _final(done: (e?: Error | null) => void): void {
    if (this.rest.length > 0) {
      done(new Error('the row stream ended inside a row'));
      return;
    }
    this.sheet.commit();
    this.workbook.commit().then(
      () => done(),
      (e: unknown) => done(e as Error),
    );
  }

  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    if (error) this.workbook.zip.abort();
    done(error);
  }

  private addRow(line: string): void {
    if (this.rows >= this.maxRows) {
      // Only rows that arrived after the export was counted (and refused at create when too many) get here.
      throw new SheetFullError(`the export has ${sheetFull('xlsx', this.maxRows)}`);
    }
    const cells = JSON.parse(line) as Cell[];
    for (let i = 0; i < cells.length; i++) {
      const v = cells[i]!;
      // No value, or an empty text: an empty cell, as CSV and JSON write both alike.
      if (v === '') cells[i] = null;
      // An inline string (a rich text of one run): a string value exceljs would write as a formula's cached
      // result, whose spaces LibreOffice trims and whose _xHHHH_ escapes it does not read.
      else if (typeof v === 'string') cells[i] = { richText: [{ text: sheetText(v) }] };
      else if (typeof v === 'number' && this.dates[i]) cells[i] = new Date(v);
    }
    const row = this.sheet.addRow(cells);
    // One style object per column: exceljs then finds each cell's style id by identity, not by rendering it.
    for (let i = 0; i < cells.length; i++) row.getCell(i + 1).style = this.styles[i]!;
    row.commit();
    this.rows++;
  }
}

/**
 * Control characters other than tab, LF and CR (XML cannot hold most of them,
 * and exceljs drops them), and a `_` that would start an `_xHHHH_` escape.
 */
const ESCAPED = /[^\P{Cc}\t\n\r]|_(?=x[0-9a-f]{4}_)/giu;

/**
 * Text as a spreadsheet string holds it (ECMA-376 ST_Xstring): such a
 * character is written `_xHHHH_` (a `_` as `_x005F_`), so that every string
 * reads back as it was.
 */
function sheetText(s: string): string {
  return s.replace(ESCAPED, (c) => `_x${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}_`);
}
