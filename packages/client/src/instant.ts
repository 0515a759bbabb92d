/** Instants as people write them: epoch milliseconds, an ISO date-time with its offset, or a date (and time) read in a zone. */
import { secondsProblem } from './epoch-ms.ts';
import { wallTimeToEpoch } from './wall-clock.ts';

/**
 * The epoch milliseconds `text` names: epoch milliseconds as they are, an
 * ISO date-time with an offset (`2019-03-01T12:30:00Z`), or a date or date
 * and time (`2019-03-01`, `2019-03-01T08:00`) read on the wall clock of the
 * IANA `zone` (UTC when absent). Throws a RangeError naming `name` otherwise.
 */
export function parseInstant(text: string, zone: string | undefined, name = 'time'): number {
  if (/^\d{10,15}$/.test(text)) {
    const seconds = secondsProblem(name, Number(text), ' ');
    if (seconds) throw new RangeError(seconds);
    return Number(text);
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(text);
  if (!m) throw new RangeError(`${name} '${text}' is not a date: use 2019-03-01, 2019-03-01T12:30, an ISO date-time with offset, or epoch milliseconds`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', offset] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms.padEnd(3, '0')));
  if (new Date(wall).getUTCDate() !== Number(d)) throw new RangeError(`${name} '${text}' is not a calendar date`);
  if (offset) {
    const sign = offset === 'Z' ? 0 : offset.startsWith('-') ? -1 : 1;
    return wall - sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) * 60_000;
  }
  return wallTimeToEpoch(wall, zone ? { kind: 'iana', id: zone } : undefined);
}
