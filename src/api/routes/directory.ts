/** Reference data a client needs to build requests: time zones and teams. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { parseLocale } from '../../exports/time-style.ts';
import type { ZoneCatalog } from '../../exports/zones.ts';
import { badParameter } from '../../errors.ts';
import { checkCompanyKey, requirePermission, type Authenticator, type Principal } from '../auth.ts';
import { pass } from '../envelope.ts';

export interface DirectoryDeps {
  readonly pool: pg.Pool;
  readonly auth: Authenticator;
  readonly zones: ZoneCatalog;
}

type Query = { companyKey?: string; locale?: string };

export function directoryRoutes(app: FastifyInstance, deps: DirectoryDeps): void {
  const caller = async (req: FastifyRequest<{ Querystring: Query }>): Promise<Principal> => {
    const p = await deps.auth.authenticate(req);
    requirePermission(p, 'ANALYTICS_REPORTS_API');
    checkCompanyKey(p, typeof req.query.companyKey === 'string' ? req.query.companyKey : undefined, true);
    return p;
  };

  app.get<{ Querystring: Query }>('/api/public/config/timezones', async (req) => {
    await caller(req);
    const raw = typeof req.query.locale === 'string' ? req.query.locale : 'en';
    const locale = parseLocale(raw);
    if (!locale) throw badParameter(`locale '${raw}' is not supported; use one of en, es, fr, de, tr`);
    return pass(deps.zones.list(locale));
  });

  app.get<{ Querystring: Query }>('/api/public/teams', async (req) => {
    const p = await caller(req);
    const r = await deps.pool.query(
      `SELECT t.uuid, t.team_id::float8 AS "teamId", t.name, t.description,
              (SELECT count(*) FROM team_members m WHERE m.company_id = t.company_id AND m.team_id = t.team_id)::int AS "numberOfMembers"
         FROM teams t WHERE t.company_id = $1 ORDER BY t.team_id`,
      [p.company.id],
    );
    return pass(r.rows);
  });
}
