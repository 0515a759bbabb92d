/**
 * Literal rendering for export SQL. `COPY (query) TO STDOUT` takes no bind
 * parameters, so every value enters the text as a literal: numbers are
 * validated integers, text goes through the driver's literal escaping.
 */
import pg from 'pg';


export function sqlText(value: string): string {
  return pg.escapeLiteral(value);
}

export function sqlInt(value: number | string): string {
  const s = String(value);
  if (!/^-?\d{1,19}$/.test(s)) throw new TypeError(`not an integer literal: ${s}`);
  return s;
}

/** An epoch-milliseconds instant as a timestamptz literal. */
export function sqlTimestamp(ms: number): string {
  return `'${new Date(ms).toISOString()}'::timestamptz`;
}

export function sqlIntList(values: readonly (number | string)[]): string {
  return values.map(sqlInt).join(', ');
}

export function sqlTextArray(values: readonly string[]): string {
  return `ARRAY[${values.map(sqlText).join(', ')}]::text[]`;
}

/**
 * A quoted identifier for a catalog column name (UPPER_SNAKE_CASE only), at
 * most 63 bytes: PostgreSQL would cut a longer alias, and with it a CSV
 * header or JSON key.
 */
export function sqlIdent(name: string): string {
  if (!/^[A-Z][A-Z0-9_]{0,62}$/.test(name)) throw new TypeError(`not a column name (UPPER_SNAKE_CASE, at most 63 characters): ${name}`);
  return `"${name}"`;
}
