import { EXIT_CODES, UserError } from '../errors.ts';

/**
 * What a failure prints and the exit code it ends with: a UserError its one
 * line and its code, anything else its stack (for a bug report) and 1.
 */
export function describeFailure(error: unknown): { text: string; code: number } {
  const text = error instanceof UserError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { text: `care-reports: ${text}\n`, code: error instanceof UserError ? error.exitCode : EXIT_CODES.UNEXPECTED.code };
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
