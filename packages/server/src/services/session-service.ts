import { randomBytes } from 'node:crypto';
import { KeyfobError } from '../errors/keyfob-error.js';
import { hmacBase64Url, hmacHex, safeEqual } from '../crypto/keys.js';
import { verifyPassword } from '../crypto/passwords.js';
import { usernameKey, type Actor, type User } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';
import { addressSubject } from '../domain/rate-limits.js';

export interface StartedSession {
  readonly user: User;
  /** Cookie value; only its HMAC is stored. */
  readonly sessionToken: string;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

/** How a session was opened, for its `auth.login` event. */
export type SignInMethod = { readonly method: 'password' } | { readonly method: 'setup' } | { readonly method: 'oidc'; readonly provider: string };

export interface ActiveSession {
  readonly user: User;
  readonly idHash: string;
}

/**
 * Console sessions: random cookie values stored as HMACs, a CSRF token derived from the session
 * (so nothing more is stored), absolute expiry.
 */
export class SessionService {
  constructor(private readonly deps: { store: Store; clock: Clock; sessionKey: Buffer; ttlSeconds: number; limiter: RateLimiter; passwordLogin: boolean }) {}

  /** Password sign-in; refused outright while KEYFOB_LOCAL_LOGIN is off. */
  async login(username: string, password: string, meta: Omit<Actor, 'userId' | 'tokenId'>): Promise<StartedSession> {
    const { store, clock, limiter } = this.deps;
    if (!this.deps.passwordLogin) throw new KeyfobError('password_login_disabled', 'password sign-in is switched off here; sign in with single sign-on');
    // Every attempt is counted before the password is checked (so parallel attempts cannot slip
    // past the limit, and a right guess past it is refused); a successful one is given back.
    const userSubject = usernameKey(username);
    const ipSubject = meta.ip === null ? undefined : addressSubject(meta.ip);
    await limiter.consume('loginFailuresPerUser', userSubject);
    if (ipSubject !== undefined) {
      await limiter.consume('loginFailuresPerIp', ipSubject).catch(async (error: unknown) => {
        await limiter.refund('loginFailuresPerUser', userSubject);
        throw error;
      });
    }
    let failed = false;
    try {
      const user = await store.repos.users.findByUsername(username);
      const passwordOk = await verifyPassword(user?.passwordHash ?? null, password);
      const now = clock.now();
      if (!user || !passwordOk || user.disabledAt !== null) {
        failed = true;
        // The attempt is not the targeted user's doing: they are the target, never the actor.
        await recordAudit(store.repos, { userId: null, tokenId: null, ...meta }, {
          action: 'auth.login_failed',
          targetType: 'user',
          ...(user ? { targetId: user.id } : {}),
          details: { username: username.slice(0, 100), reason: !user ? 'unknown_user' : user.passwordHash === null ? 'no_password' : !passwordOk ? 'bad_password' : 'disabled' },
        }, now);
        throw new KeyfobError('invalid_credentials', 'username or password is incorrect');
      }
      return await this.start(user, meta, { method: 'password' }, now);
    } finally {
      // Only failed sign-ins stay counted (a store error is not the caller's failure either).
      if (!failed) {
        await limiter.refund('loginFailuresPerUser', userSubject);
        if (ipSubject !== undefined) await limiter.refund('loginFailuresPerIp', ipSubject);
      }
    }
  }

  /** Opens a session for a user that has already proven who they are (password, first-run setup, a provider). */
  async start(user: User, meta: Omit<Actor, 'userId' | 'tokenId'>, via: SignInMethod, now = this.deps.clock.now()): Promise<StartedSession> {
    const sessionToken = randomBytes(32).toString('base64url');
    const idHash = this.hashOf(sessionToken);
    const expiresAt = now + this.deps.ttlSeconds * 1000;
    await this.deps.store.transaction(async (repos) => {
      await repos.sessions.insert({ idHash, userId: user.id, createdAt: now, expiresAt, ip: meta.ip, userAgent: meta.userAgent });
      await recordAudit(repos, { userId: user.id, tokenId: null, ...meta }, { action: 'auth.login', targetType: 'user', targetId: user.id, details: { ...via } }, now);
    });
    return { user, sessionToken, csrfToken: this.csrfTokenFor(idHash), expiresAt };
  }

  /** The session behind a cookie value, or undefined when unknown, expired or the user is disabled. */
  async resolve(sessionToken: string): Promise<ActiveSession | undefined> {
    const { store, clock } = this.deps;
    const idHash = this.hashOf(sessionToken);
    const session = await store.repos.sessions.find(idHash);
    if (!session) return undefined;
    if (session.expiresAt <= clock.now()) {
      await store.repos.sessions.delete(idHash);
      return undefined;
    }
    const user = await store.repos.users.findById(session.userId);
    if (!user || user.disabledAt !== null) return undefined;
    return { user, idHash };
  }

  csrfTokenFor(idHash: string): string {
    return hmacBase64Url(this.deps.sessionKey, `csrf:${idHash}`);
  }

  checkCsrf(idHash: string, presented: string | undefined): boolean {
    return presented !== undefined && safeEqual(this.csrfTokenFor(idHash), presented);
  }

  async logout(actor: Actor, idHash: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      await repos.sessions.delete(idHash);
      await recordAudit(repos, actor, { action: 'auth.logout', targetType: 'user', ...(actor.userId ? { targetId: actor.userId } : {}) }, now);
    });
  }

  private hashOf(sessionToken: string): string {
    return hmacHex(this.deps.sessionKey, `session:${sessionToken}`);
  }
}
