/**
 * "Did you mean …?" for a name the caller got wrong (a parameter, an export,
 * an ingest entity): the known name it is most likely a typo of.
 */
import { distance } from 'fastest-levenshtein';

/** No name is longer; a longer one is not compared, so that the work stays small whatever is sent. */
const MAX_NAME = 64;

/**
 * The candidate `name` was most likely meant to be: equal to it but for case,
 * or else the nearest within one edit per three characters (at most three).
 * Undefined when none is that near.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  if (name.length > MAX_NAME) return undefined;
  const lower = name.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean X?` with the closest candidate, or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const near = closestName(name, candidates);
  return near === undefined ? '' : `; did you mean ${near}?`;
}
