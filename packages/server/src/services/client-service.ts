import { generateToken, TOKEN_EXCHANGE_GRANT, type CreateClientBody, type UpdateClientBody } from '@keyfob/protocol';
import { hash } from 'node:crypto';
import type { ClientAuthCache } from '../cache/client-auth-cache.js';
import type { MaybePromise } from './maybe-promise.js';
import type { Invalidation, InvalidationBus } from '../cache/invalidation-bus.js';
import { safeEqual } from '../crypto/keys.js';
import type { TokenHasher } from '../crypto/token-hasher.js';
import { NotFound, ValidationError } from '../errors/keyfob-error.js';
import { newId } from '../domain/ids.js';
import type { Actor, OAuthClient } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import type { ClientChanges } from '../repositories/clients.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import type { ScopeService } from './scope-service.js';

const CLIENTS_CHANGED: Invalidation = Object.freeze({ kind: 'clients' });

/** Client secrets share the token format, so secret scanners recognise them too. */
export const CLIENT_SECRET_PREFIX = 'kf_cs';

export interface ClientWithSecret {
  readonly client: OAuthClient;
  /** Plaintext; returned once. */
  readonly clientSecret: string;
}

/** OAuth clients: registration, secret rotation, and authentication at the /oauth endpoints. */
export class ClientService {
  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      hasher: TokenHasher;
      scopes: ScopeService;
      bus: InvalidationBus;
      /** Undefined when KEYFOB_VERIFY_CACHE=off. */
      cache?: ClientAuthCache | undefined;
    },
  ) {}

  async create(actor: Actor, body: CreateClientBody): Promise<ClientWithSecret> {
    const name = body.name.trim();
    if (name === '') throw new ValidationError('name', 'must not be blank');
    if (body.allowedScopes) await this.deps.scopes.assertKnown(body.allowedScopes, 'allowedScopes');
    const now = this.deps.clock.now();
    const secret = generateToken(CLIENT_SECRET_PREFIX).token;
    const digest = this.deps.hasher.digest(secret);
    const client: OAuthClient = {
      id: `kfc_${newId(now).replace(/-/g, '')}`,
      name,
      secretHash: digest.hash,
      secretKeyId: digest.keyId,
      grantTypes: body.grantTypes ?? [TOKEN_EXCHANGE_GRANT],
      allowedAudiences: dedupe(body.allowedAudiences ?? []),
      allowedScopes: body.allowedScopes ? dedupe(body.allowedScopes, 'allowedScopes') : null,
      canIntrospect: body.introspection ?? true,
      disabledAt: null,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    };
    await this.deps.store.transaction(async (repos) => {
      await repos.clients.insert(client);
      await recordAudit(repos, actor, { action: 'client.created', targetType: 'client', targetId: client.id, details: { name } }, now);
    });
    return { client, clientSecret: secret };
  }

  list(): Promise<OAuthClient[]> {
    return this.deps.store.repos.clients.list();
  }

  async get(id: string): Promise<OAuthClient> {
    const client = await this.deps.store.repos.clients.findById(id);
    if (!client) throw new NotFound('client');
    return client;
  }

  async update(actor: Actor, id: string, body: UpdateClientBody): Promise<OAuthClient> {
    if (body.allowedScopes) await this.deps.scopes.assertKnown(body.allowedScopes, 'allowedScopes');
    const now = this.deps.clock.now();
    const changes: ClientChanges = {};
    if (body.name !== undefined) {
      if (body.name.trim() === '') throw new ValidationError('name', 'must not be blank');
      changes.name = body.name.trim();
    }
    if (body.allowedAudiences !== undefined) changes.allowedAudiences = dedupe(body.allowedAudiences);
    if (body.allowedScopes !== undefined) changes.allowedScopes = body.allowedScopes === null ? null : dedupe(body.allowedScopes, 'allowedScopes');
    if (body.introspection !== undefined) changes.canIntrospect = body.introspection;
    return this.deps.store.transaction(async (repos) => {
      const existing = await repos.clients.findById(id);
      if (!existing) throw new NotFound('client');
      if (body.disabled !== undefined && body.disabled !== (existing.disabledAt !== null)) changes.disabledAt = body.disabled ? now : null;
      const updated = await repos.clients.update(id, changes, now);
      if (!updated) throw new NotFound('client');
      await recordAudit(repos, actor, { action: 'client.updated', targetType: 'client', targetId: id, details: { fields: Object.keys(changes) } }, now);
      await this.deps.bus.publishIn(repos, CLIENTS_CHANGED);
      return updated;
    }).finally(() => this.deps.bus.applyLocal(CLIENTS_CHANGED));
  }

  async rotateSecret(actor: Actor, id: string): Promise<ClientWithSecret> {
    const now = this.deps.clock.now();
    const secret = generateToken(CLIENT_SECRET_PREFIX).token;
    const digest = this.deps.hasher.digest(secret);
    const client = await this.deps.store.transaction(async (repos) => {
      if (!(await repos.clients.findById(id))) throw new NotFound('client');
      const updated = await repos.clients.update(id, { secretHash: digest.hash, secretKeyId: digest.keyId }, now);
      await recordAudit(repos, actor, { action: 'client.secret_rotated', targetType: 'client', targetId: id }, now);
      await this.deps.bus.publishIn(repos, CLIENTS_CHANGED);
      return updated!;
    }).finally(() => this.deps.bus.applyLocal(CLIENTS_CHANGED));
    return { client, clientSecret: secret };
  }

  async delete(actor: Actor, id: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      if (!(await repos.clients.delete(id))) throw new NotFound('client');
      await recordAudit(repos, actor, { action: 'client.deleted', targetType: 'client', targetId: id }, now);
      await this.deps.bus.publishIn(repos, CLIENTS_CHANGED);
    }).finally(() => this.deps.bus.applyLocal(CLIENTS_CHANGED));
  }

  /**
   * The client for these credentials, or undefined when unknown, wrong or disabled. A recent
   * success is answered from the cache (while the invalidation bus is trusted); failures never are.
   *
   * `credential` names the cache entry: what the caller was presented and took `clientId` and
   * `secret` from, and nothing else (an HTTP Basic value); by default the pair itself. A success
   * is remembered under it, so `cached(credential)` answers for the same presentation later.
   */
  authenticate(clientId: string, secret: string, credential = `${clientId}\u0000${secret}`): MaybePromise<OAuthClient | undefined> {
    const cache = this.#trustedCache();
    const key = cache === undefined ? '' : credentialKey(credential);
    const hit = cache?.get(key, this.deps.clock.now());
    // A hit answers synchronously: introspection of a cached token then needs no promise at all.
    if (hit !== undefined) return hit;
    return this.authenticateFromStore(clientId, secret, cache, key);
  }

  /**
   * The client a credential authenticated recently, if the cache still holds it, without decoding
   * anything: `credential` is what the caller presented, such as the value of an HTTP Basic header,
   * and is the one `authenticate` was given when it succeeded.
   */
  cached(credential: string): OAuthClient | undefined {
    return this.cachedByKey(credentialKey(credential));
  }

  /** `cached` by the key a credential is remembered under (`credentialKey`), for a caller that asks more than once. */
  cachedByKey(key: string): OAuthClient | undefined {
    return this.#trustedCache()?.get(key, this.deps.clock.now());
  }

  /** The cache, while the invalidation bus can be trusted to empty it. */
  #trustedCache(): ClientAuthCache | undefined {
    return this.deps.bus.trusted() ? this.deps.cache : undefined;
  }

  private async authenticateFromStore(clientId: string, secret: string, cache: ClientAuthCache | undefined, key: string): Promise<OAuthClient | undefined> {
    const epoch = cache?.epoch ?? 0;
    const client = await this.deps.store.repos.clients.findById(clientId);
    const candidates = this.deps.hasher.candidates(secret);
    const match = client !== undefined && candidates.some((d) => d.keyId === client.secretKeyId && safeEqual(d.hash, client.secretHash));
    if (!client || !match || client.disabledAt !== null) return undefined;
    cache?.set(key, client, this.deps.clock.now(), epoch);
    return client;
  }
}

/** Cache keys are digests: a secret is never kept as a map key. */
export function credentialKey(credential: string): string {
  return hash('sha256', credential, 'base64url');
}

function dedupe(values: readonly string[], field = 'allowedAudiences'): string[] {
  const trimmed = values.map((v) => v.trim());
  // A blank entry would otherwise vanish and turn "only these" into "any audience".
  if (trimmed.some((v) => v === '')) throw new ValidationError(field, 'must not contain blank entries');
  return [...new Set(trimmed)];
}
