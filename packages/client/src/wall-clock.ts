/**
 * Wall-clock time in a zone, with nothing but Intl: which local date an
 * instant falls on, and which instants a local date-time names (across DST
 * changes). The server aligns time buckets with it; the client and the
 * command line read dates such as 2019-03-01 in a zone with it.
 */

/** An IANA zone, or a fixed offset east of UTC. */
export type Zone = { kind: 'iana'; id: string } | { kind: 'offset'; offsetMs: number };

const DAY = 86_400_000;

export interface Wall {
  y: number;
  m: number;
  d: number;
}

export interface WallClock {
  wall(ms: number): Wall;
  /**
   * The instants whose local time is `wallMs` (a local date-time written as
   * UTC): one, two in a fall-back overlap, or in a spring-forward gap the
   * first instant after the gap.
   */
  instants(wallMs: number): number[];
}

export function wallClock(zone: Zone | undefined): WallClock {
  if (!zone || zone.kind === 'offset') {
    const off = zone?.kind === 'offset' ? zone.offsetMs : 0;
    return {
      wall: (ms) => utcWall(ms + off),
      instants: (w) => [w - off],
    };
  }
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: zone.id, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  /** Local time of an instant, as a UTC epoch (whole seconds kept, milliseconds carried over). */
  const local = (ms: number): number => {
    const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
    const secs = Date.UTC(p['year']!, p['month']! - 1, p['day'], p['hour'], p['minute'], p['second']);
    return secs + (((ms % 1000) + 1000) % 1000);
  };
  const offsetAt = (ms: number) => local(ms) - ms;
  return {
    wall: (ms) => utcWall(local(ms)),
    instants(w) {
      // The offsets a day either side cover any transition near w.
      const candidates = [...new Set([w - offsetAt(w - DAY), w - offsetAt(w + DAY), w - offsetAt(w)])].sort((a, b) => a - b);
      const exact = candidates.filter((t) => local(t) === w);
      if (exact.length > 0) return exact;
      // In a gap: the wall time read with the offset before the change lands just past the gap.
      return [w - offsetAt(w - DAY)];
    },
  };
}

function utcWall(ms: number): Wall {
  const d = new Date(ms);
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() };
}

/** The first instant at which the wall clock of `zone` (UTC when absent) reads `wallMs` (a local date-time written as UTC). */
export function wallTimeToEpoch(wallMs: number, zone: Zone | undefined): number {
  return wallClock(zone).instants(wallMs)[0]!;
}
