/**
 * How the command line ends: 0 when it is done, otherwise the exit code of
 * what failed. A failure the person at the command line can fix prints one
 * line and its code; anything else its stack (for a bug report) and 1.
 */
import { CareReportsError, type ErrorKind } from '../../client/src/index.ts';

/** How the command line ends when it fails (0 is success). */
export const EXIT_CODES = {
  UNEXPECTED: {
    code: 1,
    description: 'Something failed that should not have; the stack trace is printed for a bug report. Try again, and report it if it persists.',
  },
  BAD_INPUT: {
    code: 2,
    description: 'Flags, arguments, a file or the environment are wrong, the database refused an account change, or the server refused the request (a 4xx but 401 and 403); fix what the message names.',
  },
  AUTH: {
    code: 3,
    description: 'The server refused the credentials (401) or the permission (403); check the user and password, or ask an administrator for the permission.',
  },
  SERVER: {
    code: 4,
    description: 'The server failed (5xx), or the export run closed as FAILED or CANCELED; the message has the reason. Try again, and tell the operator if it persists.',
  },
  NETWORK: {
    code: 5,
    description: 'The server could not be reached, or a transfer was cut, after the retries; check the base URL and the network, and try again.',
  },
} as const satisfies Record<string, { readonly code: number; readonly description: string }>;

/** The exit codes a UserError may carry: anything expected is not UNEXPECTED. */
export type UserExit = Exclude<keyof typeof EXIT_CODES, 'UNEXPECTED'>;

/**
 * A failure the person at the command line can fix: the command prints its
 * message alone, without a stack trace, and exits with its code.
 */
export class UserError extends Error {
  override name = 'UserError';
  readonly exitCode: number;

  constructor(message: string, exit: UserExit = 'BAD_INPUT', options?: ErrorOptions) {
    super(message, options);
    this.exitCode = EXIT_CODES[exit].code;
  }
}

/** The exit code of each kind of client failure. */
const EXIT_OF_KIND = { 'bad-input': 'BAD_INPUT', 'not-found': 'BAD_INPUT', auth: 'AUTH', server: 'SERVER', network: 'NETWORK' } as const satisfies Record<ErrorKind, UserExit>;

/** What a failure prints and the exit code it ends with. */
export function describeFailure(error: unknown): { text: string; code: number } {
  if (error instanceof UserError) return { text: `care-reports: ${error.message}\n`, code: error.exitCode };
  if (error instanceof CareReportsError) return { text: `care-reports: ${error.message}\n`, code: EXIT_CODES[EXIT_OF_KIND[error.kind]].code };
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { text: `care-reports: ${text}\n`, code: EXIT_CODES.UNEXPECTED.code };
}

/**
 * Ends the process after a failure. Always explicit: open pools and timers
 * would otherwise keep the process alive.
 */
export function exitWithError(error: unknown): never {
  const { text, code } = describeFailure(error);
  process.stderr.write(text);
  process.exit(code);
}
