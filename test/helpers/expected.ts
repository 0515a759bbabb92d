/**
 * The test oracle for the conversation export, the only one its tests use:
 * rows read with a hand-written query (not the production query builder),
 * columns named here (not read from the catalog) and times formatted in
 * JavaScript with Intl (not PostgreSQL's to_char), so a fault in any of them
 * shows up as a diff. Nothing here imports the product's code.
 */
import type pg from 'pg';

export type Style = 'ISO_8601' | 'en' | 'es' | 'fr' | 'de' | 'tr';
export type TestZone = { iana: string } | { offsetMs: number };

export interface ExpectedOptions {
  companyKey: string;
  /** SQL predicate over alias c, with $1 = the company's id and $2/$3 = start/end epoch ms. */
  where: string;
  start: number;
  end: number;
  zone?: TestZone;
  style?: Style;
}

/** Every column of the conversations `where` selects, ordered as the export orders them: by creation time, then id. */
export async function conversationRows(pool: pg.Pool, o: ExpectedOptions): Promise<Record<string, string>[]> {
  const company = await pool.query<{ id: string }>(`SELECT id FROM companies WHERE key = $1`, [o.companyKey]);
  const companyId = company.rows[0]?.id;
  if (companyId === undefined) throw new Error(`no company ${o.companyKey}`);
  const r = await pool.query<Record<string, string | number | null | string[]>>(
    `SELECT c.conversation_id::text AS id, c.display_id, c.network, c.status, c.priority::text AS priority,
            c.workqueue_id::text AS workqueue_id, wq.name AS wq_name, c.assigned_agent_id::text AS agent_id,
            ag.display_id AS agent_display, ag.name AS agent_name, c.team_id::text AS team_id, tm.name AS team_name,
            c.author_id::text AS author_id, au.handle,
            extract(epoch FROM c.created_at)::float8 * 1000 AS created,
            extract(epoch FROM c.first_assigned_at)::float8 * 1000 AS assigned,
            extract(epoch FROM c.first_response_at)::float8 * 1000 AS responded,
            extract(epoch FROM c.closed_at)::float8 * 1000 AS closed,
            c.handle_time_ms::text AS handle_ms, c.reopen_count::text AS reopens, c.tags, c.sentiment,
            c.survey_score::text AS survey,
            (SELECT count(*) FROM posts p WHERE p.company_id = c.company_id AND p.conversation_id = c.conversation_id AND p.post_type = 'INCOMING')::text AS incoming,
            (SELECT count(*) FROM posts p WHERE p.company_id = c.company_id AND p.conversation_id = c.conversation_id AND p.post_type = 'RESPONSE')::text AS responses
       FROM conversations c
       LEFT JOIN work_queues wq ON wq.company_id = c.company_id AND wq.workqueue_id = c.workqueue_id
       LEFT JOIN agents ag ON ag.company_id = c.company_id AND ag.agent_id = c.assigned_agent_id
       LEFT JOIN teams tm ON tm.company_id = c.company_id AND tm.team_id = c.team_id
       LEFT JOIN authors au ON au.company_id = c.company_id AND au.author_id = c.author_id
      WHERE c.company_id = $1 AND $2::float8 IS NOT NULL AND $3::float8 IS NOT NULL AND (${o.where})
      ORDER BY c.created_at, c.conversation_id`,
    [companyId, o.start, o.end],
  );
  const zone = o.zone ?? { iana: 'UTC' };
  const style = o.style ?? 'ISO_8601';
  const t = (v: unknown) => (v === null ? '' : formatTime(Math.round(v as number), zone, style));
  const s = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  const ms = (a: unknown, b: unknown) => (a === null || b === null ? '' : String(Math.round((b as number) - (a as number))));
  const rows: Record<string, string>[] = [];
  for (const x of r.rows) {
    rows.push({
      CONVERSATION_ID: s(x['id']),
      CONVERSATION_DISPLAY_ID: s(x['display_id']),
      NETWORK: s(x['network']),
      STATUS: s(x['status']),
      PRIORITY: s(x['priority']),
      WORKQUEUE_ID: s(x['workqueue_id']),
      WORKQUEUE_NAME: s(x['wq_name']),
      ASSIGNED_AGENT_ID: s(x['agent_id']),
      ASSIGNED_AGENT_DISPLAY_ID: s(x['agent_display']),
      ASSIGNED_AGENT_NAME: s(x['agent_name']),
      TEAM_ID: s(x['team_id']),
      TEAM_NAME: s(x['team_name']),
      AUTHOR_ID: s(x['author_id']),
      AUTHOR_HANDLE: s(x['handle']),
      CREATED_TIME: t(x['created']),
      FIRST_ASSIGNED_TIME: t(x['assigned']),
      FIRST_RESPONSE_TIME: t(x['responded']),
      CLOSED_TIME: t(x['closed']),
      TIME_TO_FIRST_RESPONSE_MILLIS: ms(x['created'], x['responded']),
      HANDLE_TIME_MILLIS: s(x['handle_ms']),
      RESOLUTION_TIME_MILLIS: ms(x['created'], x['closed']),
      INCOMING_POST_COUNT: s(x['incoming']),
      RESPONSE_COUNT: s(x['responses']),
      REOPEN_COUNT: s(x['reopens']),
      TAGS: (x['tags'] as string[]).join(','),
      SENTIMENT: s(x['sentiment']),
      SURVEY_SCORE: s(x['survey']),
    });
  }
  return rows;
}

/** The same rows, by conversation id. */
export async function expectedConversations(pool: pg.Pool, o: ExpectedOptions): Promise<Map<string, Record<string, string>>> {
  return new Map((await conversationRows(pool, o)).map((row) => [row['CONVERSATION_ID']!, row]));
}

/** One formatter per zone: building an Intl.DateTimeFormat costs far more than formatting with it. */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
      second: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Formats an instant the way the export documents it, using Intl only. */
export function formatTime(ms: number, zone: TestZone, style: Style): string {
  let p: Record<string, string>;
  let offset: string;
  if ('iana' in zone) {
    const parts = formatterFor(zone.iana).formatToParts(new Date(ms));
    p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    offset = (p['timeZoneName'] ?? 'GMT').replace('GMT', '') || '+00:00';
  } else {
    const d = new Date(ms + zone.offsetMs);
    const two = (n: number) => String(n).padStart(2, '0');
    p = { year: String(d.getUTCFullYear()), month: two(d.getUTCMonth() + 1), day: two(d.getUTCDate()), hour: two(d.getUTCHours()), minute: two(d.getUTCMinutes()), second: two(d.getUTCSeconds()) };
    const abs = Math.abs(zone.offsetMs) / 60000;
    offset = `${zone.offsetMs < 0 ? '-' : '+'}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
  }
  const { year, month, day, hour, minute, second } = p as Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', string>;
  const millis = String(ms % 1000).padStart(3, '0');
  switch (style) {
    case 'ISO_8601':
      return `${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}${offset}`;
    case 'en': {
      const h = Number(hour);
      const h12 = String(h % 12 === 0 ? 12 : h % 12).padStart(2, '0');
      return `${month}/${day}/${year} ${h12}:${minute}:${second} ${h < 12 ? 'AM' : 'PM'}`;
    }
    case 'es':
    case 'fr':
      return `${day}/${month}/${year} ${hour}:${minute}:${second}`;
    case 'de':
    case 'tr':
      return `${day}.${month}.${year} ${hour}:${minute}:${second}`;
  }
}

export const OPEN_AT_END = 'c.created_at < to_timestamp($3 / 1000.0) AND (c.closed_at IS NULL OR c.closed_at >= to_timestamp($3 / 1000.0))';
export const CREATED_IN_RANGE = 'c.created_at >= to_timestamp($2 / 1000.0) AND c.created_at < to_timestamp($3 / 1000.0)';
export const CLOSED_IN_RANGE = 'c.closed_at >= to_timestamp($2 / 1000.0) AND c.closed_at < to_timestamp($3 / 1000.0)';
