import { EXIT_CODES, UserError } from '../errors.ts';

/**
 * Ends the process after a failure: a UserError with its message and exit
 * code, anything else with its stack, for a bug report. Always explicit:
 * open pools and timers would otherwise keep the process alive.
 */
export function exitWithError(error: unknown): never {
  const text = error instanceof UserError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`care-reports: ${text}\n`);
  process.exit(error instanceof UserError ? error.exitCode : EXIT_CODES.UNEXPECTED.code);
}
