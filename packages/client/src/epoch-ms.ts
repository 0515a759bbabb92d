/**
 * Times are epoch milliseconds everywhere in the API. A value in seconds
 * (1551441600) still parses as a number, names an instant in January 1970,
 * and makes an export of nothing; the API, the SDK and the command line
 * refuse it with one message that shows the milliseconds meant.
 */

/** Below this an epoch value can only be seconds: as milliseconds it is before 1973-03-03. */
export const MIN_EPOCH_MS = 100_000_000_000;

/**
 * Why `value`, given for `name` as epoch milliseconds, must be seconds, with
 * the milliseconds the caller probably meant; undefined for a value that can
 * be milliseconds. `name=` or `--name ` is how the fix is written.
 */
export function secondsProblem(name: string, value: number, assign: '=' | ' ' = '='): string | undefined {
  if (!(value >= 0 && value < MIN_EPOCH_MS)) return undefined;
  const meant = value * 1000;
  return `${name} ${value} is in seconds, not epoch milliseconds (as milliseconds it is ${new Date(value).toISOString()}); ` +
    `give milliseconds: ${name}${assign}${meant} for ${new Date(meant).toISOString()}`;
}
