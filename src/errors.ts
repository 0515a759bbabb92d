/**
 * The service's errors, declared once: every code the API answers with and
 * every exit code of the command line, each with what it means for the
 * caller. docs/errors.md is generated from here.
 */
import { EXIT_CODES } from '../packages/cli/src/exit.ts';

interface CodeDoc {
  /** When it is answered, and how the caller fixes it. */
  readonly description: string;
}

/**
 * Each API error code has a fixed HTTP status; the message says what is wrong
 * and how to fix it, and is safe to show the caller. Anything else thrown
 * inside a request becomes INTERNAL, whose details go to the log only.
 */
export const ERROR_CODES = {
  BAD_PARAMETER: {
    status: 400,
    description:
      'A parameter is missing, malformed (a time in seconds where epoch milliseconds are due, too), given twice, given in the query string and the body with different values, or not one the endpoint takes, or the body is empty, not UTF-8 or not valid JSON; correct what the message names.',
  },
  INVALID_RECORDS: {
    status: 400,
    description: 'Records of an ingest batch are invalid, so none was written; `errors` lists each problem by line and field: fix those records and send the batch again.',
  },
  BAD_URL: {
    status: 400,
    description: 'The path is not valid once decoded (bad percent-encoding, not UTF-8), or one of its segments is over 500 characters (answered 414); check the URL.',
  },
  BAD_REQUEST: { status: 400, description: 'The request is not valid HTTP/1.1; fix the client that sent it.' },
  UNAUTHENTICATED: {
    status: 401,
    description: 'Credentials are missing or wrong, or the user is disabled (answered with `WWW-Authenticate: Basic`); send HTTP Basic auth of an enabled user.',
  },
  FORBIDDEN: {
    status: 403,
    description: "The user lacks the permission the endpoint needs, or `companyKey` is another company's; ask an administrator to grant it, or use your own company key.",
  },
  TOKEN_EXPIRED: { status: 403, description: '`analyticsAccessToken` has expired; call the same URL with `companyKey` instead of the token.' },
  LINK_INVALID: { status: 403, description: "A file link was altered or has expired; call the run's `downloadUrl` again for a fresh link." },
  UNKNOWN_EXPORT: {
    status: 404,
    description: 'No export has that name, or it lives in the other section (Care or Publishing); list them with `GET /api/public/reports/exports`.',
  },
  RUN_NOT_FOUND: {
    status: 404,
    description: "No run of the caller's company has that workflowId and runId (another company's run looks the same); use the `statusUrl` the create call returned.",
  },
  NOT_FOUND: { status: 404, description: 'No endpoint answers that method and path, or no ingest entity has that name; check the URL against the README.' },
  REQUEST_TIMEOUT: {
    status: 408,
    description: 'The headers, or the whole request with its body, did not arrive within the server\'s time limit, and the connection was closed; send it again (a large ingest batch on a slow link: in smaller batches).',
  },
  RUN_NOT_COMPLETE: {
    status: 409,
    description:
      'The file of a run that is not complete yet (answered with `Retry-After`: seconds until it may be, estimated from its progress), or that closed without one, was asked for; poll `statusUrl` until `result.detail` is COMPLETED, or create the export again.',
  },
  RUN_CLOSED: { status: 409, description: 'A run that already closed was asked to cancel; there is nothing to cancel.' },
  FILE_GONE: { status: 410, description: "The run's file is no longer kept (files expire after a retention period); create the export again." },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    description: 'The body, or the number of records in an ingest batch, is over the limit; split it into smaller requests, or load files with `care-reports import`.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    description: 'The Content-Type or charset of the body is not accepted; send a form or JSON (ingest: NDJSON or a JSON array), encoded as UTF-8.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    description: 'The `Idempotency-Key` was used recently for a different request; use a new key for each new request.',
  },
  RATE_LIMITED: { status: 429, description: 'The user created more runs in the last minute than allowed; retry after the `Retry-After` seconds.' },
  LOGIN_THROTTLED: {
    status: 429,
    description: 'Too many failed logins for this username, or from this address, in the throttle window: every login of either is refused, the right password too, until the window ends; retry after the `Retry-After` seconds with the right password.',
  },
  REQUEST_TOO_LARGE: {
    status: 431,
    description: 'The URL and headers exceed the server\'s limit; send the parameters in a POST body (a form or JSON) instead.',
  },
  INTERNAL: {
    status: 500,
    description: 'The service failed unexpectedly; the log has the details under the request id in the message. Try again, and tell the operator if it persists.',
  },
  UNAVAILABLE: {
    status: 503,
    description: 'The service cannot reach its database; try again in a moment, and tell the operator if it persists.',
  },
  LOGINS_OVERLOADED: {
    status: 503,
    description: 'Too many logins are waiting for their password check in this API process (a flood of logins); retry after the `Retry-After` seconds. Credentials already verified are remembered for a while and are not checked again.',
  },
} as const satisfies Record<string, CodeDoc & { readonly status: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (WWW-Authenticate, Retry-After). */
  readonly headers: Readonly<Record<string, string>>;
  /** Itemised problems (e.g. each rejected record), sent as `errors` beside the message. */
  readonly details: readonly unknown[] | undefined;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}, details?: readonly unknown[]) {
    super(message);
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.headers = headers;
    this.details = details;
  }
}

export const badParameter = (message: string) => new ApiError('BAD_PARAMETER', message);

export { EXIT_CODES, UserError, type UserExit } from '../packages/cli/src/exit.ts';

/** docs/errors.md. */
export function renderErrorsMarkdown(): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  return [
    '# Errors',
    '',
    '<!-- Generated from src/errors.ts by `npm run docs`; a test fails when it is out of date. -->',
    '',
    'Every failure of the API is its envelope, with a stable `code` beside the message:',
    '',
    '    {"status":"FAIL","request":null,"message":"…","result":null,"code":"BAD_PARAMETER"}',
    '',
    'The message names what is wrong and how to fix it. An ingest batch with invalid records also carries `errors`,',
    'one `{"line", "field", "reason"}` per problem.',
    '',
    '| code | HTTP status | when, and what to do |',
    '| --- | --- | --- |',
    ...Object.entries(ERROR_CODES).map(([code, e]) => `| \`${code}\` | ${e.status} | ${cell(e.description)} |`),
    '',
    '## Command line',
    '',
    '`care-reports` exits with 0 when it is done, and otherwise:',
    '',
    '| exit code | when, and what to do |',
    '| --- | --- |',
    ...Object.values(EXIT_CODES).map((e) => `| ${e.code} | ${cell(e.description)} |`),
    '',
  ].join('\n');
}
