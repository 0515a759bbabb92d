/**
 * Turns the raw parameters of a create call into a validated, canonical
 * ExportRequest, or throws a BAD_PARAMETER error that names the parameter and
 * says how to fix it. What an export accepts comes from its catalog entry.
 */
import { didYouMean } from '../did-you-mean.ts';
import { badParameter } from '../errors.ts';
import { bucketCount, intervalProblem, MAX_BUCKETS, TIME_INTERVALS, WEEK, type TimeInterval } from './buckets.ts';
import { CONVERSATION_REPORT_TYPES, type ConversationReportType, type ExportRequest } from './catalog/export-request.ts';
import { DEFAULT_REPORT_FORMAT, isReportFormat, REPORT_FORMAT_NAMES } from './catalog/formats.ts';
import { COMMON_PARAMETERS, PARAMETER_DOCS, type ParameterName } from './catalog/parameters.ts';
import type { ExportDef } from './catalog/types.ts';
import { secondsProblem } from '../../packages/client/src/epoch-ms.ts';
import { parseLocale, LOCALES, type Locale, type Zone } from './time-style.ts';

// runs/ imports the request from here; the catalog owns its type.

/** Raw parameters as they arrived: every value a list (repeated keys, comma lists kept as sent). */
export type RawParams = Record<string, string[]>;

/** Parameters that only identify the caller. */
const CALLER = ['companyKey'] as const;
/** Every parameter name some export understands, so a misplaced one is told apart from a typo. */
const ALL_EXPORT_PARAMETERS: readonly string[] = Object.keys(PARAMETER_DOCS);

/** Latest instant accepted (end of year 9999). */
const MAX_TIME = 253402300799999;
const MAX_OFFSET_MS = 14 * 3600_000;
const ID_PATTERN = /^\d{1,18}$/;

export interface ParseOptions {
  /** Canonical spelling of a time zone the database knows, or undefined. */
  resolveZone(name: string): string | undefined;
}

export function parseExportRequest(def: ExportDef, raw: RawParams, opts: ParseOptions): ExportRequest {
  checkNames(def, raw);
  const startTime = epochMs(raw, 'startTime');
  const endTime = epochMs(raw, 'endTime');
  if (startTime >= endTime) {
    throw badParameter(
      `startTime (${startTime}) must be before endTime (${endTime}); the range is [startTime, endTime) in epoch milliseconds`,
    );
  }

  const format = single(raw, 'reportFormat')?.toLowerCase() ?? DEFAULT_REPORT_FORMAT;
  if (!isReportFormat(format)) {
    throw badParameter(`reportFormat '${single(raw, 'reportFormat')}' is not supported; use ${REPORT_FORMAT_NAMES.join(', ')}`);
  }
  const csvEscapeFormulas = bool(raw, 'csvEscapeFormulas') ?? false;
  if (csvEscapeFormulas && format !== 'csv') {
    throw badParameter(`csvEscapeFormulas applies to reportFormat=csv only, not ${format}; drop it, or ask for csv`);
  }

  const localeRaw = single(raw, 'locale');
  let locale: Locale | undefined;
  if (localeRaw !== undefined) {
    locale = parseLocale(localeRaw);
    if (!locale) throw badParameter(`locale '${localeRaw}' is not supported; use one of ${LOCALES.join(', ')} (region forms such as en_US are accepted)`);
  }

  const req: {
    -readonly [K in keyof ExportRequest]: ExportRequest[K];
  } = {
    exportId: def.id,
    startTime,
    endTime,
    reportFormat: format,
    columns: columns(def, raw['reportMetrics'] ?? []),
  };
  if (csvEscapeFormulas) req.csvEscapeFormulas = true;
  if (locale) req.locale = locale;
  const zone = parseZone(raw, opts);
  if (zone) req.zone = zone;

  const has = (p: ParameterName) => def.parameters.includes(p);
  if (has('conversationReportType')) {
    const t = single(raw, 'conversationReportType');
    if (t !== undefined) {
      const upper = t.toUpperCase();
      if (!(CONVERSATION_REPORT_TYPES as readonly string[]).includes(upper)) {
        throw badParameter(`conversationReportType '${t}' is not valid; use one of ${CONVERSATION_REPORT_TYPES.join(', ')}`);
      }
      req.conversationReportType = upper as ConversationReportType;
    }
  }
  if (has('priorities') && raw['priorities']) {
    const list = idList(raw, 'priorities', /^\d$/);
    const bad = list.find((p) => Number(p) > 5);
    if (bad !== undefined) throw badParameter(`priorities: ${bad} is not a priority; priorities are 0 to 5, e.g. priorities=0,1,2`);
    req.priorities = [...new Set(list.map(Number))].sort((a, b) => a - b);
  }
  if (has('workqueueIds') && raw['workqueueIds']) {
    req.workqueueIds = sortedIds(idList(raw, 'workqueueIds', ID_PATTERN));
  }
  if (has('smartViewId')) {
    const v = single(raw, 'smartViewId');
    if (v !== undefined) {
      if (!ID_PATTERN.test(v)) throw badParameter(`smartViewId '${v}' is not an id; give exactly one numeric smart view id`);
      req.smartViewId = v;
    }
  }
  if (has('enableBusinessHour')) {
    const enabled = bool(raw, 'enableBusinessHour') ?? false;
    const type = bool(raw, 'businessHourType');
    if (type !== undefined && !enabled) {
      throw badParameter('businessHourType needs enableBusinessHour=true; add it, or drop businessHourType');
    }
    if (enabled) req.businessHours = type ?? true;
  }
  if (has('raiselimit')) {
    const v = bool(raw, 'raiselimit');
    if (v) req.raiseLimit = true;
  }
  if (has('teamIds') && raw['teamIds']) req.teamIds = sortedIds(idList(raw, 'teamIds', ID_PATTERN));
  if (has('teamId') && raw['teamId']) req.teamIds = sortedIds(idList(raw, 'teamId', ID_PATTERN));
  if (has('agentId') && raw['agentId']) req.agentIds = sortedIds(idList(raw, 'agentId', ID_PATTERN));
  if (has('campaignIds') && raw['campaignIds']) req.campaignIds = sortedIds(idList(raw, 'campaignIds', ID_PATTERN));
  if (has('includeDisabled')) {
    const v = bool(raw, 'includeDisabled');
    if (v) req.includeDisabled = true;
  }
  if (has('timeInterval')) req.timeInterval = timeInterval(raw, startTime, endTime, req.zone);
  return req;
}

function timeInterval(raw: RawParams, startTime: number, endTime: number, zone: Zone | undefined): TimeInterval {
  const v = single(raw, 'timeInterval');
  const allowed = `${TIME_INTERVALS.join(', ')}, or a value above ${WEEK} for calendar months`;
  if (v === undefined || v === '') throw badParameter(`timeInterval is required: the bucket length in milliseconds, one of ${allowed}`);
  if (!/^\d{1,15}$/.test(v)) throw badParameter(`timeInterval '${v}' is not a number of milliseconds; use one of ${allowed}`);
  const n = Number(v);
  const interval: TimeInterval = n > WEEK ? 'MONTH' : n;
  if (interval !== 'MONTH' && !(TIME_INTERVALS as readonly number[]).includes(n)) {
    throw badParameter(`timeInterval ${v} is not an allowed interval; use one of ${allowed}`);
  }
  const problem = intervalProblem(interval, startTime, endTime);
  if (problem) throw badParameter(problem);
  const buckets = bucketCount(interval, startTime, endTime, zone);
  // The original API's wording, kept word for word for clients that match on it.
  if (buckets > MAX_BUCKETS) throw badParameter(`Too many buckets (${buckets}) requested. Select a larger interval?`);
  return interval;
}

function checkNames(def: ExportDef, raw: RawParams): void {
  const allowed = new Set<string>([...COMMON_PARAMETERS, ...CALLER, ...def.parameters]);
  for (const name of Object.keys(raw)) {
    if (allowed.has(name)) continue;
    if (ALL_EXPORT_PARAMETERS.includes(name)) {
      throw badParameter(
        `${name} has no meaning for the ${def.id} export; its parameters are ${[...COMMON_PARAMETERS, ...def.parameters].join(', ')}`,
      );
    }
    throw badParameter(
      `unknown parameter '${name}'${didYouMean(name, allowed)} (parameters of ${def.id}: ${[...COMMON_PARAMETERS, ...def.parameters].join(', ')})`,
    );
  }
}

/** The one value of a parameter, or undefined; given more than once, a 400. */
export function single(raw: RawParams, name: string): string | undefined {
  const values = raw[name];
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw badParameter(`${name} was given ${values.length} times; give it once`);
  return values[0];
}

function epochMs(raw: RawParams, name: 'startTime' | 'endTime'): number {
  const v = single(raw, name);
  if (v === undefined || v === '') {
    throw badParameter(`${name} is required: epoch milliseconds, e.g. ${name}=${name === 'startTime' ? 1551441600000 : 1556712000000}`);
  }
  if (!/^\d{1,15}$/.test(v) || Number(v) > MAX_TIME) {
    throw badParameter(`${name} '${v}' is not epoch milliseconds; give a whole number such as 1551441600000 (2019-03-01T12:00:00Z)`);
  }
  const seconds = secondsProblem(name, Number(v));
  if (seconds) throw badParameter(seconds);
  return Number(v);
}

function bool(raw: RawParams, name: string): boolean | undefined {
  const v = single(raw, name);
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  if (l === 'true') return true;
  if (l === 'false') return false;
  throw badParameter(`${name} '${v}' is not a boolean; use true or false`);
}

/** Comma lists, possibly repeated: `a=1,2&a=3`. */
function idList(raw: RawParams, name: string, pattern: RegExp): string[] {
  const items = (raw[name] ?? []).flatMap((v) => v.split(',')).map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) {
    throw badParameter(`${name} is malformed: give a comma-separated list such as ${name}=1,2,3 with no empty items`);
  }
  const bad = items.find((s) => !pattern.test(s));
  if (bad !== undefined) throw badParameter(`${name}: '${bad}' is not valid; give a comma-separated list of numbers such as ${name}=1,2,3`);
  return items;
}

function sortedIds(ids: string[]): string[] {
  return [...new Set(ids.map((s) => String(BigInt(s))))].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
}

function columns(def: ExportDef, asked: string[]): string[] {
  if (asked.length === 0) return def.columns.map((c) => c.name);
  const byUpper = new Map(def.columns.map((c) => [c.name, c.name]));
  const out: string[] = [];
  for (const a of asked.flatMap((v) => v.split(',')).map((s) => s.trim())) {
    const name = byUpper.get(a.toUpperCase());
    if (!name) {
      throw badParameter(
        `reportMetrics: '${a}' is not a column of the ${def.id} export; valid columns are ${def.columns.map((c) => c.name).join(', ')}`,
      );
    }
    if (out.includes(name)) throw badParameter(`reportMetrics: ${name} is asked for twice; name each column once`);
    out.push(name);
  }
  return out;
}

function parseZone(raw: RawParams, opts: ParseOptions): Zone | undefined {
  const tz = single(raw, 'timezone');
  if (tz !== undefined && tz !== '') {
    const id = opts.resolveZone(tz);
    if (!id) throw badParameter(`timezone '${tz}' is not a known IANA zone id; use one listed by /api/public/config/timezones, e.g. America/Chicago`);
    return { kind: 'iana', id };
  }
  const off = single(raw, 'timezoneOffset');
  if (off !== undefined && off !== '') {
    if (!/^[+-]?\d{1,9}$/.test(off) || Math.abs(Number(off)) > MAX_OFFSET_MS || Number(off) % 60000 !== 0) {
      throw badParameter(
        `timezoneOffset '${off}' is not valid; give milliseconds east of UTC in whole minutes within ±14 h, e.g. -21600000 for UTC-06:00`,
      );
    }
    return { kind: 'offset', offsetMs: Number(off) };
  }
  return undefined;
}
