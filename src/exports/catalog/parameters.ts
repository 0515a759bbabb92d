/**
 * What each create parameter means, for discovery and the docs page. The
 * validator in ../request.ts enforces these rules; the catalog says which
 * export takes which.
 */
import { DEFAULT_REPORT_FORMAT, FORMULA_TRIGGERS_TEXT, REPORT_FORMAT_NAMES } from './formats.ts';

export const COMMON_PARAMETERS = ['startTime', 'endTime', 'reportFormat', 'csvEscapeFormulas', 'locale', 'timezone', 'timezoneOffset', 'reportMetrics'] as const;
export type CommonParameter = (typeof COMMON_PARAMETERS)[number];

export interface ParameterDoc {
  readonly type: string;
  readonly required?: boolean;
  readonly description: string;
}

/** Keeps the names of the parameters as a type while every entry reads as a ParameterDoc. */
const documented = <Name extends string>(docs: Readonly<Record<Name | CommonParameter, ParameterDoc>>) => docs;

/** Every parameter some export takes; a parameter exists by being documented here. */
export const PARAMETER_DOCS = documented({
  startTime: { type: 'epoch milliseconds', required: true, description: 'Start of the range, inclusive.' },
  endTime: { type: 'epoch milliseconds', required: true, description: 'End of the range, exclusive; after startTime.' },
  reportFormat: {
    type: REPORT_FORMAT_NAMES.join(' | '),
    description: `File format, case-insensitive; ${DEFAULT_REPORT_FORMAT} when absent. xlsx: a spreadsheet whose cells are never read as formulas.`,
  },
  csvEscapeFormulas: {
    type: 'boolean',
    description:
      `With reportFormat=csv: a text value that starts with ${FORMULA_TRIGGERS_TEXT} ` +
      "is written with a ' before it, so that a spreadsheet opening the file shows it as text instead of running it as a formula. " +
      'Default false: every value exactly as stored.',
  },
  locale: {
    type: 'en | es | fr | de | tr',
    description: "Writes times in that locale's numeric form (en_US and en-US map to en); absent: the company's time format.",
  },
  timezone: { type: 'IANA zone id', description: 'Zone times are written in, DST-aware (see /api/public/config/timezones); absent: timezoneOffset, else UTC.' },
  timezoneOffset: { type: 'milliseconds', description: 'Fixed offset east of UTC, whole minutes within ±14 h; used when timezone is absent.' },
  reportMetrics: {
    type: 'column name, repeated',
    description: 'Columns of the file in this order, matched case-insensitively; absent: every column.',
  },
  conversationReportType: {
    type: 'OPEN_AT_END | CLOSED | CREATED',
    description: 'Conversations open at endTime (default), closed in the range, or created in the range.',
  },
  priorities: { type: 'comma list of 0–5', description: "Only rows of conversations whose current priority is one of these." },
  workqueueIds: { type: 'comma list of ids', description: "Only rows of conversations currently in one of these work queues." },
  smartViewId: { type: 'id', description: "Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's." },
  enableBusinessHour: { type: 'boolean', description: 'Filters rows by whether their event time falls in the company business hours (see businessHourType).' },
  businessHourType: {
    type: 'boolean',
    description: 'With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside.',
  },
  raiselimit: { type: 'boolean', description: 'Caps each conversation at 2,000 actions instead of 500.' },
  teamIds: { type: 'comma list of team ids', description: 'Only rows of these teams.' },
  teamId: { type: 'team id, repeated or comma list', description: 'Only agents who are members of one of these teams.' },
  agentId: { type: 'agent id, repeated or comma list', description: 'Only these agents.' },
  includeDisabled: { type: 'boolean', description: 'Also rows of disabled agents and teams, which are left out by default.' },
  timeInterval: {
    type: 'milliseconds',
    required: true,
    description:
      'Bucket length: 300000, 600000, 900000, 1800000, 3600000, 7200000, 14400000, 28800000, 43200000, 86400000, 604800000, ' +
      'or any value above one week for calendar months. Buckets are aligned in the requested zone.',
  },
  campaignIds: { type: 'comma list of campaign ids', description: 'Only brand posts of these campaigns.' },
});

/** Parameters beyond the ones every export takes (time range, format, zone, locale, columns). */
export type ParameterName = Exclude<keyof typeof PARAMETER_DOCS, CommonParameter>;
