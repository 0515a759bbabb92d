/**
 * How timestamps are written in export files. The zone is set on the
 * exporting session (`TimeZone`), so `to_char` renders local time and the
 * matching offset, DST included.
 *
 * | style        | example (America/Chicago)        |
 * | ------------ | -------------------------------- |
 * | ISO_8601     | 2019-03-10T03:30:00.000-05:00    |
 * | EPOCH_MILLIS | 1552206600000                    |
 * | en           | 03/10/2019 03:30:00 AM           |
 * | es, fr       | 10/03/2019 03:30:00              |
 * | de, tr       | 10.03.2019 03:30:00              |
 */
import type { Zone } from '../../packages/client/src/wall-clock.ts';

export type { Zone };
export const LOCALES = ['en', 'es', 'fr', 'de', 'tr'] as const;
export type Locale = (typeof LOCALES)[number];
export type TimeStyle = 'ISO_8601' | 'EPOCH_MILLIS' | Locale;

const TO_CHAR: Record<Exclude<TimeStyle, 'EPOCH_MILLIS'>, string> = {
  ISO_8601: 'YYYY-MM-DD"T"HH24:MI:SS.MSTZH:TZM',
  en: 'MM/DD/YYYY HH12:MI:SS AM',
  es: 'DD/MM/YYYY HH24:MI:SS',
  fr: 'DD/MM/YYYY HH24:MI:SS',
  de: 'DD.MM.YYYY HH24:MI:SS',
  tr: 'DD.MM.YYYY HH24:MI:SS',
};

/** SQL text expression rendering the timestamptz `expr` in `style`. */
export function formatTimestampSql(expr: string, style: TimeStyle): string {
  if (style === 'EPOCH_MILLIS') return `(round(extract(epoch FROM ${expr}) * 1000)::bigint)::text`;
  return `to_char(${expr}, '${TO_CHAR[style]}')`;
}

/**
 * Number format of a spreadsheet date cell: the time as the style writes it,
 * less the offset (a date cell has no zone; it holds the wall-clock time of
 * the requested one). Epoch milliseconds read as the ISO form. A `.` other
 * than the seconds' decimal point is escaped to be read as itself. Without
 * milliseconds, a spreadsheet rounds the shown seconds where to_char
 * truncates; the cell's value keeps the milliseconds either way.
 */
const SHEET_DATE_FORMAT: Record<TimeStyle, string> = {
  ISO_8601: 'yyyy-mm-dd hh:mm:ss.000',
  EPOCH_MILLIS: 'yyyy-mm-dd hh:mm:ss.000',
  en: 'mm/dd/yyyy hh:mm:ss AM/PM',
  es: 'dd/mm/yyyy hh:mm:ss',
  fr: 'dd/mm/yyyy hh:mm:ss',
  de: 'dd\\.mm\\.yyyy hh:mm:ss',
  tr: 'dd\\.mm\\.yyyy hh:mm:ss',
};

export function sheetDateFormat(style: TimeStyle): string {
  return SHEET_DATE_FORMAT[style];
}

/** Maps `en`, `en_US`, `en-US`, `EN` … to a supported locale, or undefined. */
export function parseLocale(raw: string): Locale | undefined {
  const lang = raw.trim().toLowerCase().split(/[-_]/)[0];
  return (LOCALES as readonly string[]).includes(lang ?? '') ? (lang as Locale) : undefined;
}

/** The session TimeZone value for a zone: an IANA id, or a fixed offset in ms east of UTC. */
export function sessionTimeZone(zone: Zone): string {
  if (zone.kind === 'iana') return zone.id;
  const sign = zone.offsetMs < 0 ? '-' : '+';
  const abs = Math.abs(zone.offsetMs) / 60000;
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  // POSIX form: the abbreviation in <>, then the offset with the sign inverted (west positive).
  return `<${sign}${hhmm}>${sign === '+' ? '-' : '+'}${hhmm}`;
}

