/**
 * The time zones an export may be written in: those both PostgreSQL (which
 * renders the timestamps) and the runtime's ICU (which names them) know.
 */
import type pg from 'pg';

export interface ZoneInfo {
  id: string;
  name: string;
  shortName: string;
  offsetString: string;
  offsetMillis: number;
}

export class ZoneCatalog {
  /** PostgreSQL's zones by lower-case id; whether the runtime knows each is checked on first use (checking all of them costs a tenth of a second at every start). */
  private readonly byLower: Map<string, string>;
  private readonly known = new Map<string, boolean>();
  private readonly cache = new Map<string, { hour: number; zones: ZoneInfo[] }>();

  constructor(ids: Iterable<string>) {
    this.byLower = new Map([...ids].map((id) => [id.toLowerCase(), id]));
  }

  static async load(pool: pg.Pool): Promise<ZoneCatalog> {
    const r = await pool.query<{ name: string }>(
      `SELECT name FROM pg_timezone_names WHERE name !~ '^(posix|right)/' AND name <> 'localtime' ORDER BY name`,
    );
    return new ZoneCatalog(r.rows.map((x) => x.name));
  }

  /** Canonical spelling of a known zone id (matched case-insensitively). */
  resolve(name: string): string | undefined {
    const id = this.byLower.get(name.toLowerCase());
    return id !== undefined && this.runtimeKnows(id) ? id : undefined;
  }

  private runtimeKnows(id: string): boolean {
    let known = this.known.get(id);
    if (known === undefined) this.known.set(id, (known = runtimeKnows(id)));
    return known;
  }

  /** Every zone with its offset now and its names in `locale`, ordered by offset then id. */
  list(locale: string, nowMs = Date.now()): ZoneInfo[] {
    const hour = Math.floor(nowMs / 3_600_000);
    const hit = this.cache.get(locale);
    if (hit && hit.hour === hour) return hit.zones;
    const now = new Date(nowMs);
    const zones = [...this.byLower.values()]
      .filter((id) => this.runtimeKnows(id))
      .map((id) => {
        const offsetMillis = offsetAt(id, now);
        return {
          id,
          name: zoneName(id, locale, 'long', now),
          shortName: zoneName(id, locale, 'short', now),
          offsetString: formatOffset(offsetMillis),
          offsetMillis,
        };
      })
      .sort((a, b) => a.offsetMillis - b.offsetMillis || (a.id < b.id ? -1 : 1));
    this.cache.set(locale, { hour, zones });
    return zones;
  }
}

function runtimeKnows(id: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: id });
    return true;
  } catch {
    return false;
  }
}

function zoneName(id: string, locale: string, style: 'long' | 'short', at: Date): string {
  const parts = new Intl.DateTimeFormat(locale, { timeZone: id, timeZoneName: style }).formatToParts(at);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? id;
}

/** Offset of `id` at `at`, in ms east of UTC. */
export function offsetAt(id: string, at: Date): number {
  const name = zoneName(id, 'en', 'longOffset' as 'long', at); // "GMT-06:00", or "GMT" for zero
  const m = /GMT([+-])(\d{2}):(\d{2})(?::(\d{2}))?/.exec(name);
  if (!m) return 0;
  const ms = (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0)) * 1000;
  return m[1] === '-' ? -ms : ms;
}

function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const mins = Math.round(Math.abs(ms) / 60000);
  return `${sign}${String(Math.floor(mins / 60)).padStart(2, '0')}:${String(mins % 60).padStart(2, '0')}`;
}
