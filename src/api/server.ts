/**
 * The HTTP server: one Fastify instance, one error hook that turns every
 * failure into the API's envelope, and the route groups.
 */
import formbody from '@fastify/formbody';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { isDatabaseUnreachable } from '../db/database.ts';
import { ApiError, ERROR_CODES, type ErrorCode } from '../errors.ts';
import type { HttpLimits, LoginLimits } from '../config.ts';
import type { ZoneCatalog } from '../exports/zones.ts';
import type { Logger } from '../log.ts';
import type { AccessTokens } from '../runs/access-token.ts';
import { ClosedRuns } from '../runs/closed-runs.ts';
import { Announcements } from '../db/announcements.ts';
import type { ExportStore } from '../storage/index.ts';
import { LoginThrottle } from '../accounts/login-throttle.ts';
import { PasswordChecks } from '../accounts/password-checks.ts';
import { UserCache } from '../accounts/user-cache.ts';
import { Authenticator } from './auth.ts';
import { fail } from './envelope.ts';
import { directoryRoutes } from './routes/directory.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import type { RunLimits } from '../runs/create.ts';
import { reportRoutes } from './routes/reports.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { runRoutes } from './routes/runs.ts';

export interface ServerDeps {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  readonly store: ExportStore;
  readonly zones: ZoneCatalog;
  readonly tokens: AccessTokens;
  readonly log: Logger;
  readonly publicUrl: string;
  readonly downloadUrlTtlSeconds: number;
  readonly limits: RunLimits;
  readonly http: HttpLimits;
  readonly logins: LoginLimits;
  /** Null when ready; otherwise what is not ready yet. */
  readonly notReady: () => Promise<string | null>;
}

/** Fastify's own error codes mapped to the API's. */
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message: (e: FastifyError) => string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: () => 'unsupported Content-Type; send application/x-www-form-urlencoded or application/json, or put the parameters in the query string',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: () => 'the request body is too large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'BAD_PARAMETER', message: () => 'the JSON body is empty; send an object of parameters or no Content-Type' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'BAD_PARAMETER', message: (e) => `the JSON body is malformed: ${e.message}` },
};

/**
 * Fastify's own JSON-schema compilers, loaded only if used: no route declares
 * a schema (the catalog validates parameters; the onRoute hook below keeps it
 * so), and Fastify would otherwise load them when an instance is created, a
 * sixth of a second of every start.
 */
const fastifyRequire = createRequire(import.meta.resolve('fastify'));
type Factory = (...args: unknown[]) => (route: unknown) => unknown;
const onFirstSchema = (pkg: string): Factory => (...args) => {
  let compile: ((route: unknown) => unknown) | undefined;
  return (route) => (compile ??= (fastifyRequire(pkg) as () => Factory)()(...args))(route);
};
const schemaController = {
  compilersFactory: { buildValidator: onFirstSchema('@fastify/ajv-compiler'), buildSerializer: onFirstSchema('@fastify/fast-json-stringify-compiler') },
} as unknown as NonNullable<Parameters<typeof Fastify>[0]>['schemaController'];

/** How often Node looks for requests past their headers or request timeout (its default, 30 s, would let one run that much over). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

export function buildServer(deps: ServerDeps): FastifyInstance {
  const logger: FastifyBaseLogger = deps.log;
  const app = Fastify({
    loggerInstance: logger,
    // A client that sends slowly, or not at all, holds its connection only this long (408 and closed; see answerClientError).
    http: { headersTimeout: deps.http.headersTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    requestTimeout: deps.http.requestTimeoutMs,
    keepAliveTimeout: deps.http.keepAliveTimeoutMs,
    connectionTimeout: deps.http.idleTimeoutMs,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 500, ignoreDuplicateSlashes: true },
    trustProxy: false,
    schemaController,
    clientErrorHandler: answerClientError,
    // What the router refuses (a path that is not valid UTF-8 once decoded, a path segment over the limit) in the envelope too.
    frameworkErrors: (error, _req, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : ERROR_CODES.BAD_URL.status;
      void (reply as FastifyReply).code(status).send(fail(`${error.message}; check the URL`, 'BAD_URL'));
    },
  });

  app.server.maxConnections = deps.http.maxConnections;
  // Node answers `Expect: 100-continue` at once, inviting the body before any
  // route has looked at the request. Here the body is invited only once the
  // route's checks on the headers (the ingest API's credentials) have passed;
  // a request they refuse is answered without it.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  // The lazy compilers count as custom ones to Fastify, which then handles a headers schema differently: a route
  // that declares a schema must come with Fastify's compilers loaded as usual (drop schemaController above).
  app.addHook('onRoute', (route) => {
    const s = route.schema;
    if (s && (s.body ?? s.querystring ?? s.params ?? s.headers ?? s.response) !== undefined) {
      throw new Error(`${String(route.method)} ${route.url} declares a JSON schema; load Fastify's schema compilers at start (see schemaController in api/server.ts)`);
    }
  });
  app.addHook('preParsing', async (req, reply, payload) => {
    if (/^100-continue$/i.test(req.headers.expect ?? '') && !reply.raw.headersSent) reply.raw.writeContinue();
    return payload;
  });

  app.register(formbody, { bodyLimit: 1024 * 1024 });

  app.setErrorHandler((error: FastifyError | ApiError, req, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.status).headers(error.headers).send(fail(error.message, error.code, error.details));
    }
    const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
    if (known) return reply.code(ERROR_CODES[known.code].status).send(fail(known.message(error), known.code));
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(fail(error.message, 'BAD_PARAMETER'));
    }
    if (isDatabaseUnreachable(error)) {
      req.log.error({ err: error, url: req.url }, 'database unreachable');
      return reply
        .code(ERROR_CODES.UNAVAILABLE.status)
        .send(fail(`the service cannot reach its database (request ${req.id}); try again in a moment, and tell the operator if it persists`, 'UNAVAILABLE'));
    }
    req.log.error({ err: error, url: req.url }, 'request failed');
    return reply.code(ERROR_CODES.INTERNAL.status).send(fail(`internal error (request ${req.id}); try again, and tell the operator if it persists`, 'INTERNAL'));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(ERROR_CODES.NOT_FOUND.status).send(fail(`no such endpoint: ${req.method} ${req.url.split('?')[0]}`, 'NOT_FOUND')),
  );

  const changes = new Announcements(deps.pool, (msg, err) => app.log.warn({ err }, `${msg}; users and closed runs are read on every call meanwhile`));
  const users = new UserCache(deps.pool, changes);
  const closedRuns = new ClosedRuns(changes);
  app.addHook('onReady', () => changes.start());
  app.addHook('onClose', () => changes.stop());
  const auth = new Authenticator({
    users,
    throttle: new LoginThrottle(deps.pool, deps.logins),
    checks: new PasswordChecks(deps.logins.passwordCheckConcurrency),
  });
  app.get('/healthz', async (_req, reply) => {
    const problem = await deps.notReady();
    if (problem) return reply.code(503).send({ status: 'starting', problem });
    return { status: 'ok' };
  });
  reportRoutes(app, { ...deps, auth, closedRuns });
  runRoutes(app, { ...deps, auth, closedRuns });
  ingestRoutes(app, { pool: deps.pool, auth });
  directoryRoutes(app, { ...deps, auth });
  discoveryRoutes(app, { auth });
  deps.store.routes(app);
  return app;
}

/**
 * Requests Node's HTTP parser refuses before any route sees them still get
 * the envelope: a URL and headers over the limit (431), a timeout (408),
 * anything else malformed (400).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['REQUEST_TOO_LARGE', `the URL and headers exceed ${Math.round(http.maxHeaderSize / 1024)} KB; send the parameters in a POST body (a form or JSON) instead`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['REQUEST_TIMEOUT', 'the request took too long to arrive; send it again']
        : ['BAD_REQUEST', 'the request is not valid HTTP/1.1'];
  const status = ERROR_CODES[code].status;
  const body = JSON.stringify(fail(message, code));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
