/**
 * HTTP Basic authentication against API users, and the company checks that
 * follow it. A verified (username, password) pair is remembered for a short
 * while so that status polling does not pay for scrypt on every call; the
 * cache key is an HMAC of the pair, never the password itself. Users come
 * from the UserCache, which forgets them as soon as any account changes.
 *
 * A password that must be checked waits its turn among a bounded number of
 * checks (PasswordChecks), reads the failed-login count of its username and
 * address first and counts its own failure, so that a guesser is refused
 * (LoginThrottle) before scrypt runs for it. Requests with the same
 * credentials arriving while their check is under way (pollers after a
 * restart) share it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import parseBasic from 'basic-auth';
import type { FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { Company, Permission, User } from '../accounts/accounts.ts';
import type { LoginThrottle } from '../accounts/login-throttle.ts';
import type { PasswordChecks } from '../accounts/password-checks.ts';
import type { UserCache } from '../accounts/user-cache.ts';
import { DECOY_HASH, verifyPassword } from '../accounts/passwords.ts';
import { ApiError } from '../errors.ts';

export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly company: Company;
  readonly permissions: readonly Permission[];
}

const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="care-reports", charset="UTF-8"' };
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

export interface AuthenticatorDeps {
  readonly users: UserCache;
  readonly throttle: LoginThrottle;
  readonly checks: PasswordChecks;
}

export class Authenticator {
  private readonly deps: AuthenticatorDeps;
  private readonly cacheKeySecret = randomBytes(32);
  private readonly cache = new Map<string, { passwordHash: string; expires: number }>();
  /** Checks under way, by cache key: the same credentials arriving meanwhile wait for that check rather than queue their own. */
  private readonly checking = new Map<string, { verdict: Promise<boolean>; sockets: (Socket | null)[] }>();

  constructor(deps: AuthenticatorDeps) {
    this.deps = deps;
  }

  /** The caller; a 401 with a Basic challenge, or a 429 while its username or address is throttled. */
  async authenticate(req: FastifyRequest): Promise<Principal> {
    const creds = parseBasic(req);
    if (!creds) throw new ApiError('UNAUTHENTICATED', 'credentials are required: send HTTP Basic auth (curl -u USERNAME:PASSWORD)', CHALLENGE);
    // PostgreSQL cannot even compare such a name, and no stored username has one: it is only a wrong login.
    const username = creds.name.includes('\u0000') || !creds.name.isWellFormed() ? undefined : creds.name;
    const { users, throttle } = this.deps;
    // Refused before anything else, a remembered password too: else the refusal would single out the right guess.
    await throttle.refuseIfThrottled(username, req.ip, 'recent');
    const key = createHmac('sha256', this.cacheKeySecret).update(`${creds.name}\0${creds.pass}`).digest('base64');
    // Disabling a user or changing a permission applies as soon as the
    // UserCache hears of it; the scrypt comparison is remembered only while
    // the stored hash is the one it was made against.
    const user = username === undefined ? undefined : await users.find(username);
    const hit = this.cache.get(key);
    const verifiedBefore = user !== undefined && hit !== undefined && hit.passwordHash === user.passwordHash;
    const remembered = verifiedBefore && hit.expires > Date.now();
    const verified = remembered || (await this.check(key, creds.pass, username, user, req, verifiedBefore));
    if (!user || !verified || !user.enabled) {
      throw new ApiError('UNAUTHENTICATED', 'wrong username or password', CHALLENGE);
    }
    if (!remembered) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(key, { passwordHash: user.passwordHash, expires: Date.now() + CACHE_TTL_MS });
    }
    return { userId: user.id, username: user.username, company: user.company, permissions: user.permissions };
  }

  /**
   * Checks the password when its turn comes: refused if the username or
   * address is throttled by then, counted if wrong. Skipped if every client
   * waiting for it has gone; first in line if it was verified before.
   */
  private async check(
    key: string,
    password: string,
    username: string | undefined,
    user: User | undefined,
    req: FastifyRequest,
    verifiedBefore: boolean,
  ): Promise<boolean> {
    const same = this.checking.get(key);
    if (same) {
      same.sockets.push(req.raw.socket);
      return same.verdict;
    }
    const { throttle, checks } = this.deps;
    const sockets = [req.raw.socket];
    const verdict = checks.run(
      async () => {
        await throttle.refuseIfThrottled(username, req.ip, 'now');
        const ok = await verifyPassword(password, user?.passwordHash ?? DECOY_HASH);
        // Counted before the next check in line reads the count.
        if (!ok || !user) await throttle.failed(username, req.ip);
        return ok;
      },
      { gone: () => sockets.every((s) => s?.destroyed === true), verifiedBefore },
    );
    this.checking.set(key, { verdict, sockets });
    try {
      return await verdict;
    } finally {
      this.checking.delete(key);
    }
  }
}

export function requirePermission(p: Principal, permission: Permission): void {
  if (!p.permissions.includes(permission)) {
    const what = permission === 'ANALYTICS_REPORTS_API' ? 'the Analytics Reports API permission' : `the ${permission} permission`;
    throw new ApiError('FORBIDDEN', `user ${p.username} does not have ${what}; ask your administrator to grant it`);
  }
}

/** A companyKey, when given, must be the caller's own company. */
export function checkCompanyKey(p: Principal, companyKey: string | undefined, required: boolean): void {
  if (companyKey === undefined || companyKey === '') {
    if (required) throw new ApiError('BAD_PARAMETER', `companyKey is required; yours is ${p.company.key}`);
    return;
  }
  if (companyKey !== p.company.key) {
    throw new ApiError('FORBIDDEN', `companyKey '${companyKey}' is not the company of user ${p.username}; use your own company key`);
  }
}
