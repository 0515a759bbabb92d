/**
 * HTTP Basic authentication against API users, and the company checks that
 * follow it. A verified (username, password) pair is remembered for a short
 * while so that status polling does not pay for scrypt on every call; the
 * cache key is an HMAC of the pair, never the password itself. Users come
 * from the UserCache, which forgets them as soon as any account changes.
 */
import { createHmac, randomBytes } from 'node:crypto';
import parseBasic from 'basic-auth';
import type { FastifyRequest } from 'fastify';
import type { Company, Permission } from '../accounts/accounts.ts';
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

export class Authenticator {
  private readonly users: UserCache;
  private readonly cacheKeySecret = randomBytes(32);
  private readonly cache = new Map<string, { passwordHash: string; expires: number }>();

  constructor(users: UserCache) {
    this.users = users;
  }

  /** The caller, or a 401 with a Basic challenge. */
  async authenticate(req: FastifyRequest): Promise<Principal> {
    const creds = parseBasic(req);
    if (!creds) throw new ApiError('UNAUTHENTICATED', 'credentials are required: send HTTP Basic auth (curl -u USERNAME:PASSWORD)', CHALLENGE);
    // PostgreSQL cannot even compare such a name, and no stored username has one.
    if (creds.name.includes('\u0000') || !creds.name.isWellFormed()) throw new ApiError('UNAUTHENTICATED', 'wrong username or password', CHALLENGE);
    const key = createHmac('sha256', this.cacheKeySecret).update(`${creds.name}\0${creds.pass}`).digest('base64');
    // Disabling a user or changing a permission applies as soon as the
    // UserCache hears of it; the scrypt comparison is remembered only while
    // the stored hash is the one it was made against.
    const user = await this.users.find(creds.name);
    const hit = this.cache.get(key);
    const remembered = user !== undefined && hit !== undefined && hit.expires > Date.now() && hit.passwordHash === user.passwordHash;
    const verified = remembered || (await verifyPassword(creds.pass, user?.passwordHash ?? DECOY_HASH));
    if (!user || !verified || !user.enabled) {
      throw new ApiError('UNAUTHENTICATED', 'wrong username or password', CHALLENGE);
    }
    if (!remembered) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(key, { passwordHash: user.passwordHash, expires: Date.now() + CACHE_TTL_MS });
    }
    return { userId: user.id, username: user.username, company: user.company, permissions: user.permissions };
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
