/** The streaming writer: row counting across chunk boundaries and JSON framing, on real COPY output. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { testDatabase } from './helpers/db.ts';
import { writeExport } from '../src/exports/writer.ts';

const url = await testDatabase();

/** Collects what the pipeline writes. */
function sink(): { stream: Writable; text: () => string } {
  const parts: Buffer[] = [];
  return { stream: new Writable({ write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); } }), text: () => Buffer.concat(parts).toString('utf8') };
}

const rowsSql = `SELECT n::text AS "N", CASE WHEN n % 3 = 0 THEN E'multi\\nline, "quoted"' WHEN n % 3 = 1 THEN 'plain ☕' END AS "V" FROM generate_series(1, 2000) n ORDER BY n`;
const jsonSql = `SELECT '{"N":' || to_json(n::text)::text || ',"V":' || to_json(coalesce(CASE WHEN n % 2 = 0 THEN E'a\\nb "c" \\\\ é 😀' END, ''))::text || '}' FROM generate_series(1, 2000) n ORDER BY n`;

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
      const n = await writeExport(client, { rows: rowsSql, jsonRows: '', count: '' }, out.stream, { format: 'csv', zone: undefined, onRows: (r) => (seen = r) });
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
      const n = await writeExport(client, { rows: '', jsonRows: jsonSql, count: '' }, out.stream, { format: 'json', zone: undefined });
      assert.equal(n, 2000);
      const parsed = JSON.parse(out.text()) as { N: string; V: string }[];
      assert.equal(parsed.length, 2000);
      assert.deepEqual(parsed[1], { N: '2', V: 'a\nb "c" \\ é 😀' });
      assert.deepEqual(parsed[0], { N: '1', V: '' });
    }));
  it('JSON with no rows is an empty array', () =>
    withClient(async (client) => {
      const out = sink();
      const n = await writeExport(client, { rows: '', jsonRows: `SELECT '{}' WHERE false`, count: '' }, out.stream, { format: 'json', zone: undefined });
      assert.equal(n, 0);
      assert.deepEqual(JSON.parse(out.text()), []);
    }));
});
