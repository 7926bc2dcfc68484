import { newId } from '../domain/ids.js';
import { generateToken, grants, isAdminScope, type CreatePatBody, type TokenStatus, type UpdatePatBody, type TokenAddresses, type UsageQuery, type UsageSeries } from '@keyfob/protocol';
import { Conflict, InsufficientScope, KeyfobError, NotFound, PolicyViolation, ValidationError } from '../errors/keyfob-error.js';
import type { TokenHasher } from '../crypto/token-hasher.js';
import { normalizeIpOrCidr } from '../domain/ip-allowlist.js';
import { patStatus, type Actor, type Pat } from '../domain/models.js';
import { usageSeries, usageSeriesStart } from '../domain/usage-series.js';
import { resolveExpiry, rotationExpiry } from '../domain/policy.js';
import type { Cursor } from '../domain/cursor.js';
import type { PatFilter } from '../repositories/pats.js';
import type { Repositories, Store } from '../repositories/store.js';
import { eventRecordOf, recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import type { PolicyService } from './policy-service.js';
import { actorOf, type Principal } from './principal.js';
import type { ScopeService } from './scope-service.js';

export interface CreatedToken {
  /** The plaintext secret: returned to the caller once and never stored. */
  readonly token: string;
  readonly pat: Pat;
}

export interface PatServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly hasher: TokenHasher;
  readonly policy: PolicyService;
  readonly scopes: ScopeService;
  readonly tokenPrefix: string;
  /** Told about every change that can make a token fail: in its transaction, and before the answer. */
  readonly bus: InvalidationBus;
  /** Creations and rotations per user (KEYFOB_LIMIT_TOKEN_CREATIONS). */
  readonly limiter: RateLimiter;
}

/** Creation, listing, renaming, rotation and revocation of personal access tokens. */
export class PatService {
  constructor(private readonly deps: PatServiceDeps) {}

  async create(principal: Principal, body: CreatePatBody): Promise<CreatedToken> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const name = body.name.trim();
    if (name === '') throw new ValidationError('name', 'must not be blank');
    const scopes = [...new Set(body.scopes)];
    await this.deps.scopes.assertKnown(scopes);
    const adminScope = scopes.find(isAdminScope);
    if (adminScope !== undefined && principal.user.role !== 'admin') {
      throw new KeyfobError('invalid_scope', `scopes: "${adminScope}" is only available to admins`, { field: 'scopes' });
    }
    this.assertCallerHolds(principal, scopes);
    const audiences = inheritRestriction(principal.pat?.audiences, [...new Set((body.audiences ?? []).map((a) => a.trim()))], 'audiences');
    if (audiences.some((a) => a === '')) throw new ValidationError('audiences', 'must not contain blank entries');
    const allowedIps = inheritRestriction(principal.pat?.allowedIps, normalizeIps(body.allowedIps ?? []), 'allowedIps');

    const policy = await this.deps.policy.get();
    const requested = resolveExpiry(policy, body, now);
    const expiresAt = capByCaller(principal, requested);
    if (expiresAt !== requested && (body.expiresAt !== undefined || body.expiresInDays !== undefined)) {
      throw new PolicyViolation(body.expiresAt !== undefined ? 'expiresAt' : 'expiresInDays', 'must not be later than the expiry of the token making this request');
    }

    // Counted once the request is valid: a mistyped form does not use up the hour.
    await this.deps.limiter.consume('tokenCreations', principal.user.id);
    const generated = generateToken(this.deps.tokenPrefix);
    const digest = this.deps.hasher.digest(generated.token);
    const pat = await store.transaction(async (repos) => {
      await repos.users.lock(principal.user.id, store.dialect);
      if (policy.maxTokensPerUser !== null && (await repos.pats.countActive(principal.user.id, now)) >= policy.maxTokensPerUser) {
        throw new PolicyViolation('name', `you already have ${policy.maxTokensPerUser} active tokens (policy maxTokensPerUser)`);
      }
      if (await repos.pats.activeNameTaken(principal.user.id, name, now)) throw new Conflict(`name: you already have an active token named "${name}"`);
      const created = await repos.pats.insert({
        id: newId(now),
        userId: principal.user.id,
        name,
        description: body.description ?? '',
        tokenHash: digest.hash,
        pepperKeyId: digest.keyId,
        displayHint: generated.displayHint,
        prefix: generated.prefix,
        scopes,
        audiences,
        allowedIps,
        createdAt: now,
        expiresAt,
        rotatedFromId: null,
        createdByTokenId: principal.pat?.id ?? null,
      });
      await recordAudit(repos, actorOf(principal), {
        action: 'token.created',
        targetType: 'token',
        targetId: created.id,
        details: { name, scopes, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(), ownerId: principal.user.id },
      }, now);
      return created;
    });
    return { token: generated.token, pat };
  }

  list(filter: PatFilter, cursor: Cursor | undefined, limit: number): Promise<Pat[]> {
    return this.deps.store.repos.pats.list(filter, this.deps.clock.now(), cursor, limit);
  }

  /** A token by id; `ownerId` restricts it to one user's tokens (another user's id is a 404). */
  /** One token's use over the last `days` (default 30 by day, 2 by hour; at most 7 by hour). */
  async usage(pat: Pat, query: UsageQuery): Promise<UsageSeries> {
    const granularity = query.granularity ?? 'day';
    const days = query.days ?? (granularity === 'hour' ? 2 : 30);
    if (granularity === 'hour' && days > 7) throw new ValidationError('days', 'must be at most 7 by hour');
    const now = this.deps.clock.now();
    const counts = await this.deps.store.repos.pats.usageSince(pat.id, usageSeriesStart(now, days, granularity));
    return usageSeries(counts, now, days, granularity);
  }

  /** The addresses a token was used from, most recent first (written behind, like its counts). */
  async addresses(pat: Pat, limit = 20): Promise<TokenAddresses> {
    const rows = await this.deps.store.repos.pats.addresses(pat.id, limit);
    return { items: rows.map((a) => ({ ip: a.ip, firstSeenAt: new Date(a.firstSeen).toISOString(), lastSeenAt: new Date(a.lastSeen).toISOString(), uses: a.uses })) };
  }

  async get(id: string, ownerId?: string): Promise<Pat> {
    const pat = await this.deps.store.repos.pats.findById(id);
    if (!pat || (ownerId !== undefined && pat.userId !== ownerId)) throw new NotFound('token');
    return pat;
  }

  async update(principal: Principal, id: string, body: UpdatePatBody, ownerId?: string): Promise<Pat> {
    const now = this.deps.clock.now();
    const name = body.name?.trim();
    if (name === '') throw new ValidationError('name', 'must not be blank');
    const updated = await this.deps.store.transaction(async (repos) => {
      const pat = await this.getIn(repos, id, ownerId);
      const changes: { name?: string; description?: string } = {};
      if (name !== undefined && name !== pat.name) {
        if (patStatus(pat, now) === 'active' && (await repos.pats.activeNameTaken(pat.userId, name, now, pat.id))) {
          throw new Conflict(`name: there is already an active token named "${name}"`);
        }
        changes.name = name;
      }
      if (body.description !== undefined && body.description !== pat.description) changes.description = body.description;
      if (Object.keys(changes).length === 0) return pat;
      await repos.pats.updateText(id, changes);
      // Cached copies carry the metadata /tokens/self and introspection answer with.
      await this.deps.bus.publishIn(repos, { kind: 'pats', ids: [id] });
      await recordAudit(repos, actorOf(principal), { action: 'token.updated', targetType: 'token', targetId: id, details: { fields: Object.keys(changes), ...(changes.name ? { from: pat.name, to: changes.name } : {}) } }, now);
      return { ...pat, ...changes };
    });
    this.deps.bus.applyLocal({ kind: 'pats', ids: [id] });
    return updated;
  }

  /** Idempotent: revoking a revoked token succeeds and changes nothing. */
  async revoke(actor: Actor, id: string, reason: string | undefined, ownerId?: string): Promise<Pat> {
    const now = this.deps.clock.now();
    const result = await this.deps.store.transaction(async (repos) => {
      const pat = await this.getIn(repos, id, ownerId);
      const why = reason?.trim() || (actor.userId === pat.userId ? 'revoked by owner' : 'revoked by admin');
      if (!(await repos.pats.revoke(id, now, actor.userId, why))) return pat;
      await this.deps.bus.publishIn(repos, { kind: 'pats', ids: [id] });
      await recordAudit(repos, actor, { action: 'token.revoked', targetType: 'token', targetId: id, details: { reason: why, ownerId: pat.userId } }, now);
      return { ...pat, revokedAt: new Date(now), revokedBy: actor.userId, revokeReason: why };
    });
    this.deps.bus.applyLocal({ kind: 'pats', ids: [id] });
    return result;
  }

  /**
   * A new secret with the same settings; the old secret stops now, or after a grace period of at
   * most the policy's rotationGraceSeconds.
   */
  async rotate(principal: Principal, id: string, gracePeriodSeconds: number | undefined, ownerId?: string): Promise<CreatedToken> {
    const { store, clock } = this.deps;
    await this.deps.limiter.consume('tokenCreations', principal.user.id);
    const now = clock.now();
    const policy = await this.deps.policy.get();
    const grace = Math.min(gracePeriodSeconds ?? policy.rotationGraceSeconds, policy.rotationGraceSeconds);
    const generated = generateToken(this.deps.tokenPrefix);
    const digest = this.deps.hasher.digest(generated.token);
    const result = await store.transaction(async (repos) => {
      const old = await this.getIn(repos, id, ownerId);
      if (old.revokedAt !== null) throw new Conflict('the token is revoked or already rotated; create a new one');
      // Rotation hands out a working secret, so a token may only rotate what it could have created.
      this.assertCallerHolds(principal, old.scopes.filter((s) => !isAdminScope(s) || principal.user.role === 'admin'));
      await repos.users.lock(old.userId, store.dialect);
      if (patStatus(old, now) === 'expired') {
        // Bringing an expired token back is a new token in all but name: the catalogue and the
        // per-user limit apply as they would to a create.
        await this.deps.scopes.assertKnown(old.scopes, 'scopes', repos);
        if (policy.maxTokensPerUser !== null && (await repos.pats.countActive(old.userId, now)) >= policy.maxTokensPerUser) {
          throw new PolicyViolation('name', `the owner already has ${policy.maxTokensPerUser} active tokens (policy maxTokensPerUser)`);
        }
      }
      await repos.pats.revoke(old.id, now + grace * 1000, principal.user.id, 'rotated');
      // Also with a grace period: cached copies must learn the time the old secret stops.
      await this.deps.bus.publishIn(repos, { kind: 'pats', ids: [old.id] });
      const expiresAt = capByCaller(principal, rotationExpiry(policy, old.createdAt.getTime(), old.expiresAt?.getTime() ?? null, now));
      const pat = await repos.pats.insert({
        id: newId(now),
        userId: old.userId,
        name: old.name,
        description: old.description,
        tokenHash: digest.hash,
        pepperKeyId: digest.keyId,
        displayHint: generated.displayHint,
        prefix: generated.prefix,
        scopes: old.scopes,
        audiences: old.audiences,
        allowedIps: old.allowedIps,
        createdAt: now,
        expiresAt,
        rotatedFromId: old.id,
        createdByTokenId: principal.pat?.id ?? null,
      });
      await recordAudit(repos, actorOf(principal), { action: 'token.rotated', targetType: 'token', targetId: old.id, details: { newTokenId: pat.id, graceSeconds: grace, ownerId: old.userId } }, now);
      return { token: generated.token, pat };
    });
    this.deps.bus.applyLocal({ kind: 'pats', ids: [id] });
    return result;
  }

  /**
   * A token reported as leaked: revoked if it is still usable, with the revocation and a
   * `token.leaked` event (the owner's notice) in one transaction. Idempotent: a token that is
   * already revoked or expired changes nothing and records nothing. Returns whether it revoked.
   */
  async revokeLeaked(actor: Actor, id: string, source: Readonly<Record<string, string>>): Promise<boolean> {
    const now = this.deps.clock.now();
    const why = `leaked: reported by ${source['reporter'] ?? 'an unnamed source'}`;
    const revoked = await this.deps.store.transaction(async (repos) => {
      const pat = await repos.pats.findById(id);
      if (!pat || patStatus(pat, now) !== 'active' || !(await repos.pats.revoke(id, now, null, why))) return false;
      await this.deps.bus.publishIn(repos, { kind: 'pats', ids: [id] });
      await recordAudit(repos, actor, { action: 'token.revoked', targetType: 'token', targetId: id, details: { reason: why, ownerId: pat.userId } }, now);
      await recordAudit(repos, actor, { action: 'token.leaked', targetType: 'token', targetId: id, details: { ...source, ownerId: pat.userId, tokenName: pat.name } }, now);
      return true;
    });
    if (revoked) this.deps.bus.applyLocal({ kind: 'pats', ids: [id] });
    return revoked;
  }

  /** Incident response (D6): revoke every usable token of a user, issued before a time, or holding a scope. */
  async revokeMatching(actor: Actor, filter: Pick<PatFilter, 'userId' | 'issuedBefore' | 'scope'>, reason: string | undefined): Promise<number> {
    if (filter.userId === undefined && filter.issuedBefore === undefined && filter.scope === undefined) {
      throw new ValidationError('userId', 'give at least one of userId, issuedBefore or scope');
    }
    const now = this.deps.clock.now();
    const why = reason?.trim() || 'bulk revocation by admin';
    const ids = await this.deps.store.transaction(async (repos) => {
      const revoked = await repos.pats.revokeMatching(filter, now, actor.userId, why);
      if (revoked.length > 0) await this.deps.bus.publishIn(repos, { kind: 'all' });
      const described = { ...filter, ...(filter.issuedBefore !== undefined ? { issuedBefore: new Date(filter.issuedBefore).toISOString() } : {}) };
      const bulk = await recordAudit(repos, actor, { action: 'token.bulk_revoked', targetType: 'token', details: { filter: described, count: revoked.length, reason: why } }, now);
      // The audit log keeps one entry; webhooks and owners still hear of each token.
      const record = eventRecordOf(bulk);
      await repos.outbox.insertMany(
        revoked.map((id) => ({ id: `${bulk.id}:${id}`, type: 'token.revoked', createdAt: now, record: { ...record, target: { type: 'token', id }, details: { reason: why, bulkRevocation: bulk.id } } })),
      );
      return revoked;
    });
    if (ids.length > 0) this.deps.bus.applyLocal({ kind: 'all' });
    return ids.length;
  }

  status(pat: Pat): TokenStatus {
    return patStatus(pat, this.deps.clock.now());
  }

  private async getIn(repos: Repositories, id: string, ownerId: string | undefined): Promise<Pat> {
    const pat = await repos.pats.findById(id);
    if (!pat || (ownerId !== undefined && pat.userId !== ownerId)) throw new NotFound('token');
    return pat;
  }

  /** A token may only pass on scopes it holds itself; a console session holds its role's scopes. */
  private assertCallerHolds(principal: Principal, scopes: readonly string[]): void {
    if (principal.kind !== 'pat') return;
    const missing = scopes.find((s) => !grants(principal.scopes, s));
    if (missing !== undefined) throw new InsufficientScope(missing, `scopes: the calling token does not hold "${missing}"`);
  }
}

/**
 * A token minted or rotated by another token must not outlive it, or tokens:write would defeat
 * expiry. Returns the expiry capped at the calling token's own (sessions are not capped).
 */
function capByCaller(principal: Principal, expiresAt: number | null): number | null {
  const ceiling = principal.pat?.expiresAt?.getTime() ?? null;
  if (ceiling === null) return expiresAt;
  return expiresAt === null ? ceiling : Math.min(expiresAt, ceiling);
}

/**
 * A token minted by a restricted token stays at least as restricted: with no list given it
 * inherits the caller's; a given list must lie inside the caller's.
 */
function inheritRestriction(callerList: readonly string[] | undefined, requested: string[], field: string): string[] {
  if (!callerList || callerList.length === 0) return requested;
  if (requested.length === 0) return [...callerList];
  const outside = requested.find((entry) => !callerList.includes(entry));
  if (outside !== undefined) throw new KeyfobError('insufficient_scope', `${field}: "${outside}" is outside the calling token's own ${field}`, { field });
  return requested;
}

function normalizeIps(entries: readonly string[]): string[] {
  const out: string[] = [];
  entries.forEach((entry, index) => {
    const normalized = normalizeIpOrCidr(entry);
    if (normalized === undefined) throw new ValidationError(`allowedIps[${index}]`, `"${entry}" is not an IP address or CIDR`);
    if (!out.includes(normalized)) out.push(normalized);
  });
  return out;
}
