/**
 * The service's one error type. Each code has a fixed HTTP status; the
 * message says what is wrong and how to fix it, and is safe to show the
 * caller. Anything else thrown inside a request becomes INTERNAL, whose
 * details go to the log only.
 */
export const ERROR_CODES = {
  BAD_PARAMETER: 400,
  INVALID_RECORDS: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOKEN_EXPIRED: 403,
  LINK_INVALID: 403,
  UNKNOWN_EXPORT: 404,
  RUN_NOT_FOUND: 404,
  NOT_FOUND: 404,
  RUN_NOT_COMPLETE: 409,
  RUN_CLOSED: 409,
  FILE_GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

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
    this.status = ERROR_CODES[code];
    this.headers = headers;
    this.details = details;
  }
}

export const badParameter = (message: string) => new ApiError('BAD_PARAMETER', message);
