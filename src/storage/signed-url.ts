/**
 * Short-lived signed links to stored files. The link carries its expiry and
 * an HMAC over the file key and expiry, so the file server needs no session,
 * no credentials and no database lookup to check it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const FILES_PREFIX = '/files/';

export class UrlSigner {
  private readonly secret: Buffer;

  constructor(secret: Buffer) {
    this.secret = secret;
  }

  /** Path and query of a link to `key` valid until `expiresAtMs`. */
  sign(key: string, expiresAtMs: number): string {
    const expires = Math.floor(expiresAtMs / 1000);
    return `${FILES_PREFIX}${key.split('/').map(encodeURIComponent).join('/')}?expires=${expires}&signature=${this.mac(key, expires)}`;
  }

  /** 'ok', or why the link is refused. */
  verify(key: string, expires: string | undefined, signature: string | undefined, nowMs = Date.now()): 'ok' | 'invalid' | 'expired' {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return 'invalid';
    const expected = Buffer.from(this.mac(key, Number(expires)));
    if (!timingSafeEqual(expected, Buffer.from(signature))) return 'invalid';
    return Number(expires) * 1000 < nowMs ? 'expired' : 'ok';
  }

  private mac(key: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`file\n${key}\n${expires}`).digest('base64url');
  }
}
