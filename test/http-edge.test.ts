/**
 * What a connection may cost the API, over a real socket: an ingest request
 * that is refused is answered from its headers, before its body is read,
 * and closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grant } from '../src/accounts/accounts.ts';
import { basic, startTestService } from './helpers/service.ts';
import { RawConnection } from './helpers/raw-http.ts';

const svc = await startTestService({ HOST: '127.0.0.1' }, { listen: true, worker: false });
await grant(svc.pool, 'demo2', 'INGEST');
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
