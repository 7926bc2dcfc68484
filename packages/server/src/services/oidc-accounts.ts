import { randomBytes } from 'node:crypto';
import type { Role } from '@keyfob/protocol';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import type { OidcProviderConfig } from '../config/sign-in.js';
import { displayNameOf, isAdminByClaims, judgeEmail, usernameCandidates } from '../domain/oidc-claims.js';
import type { Actor, User } from '../domain/models.js';
import { KeyfobError } from '../errors/keyfob-error.js';
import { isStoreUnavailableError } from '../errors/store-errors.js';
import type { Repositories, Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import type { VerifiedIdentity } from './oidc-clients.js';
import { insertUser } from './user-service.js';

type Meta = Omit<Actor, 'userId' | 'tokenId'>;

type Linked = { readonly ok: true; readonly user: User; readonly roleChanged: boolean } | { readonly ok: false; readonly user: User };

// Two first sign-ins of one person racing on PostgreSQL: the loser's insert breaks a unique key,
// and its retry finds the winner's link.
const ATTEMPTS = 3;

/**
 * The keyfob account behind a verified OpenID Connect identity. Linked by issuer and subject only,
 * never by email: an email match would let whoever controls an address at any configured provider
 * take over the local account that has it. Creates the account on first sign-in, refuses disabled
 * accounts and emails outside the provider's allowed domains, and, where the provider has an admin
 * claim, sets the role from it on every sign-in (the provider is the source of truth, promotion and
 * demotion alike).
 *
 * Does NOT check the identity itself (signature, issuer, audience, nonce): OidcClients did.
 */
export class OidcAccounts {
  constructor(private readonly deps: { store: Store; clock: Clock; bus: InvalidationBus }) {}

  async signIn(provider: OidcProviderConfig, identity: VerifiedIdentity, meta: Meta): Promise<User> {
    const { store, clock } = this.deps;
    const verdict = judgeEmail(identity.claims, provider.allowedDomains);
    if (!verdict.ok) {
      const linked = await store.repos.identities.find(identity.issuer, identity.subject);
      await this.recordFailure(provider, meta, verdict.reason, linked?.userId);
      throw new KeyfobError('oidc_email_not_allowed', `${provider.label} did not vouch for an email address in a domain allowed here`);
    }
    const role: Role | undefined = provider.adminClaim === undefined ? undefined : isAdminByClaims(identity.claims, provider.adminClaim) ? 'admin' : 'user';

    let linked: Linked | undefined;
    for (let attempt = 1; linked === undefined; attempt++) {
      const now = clock.now();
      try {
        linked = await store.transaction((repos) => this.link(repos, provider, identity, verdict.email, role, meta, now));
      } catch (error) {
        if (attempt >= ATTEMPTS || error instanceof KeyfobError || isStoreUnavailableError(error)) throw error;
      }
    }
    if (!linked.ok) {
      await this.recordFailure(provider, meta, 'disabled', linked.user.id);
      throw new KeyfobError('oidc_account_disabled', 'the keyfob account of this identity is disabled');
    }
    if (linked.roleChanged) this.deps.bus.applyLocal({ kind: 'user', id: linked.user.id });
    return linked.user;
  }

  private async link(repos: Repositories, provider: OidcProviderConfig, identity: VerifiedIdentity, email: string | null, role: Role | undefined, meta: Meta, now: number): Promise<Linked> {
    const actor: Actor = { userId: null, tokenId: null, ...meta };
    const link = await repos.identities.find(identity.issuer, identity.subject);
    const existing = link && (await repos.users.findById(link.userId));
    if (!existing) {
      // Before setup the first account becomes the only way to an admin: only an identity the
      // admin claim makes admin may take that place, never whoever reaches the provider first.
      if (role !== 'admin' && (await repos.users.count()) === 0) {
        throw new KeyfobError('oidc_setup_needed', 'keyfob has no user yet: finish first-run setup (or sign in with an identity the admin claim makes admin) first');
      }
      const username = await freeUsername(repos, usernameCandidates(identity.claims, provider.id, identity.subject));
      const user = await insertUser(repos, actor, { username, displayName: displayNameOf(identity.claims), email, role: role ?? 'user' }, null, now, { provider: provider.id });
      await repos.identities.insert({ issuer: identity.issuer, subject: identity.subject, userId: user.id, providerId: provider.id, email, now });
      return { ok: true, user, roleChanged: false };
    }
    if (existing.disabledAt !== null) return { ok: false, user: existing };

    let user = existing;
    let roleChanged = false;
    if (role !== undefined && role !== existing.role) {
      user = (await repos.users.update(existing.id, { role }, now)) ?? existing;
      // admin:* scopes of the user's tokens follow the role: drop cached verifications.
      await this.deps.bus.publishIn(repos, { kind: 'user', id: existing.id });
      await recordAudit(repos, { ...actor, userId: existing.id }, {
        action: 'user.role_changed', targetType: 'user', targetId: existing.id, details: { from: existing.role, to: role, provider: provider.id },
      }, now);
      roleChanged = true;
    }
    await repos.identities.touch(identity.issuer, identity.subject, { providerId: provider.id, email, now });
    return { ok: true, user, roleChanged };
  }

  private async recordFailure(provider: OidcProviderConfig, meta: Meta, reason: string, userId: string | undefined): Promise<void> {
    await recordAudit(this.deps.store.repos, { userId: null, tokenId: null, ...meta }, {
      action: 'auth.login_failed',
      targetType: 'user',
      ...(userId ? { targetId: userId } : {}),
      details: { method: 'oidc', provider: provider.id, reason },
    }, this.deps.clock.now());
  }
}

/** The first free candidate, else the first one with the lowest free `-2`, `-3`… suffix. */
async function freeUsername(repos: Repositories, candidates: readonly string[]): Promise<string> {
  for (const name of candidates) if (!(await repos.users.findByUsername(name))) return name;
  const base = candidates[0]!;
  for (let n = 2; n < 1000; n++) {
    const name = `${base}-${n}`;
    if (!(await repos.users.findByUsername(name))) return name;
  }
  return `${base}-${randomBytes(4).toString('hex')}`;
}
