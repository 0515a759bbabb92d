/**
 * analyticsAccessToken: a per-run capability that stands in for companyKey on
 * the status and download calls of that one run. 16 bytes, base64: a 4-byte
 * expiry (epoch seconds) and a 12-byte HMAC over the run and that expiry.
 * Stateless, so any API node can check it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenCheck = 'ok' | 'malformed' | 'wrong-run' | 'expired';

export class AccessTokens {
  private readonly secret: Buffer;
  private readonly ttlSeconds: number;

  constructor(secret: Buffer, ttlSeconds: number) {
    this.secret = secret;
    this.ttlSeconds = ttlSeconds;
  }

  issue(runId: string, nowMs = Date.now()): string {
    const expires = Math.floor(nowMs / 1000) + this.ttlSeconds;
    const buf = Buffer.alloc(16);
    buf.writeUInt32BE(expires, 0);
    this.mac(runId, expires).copy(buf, 4);
    return buf.toString('base64');
  }

  /** Is `token` a live token for `runId`? A token of another run reads as 'wrong-run', whatever its age. */
  check(token: string, runId: string, nowMs = Date.now()): TokenCheck {
    if (!/^[A-Za-z0-9+/]{22}==$/.test(token)) return 'malformed';
    const buf = Buffer.from(token, 'base64');
    const expires = buf.readUInt32BE(0);
    if (!timingSafeEqual(buf.subarray(4), this.mac(runId, expires))) return 'wrong-run';
    return expires * 1000 < nowMs ? 'expired' : 'ok';
  }

  private mac(runId: string, expires: number): Buffer {
    return createHmac('sha256', this.secret).update(`run-token\n${runId}\n${expires}`).digest().subarray(0, 12);
  }
}
