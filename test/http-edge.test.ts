/**
 * What a connection may cost the API, over a real socket: an ingest request
 * that is refused is answered from its headers, before its body is read,
 * and closed; a client that sends slowly gets 408 and is closed; an idle
 * keep-alive connection is closed; connections beyond the cap are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grant } from '../src/accounts/accounts.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { basic, startTestService } from './helpers/service.ts';
import { RawConnection, type RawResponse } from './helpers/raw-http.ts';

const svc = await startTestService({ HOST: '127.0.0.1' }, { listen: true, worker: false });
await grant(svc.pool, 'demo2', 'INGEST');
// A second API process on the same database, with timeouts of a second.
const slow = await startTestService(
  { HOST: '127.0.0.1', HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '1', KEEP_ALIVE_TIMEOUT_SECONDS: '1' },
  { listen: true, worker: false, databaseUrl: svc.config.databaseUrl! },
);
const MB16 = 16 * 1024 * 1024;
const ingestHead = (headers: Record<string, string | number>) =>
  `POST /api/v2/ingest/teams HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
const team = '{"id":6222,"uuid":"6f1c3e1a-2b4d-4c8e-9f00-000000006222","name":"North West","updatedAt":"2019-01-02T09:00:00Z"}\n';

/** Opens a connection to `port` for `fn`, and closes it whatever happens. */
async function withConnection<T>(fn: (c: RawConnection) => Promise<T>, port = svc.config.port): Promise<T> {
  const c = new RawConnection(port);
  try {
    await c.connected();
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** Sends `piece` every 200 ms until the server closes the connection (5 s at most): its answer, and the time it took. */
async function trickleUntilClosed(c: RawConnection, piece: string): Promise<{ response: RawResponse | undefined; ms: number }> {
  const t0 = Date.now();
  const trickle = setInterval(() => c.write(piece), 200);
  try {
    await c.until(() => c.closed, 5000, 'an answer and the connection closed');
    return { response: c.response(), ms: Date.now() - t0 };
  } finally {
    clearInterval(trickle);
  }
}

describe('an ingest request is refused from its headers', () => {
  it('no credentials: 401 before a byte of the 16 MB body is sent, and the connection closed', async () => {
    await withConnection(async (c) => {
      c.write(ingestHead({ 'Content-Length': MB16 }));
      await c.until(() => c.closed, 5000, 'answered and closed without the body');
      const r = c.response()!;
      assert.equal(r.status, 401);
      assert.equal(JSON.parse(r.body).code, 'UNAUTHENTICATED');
      assert.match(r.headers['www-authenticate'] ?? '', /^Basic /);
      assert.equal(r.headers['connection'], 'close');
    });
  });

  it('without the INGEST permission: 403 before the body, and closed', async () => {
    await withConnection(async (c) => {
      c.write(ingestHead({ 'Content-Length': MB16, ...basic('demo') }));
      await c.until(() => c.closed, 5000, 'answered and closed without the body');
      const r = c.response()!;
      assert.equal(r.status, 403);
      assert.equal(JSON.parse(r.body).code, 'FORBIDDEN');
    });
  });

  it('Expect: 100-continue is answered 401 for no credentials, and 100 Continue only for a caller who may send the body', async () => {
    await withConnection(async (c) => {
      c.write(ingestHead({ 'Content-Length': MB16, Expect: '100-continue' }));
      const r = await c.nextResponse(3000, 'a final answer');
      assert.equal(r.status, 401, 'no invitation to send the body');
      assert.doesNotMatch(c.received, /100 Continue/);
    });
    await withConnection(async (c) => {
      c.write(ingestHead({ 'Content-Length': Buffer.byteLength(team), Expect: '100-continue', ...basic('demo2') }));
      await c.until(() => c.received.includes('\r\n\r\n'), 5000, 'an interim answer');
      assert.match(c.received, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
      c.received = '';
      c.write(team);
      const r = await c.nextResponse(3000, 'the ingest answer');
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).result.received, 1);
    });
  });
});

describe('slow and idle clients', () => {
  it('a body sent one byte at a time gets 408 and is closed once the request timeout passes', async () => {
    // Credentials verified beforehand: the time goes to the body, not to the password check.
    await withConnection(async (c) => {
      c.write(`GET /api/public/teams?companyKey=demo HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basic('demo2')['Authorization']}\r\n\r\n`);
      assert.equal((await c.nextResponse(5000, 'the teams answer')).status, 200);
    }, slow.config.port);
    await withConnection(async (c) => {
      c.write(ingestHead({ 'Content-Length': 1000, ...basic('demo2') }));
      const { response, ms } = await trickleUntilClosed(c, '{');
      assert.equal(response?.status, 408);
      assert.equal(JSON.parse(response.body).code, 'REQUEST_TIMEOUT');
      assert.ok(ms >= 900, 'not before the timeout');
    }, slow.config.port);
  });

  it('headers sent one line at a time get 408 and are closed', async () => {
    await withConnection(async (c) => {
      c.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
      assert.equal((await trickleUntilClosed(c, 'X-Slow: a\r\n')).response?.status, 408);
    }, slow.config.port);
  });

  it('a keep-alive connection left idle after its answer is closed', async () => {
    await withConnection(async (c) => {
      c.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal((await c.nextResponse(3000, 'the health answer')).status, 200);
      await c.until(() => c.closed, 4000, 'closed when idle');
    }, slow.config.port);
  });

  it('connections beyond MAX_CONNECTIONS are closed as they arrive, and capacity comes back', async () => {
    const small = await startTestService({ HOST: '127.0.0.1', MAX_CONNECTIONS: '3' }, { listen: true, worker: false, databaseUrl: svc.config.databaseUrl! });
    const open = [0, 1, 2].map(() => new RawConnection(small.config.port));
    let extra: RawConnection | undefined;
    try {
      await Promise.all(open.map((c) => c.connected()));
      extra = new RawConnection(small.config.port);
      await extra.until(() => extra!.closed, 3000, 'the fourth connection closed');
      assert.equal(extra.received, '', 'closed without an answer');
      for (const c of open) {
        c.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
        assert.equal((await c.nextResponse(3000, 'a connection within the cap answers')).status, 200);
      }
    } finally {
      for (const c of open) c.destroy();
      extra?.destroy();
    }
    // The server counts the closed ones down as it sees them go.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      const c = new RawConnection(small.config.port);
      c.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      await c.until(() => c.closed, 3000, 'an answer or a refusal');
      status = c.response()?.status ?? 0;
      c.destroy();
    }
    assert.equal(status, 200);
    await small.stop();
  });

  it('timeouts and the cap are configurable, and validated', () => {
    const c = loadConfig({ HEADERS_TIMEOUT_SECONDS: '5', REQUEST_TIMEOUT_SECONDS: '20', KEEP_ALIVE_TIMEOUT_SECONDS: '2', IDLE_TIMEOUT_SECONDS: '30', MAX_CONNECTIONS: '64' });
    assert.deepEqual(c.http, { headersTimeoutMs: 5000, requestTimeoutMs: 20_000, keepAliveTimeoutMs: 2000, idleTimeoutMs: 30_000, maxConnections: 64 });
    assert.ok(Object.isFrozen(c.http));
    assert.throws(() => loadConfig({ HEADERS_TIMEOUT_SECONDS: '40', REQUEST_TIMEOUT_SECONDS: '30' }), (e: Error) => e instanceof ConfigError && /HEADERS_TIMEOUT_SECONDS/.test(e.message));
    assert.throws(() => loadConfig({ MAX_CONNECTIONS: '0' }), ConfigError);
  });
});
