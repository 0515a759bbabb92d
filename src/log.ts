/**
 * Structured logs (JSON lines on stdout), shared by the API and the workers.
 *
 * No line carries a secret: every line is redacted as a whole just before it
 * is written, whatever logged it and however deep the secret sits (a URL in
 * a message or an error's stack as much as a field) — the signature of a
 * file link, an analyticsAccessToken, an Authorization header or password
 * field, the token of Basic or Bearer credentials, the password of a URL.
 */
import type { DestinationStream } from 'pino';
import { pino } from 'pino';

export type Logger = pino.Logger;

const REDACTED = '[REDACTED]';

const SECRETS: readonly [RegExp, string][] = [
  // Query parameters, in a URL or a query string: up to the next separator or the end of the JSON string.
  [/([?&;](?:signature|analyticsAccessToken)=)[^&;#\s"\\]*/gi, `$1${REDACTED}`],
  // Fields named for credentials, at any depth: the whole JSON string value.
  [/("(?:authorization|proxy-authorization|cookie|password|pass|passwd|secret)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${REDACTED}"`],
  // Credentials as they appear in an Authorization header, wherever the header's value went.
  [/\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{8,}/g, `$1 ${REDACTED}`],
  // The password of a URL (a connection string).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"]*:)[^@/\s"]*@/gi, `$1${REDACTED}@`],
];

/** One serialized log line with every secret replaced by [REDACTED]. */
export function redactSecrets(line: string): string {
  let out = line;
  for (const [pattern, replacement] of SECRETS) out = out.replace(pattern, replacement);
  return out;
}

export function createLogger(level: string, name = 'care-reports', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = { name, level, hooks: { streamWrite: redactSecrets } };
  return destination ? pino(options, destination) : pino(options);
}
