/**
 * Bulk loading with `COPY … FROM STDIN` (text format): rows are encoded here
 * and streamed with backpressure, so loading is bound by PostgreSQL, not by
 * per-row round trips.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export type CopyValue = string | number | bigint | boolean | Date | null | undefined | readonly string[];

export async function copyRows(
  client: pg.ClientBase,
  table: string,
  columns: readonly string[],
  rows: Iterable<readonly CopyValue[]>,
): Promise<number> {
  let count = 0;
  const lines = function* () {
    let batch = '';
    for (const row of rows) {
      batch += row.map(encodeValue).join('\t') + '\n';
      count++;
      if (batch.length > 64 * 1024) {
        yield batch;
        batch = '';
      }
    }
    if (batch) yield batch;
  };
  const sink = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(lines()), sink);
  return count;
}

function encodeValue(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'string') return escapeText(v);
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return escapeText(`{${v.map((s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`);
  return String(v);
}

function escapeText(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
