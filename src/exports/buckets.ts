/**
 * Time buckets of `team_performance_interval`, aligned on the wall clock of
 * the requested zone: sub-day buckets start at local multiples of the
 * interval from local midnight, days at local midnight, weeks on local Monday
 * midnight, months on the local 1st. Across a DST change a bucket keeps its
 * wall-clock bounds, so on the spring-forward day the 02:00 hour does not
 * exist and the fall-back day has two 01:00 hours; a day is 23 or 25 hours.
 * The first and last buckets are clipped to the requested range.
 */
import { wallClock, type WallClock } from '../../packages/client/src/wall-clock.ts';
import type { Zone } from './time-style.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const WEEK = 7 * DAY;
/** A range longer than this counts as "longer than one month". */
export const MONTH_RULE_MS = 31 * DAY;
export const MAX_BUCKETS = 744;

/** The allowed values of timeInterval; anything above a week means calendar months. */
export const TIME_INTERVALS = [
  5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, DAY, WEEK,
] as const;

/** A bucket length: fixed milliseconds (sub-day, day, week) or calendar months. */
export type TimeInterval = number | 'MONTH';

export interface Bucket {
  readonly start: number;
  readonly end: number;
}

/** Why an interval cannot serve a range, in the API's words; undefined when it can. */
export function intervalProblem(interval: TimeInterval, startTime: number, endTime: number): string | undefined {
  const range = endTime - startTime;
  const ms = interval === 'MONTH' ? Infinity : interval;
  if (range > MONTH_RULE_MS && ms < DAY) {
    return `timeInterval ${interval} is too short for a range longer than one month; use 86400000 (day), 604800000 (week) or a month`;
  }
  if (range > WEEK && ms < 8 * HOUR) {
    return `timeInterval ${interval} is too short for a range longer than one week; use 28800000 (8 h), 43200000, 86400000, 604800000 or a month`;
  }
  return undefined;
}

/** Number of buckets over the range; estimated without listing them when far above MAX_BUCKETS. */
export function bucketCount(interval: TimeInterval, startTime: number, endTime: number, zone: Zone | undefined): number {
  const approx = interval === 'MONTH' ? 30.44 * DAY : interval;
  const estimate = Math.ceil((endTime - startTime) / approx);
  if (estimate > MAX_BUCKETS * 2) return estimate;
  return timeBuckets(interval, startTime, endTime, zone).length;
}

/** The buckets covering `[startTime, endTime)`, in order, clipped to it. */
export function timeBuckets(interval: TimeInterval, startTime: number, endTime: number, zone: Zone | undefined): Bucket[] {
  const clock = wallClock(zone);
  const bounds = boundaries(interval, startTime, endTime, clock);
  const out: Bucket[] = [];
  for (let i = 0; i < bounds.length - 1; i++) {
    const a = bounds[i]!;
    const b = bounds[i + 1]!;
    if (b <= startTime || a >= endTime) continue;
    out.push({ start: Math.max(a, startTime), end: Math.min(b, endTime) });
  }
  return out;
}

/** Sorted, distinct bucket bounds from the bucket containing startTime to at or past endTime. */
function boundaries(interval: TimeInterval, startTime: number, endTime: number, clock: WallClock): number[] {
  const first = clock.wall(startTime);
  // Start from the local calendar day (or week, or month) that holds startTime.
  let day = Date.UTC(first.y, first.m - 1, first.d);
  if (interval === WEEK) day -= ((new Date(day).getUTCDay() + 6) % 7) * DAY;
  if (interval === 'MONTH') day = Date.UTC(first.y, first.m - 1, 1);
  const out: number[] = [];
  for (;;) {
    // `day` is a local calendar date written as a UTC midnight.
    let walls: number[];
    let next: number;
    if (interval === 'MONTH') {
      const d = new Date(day);
      walls = [day];
      next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    } else if (interval >= DAY) {
      walls = [day];
      next = day + interval;
    } else {
      walls = Array.from({ length: DAY / interval }, (_, k) => day + k * interval);
      next = day + DAY;
    }
    for (const w of walls) {
      // Calendar bounds take the first instant of their wall time; sub-day bounds take every one (two on a fall-back hour).
      const instants = clock.instants(w);
      out.push(...(interval === 'MONTH' || interval >= DAY ? instants.slice(0, 1) : instants));
    }
    if (out.length > 0 && out[out.length - 1]! >= endTime) break;
    day = next;
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

