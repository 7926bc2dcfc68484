import { createHash } from 'node:crypto';
import type { MaybePromise } from './maybe-promise.js';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import type { JwsAlgorithm } from '../crypto/jws.js';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { Actor, SigningKeyRecord } from '../domain/models.js';
import type { Repositories, Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import { Conflict } from '../errors/keyfob-error.js';

export type SigningAlg = 'EdDSA' | 'ES256';

/** A retired key stays in the JWKS this long: the longest lifetime an exchanged token can have. */
export const MAX_EXCHANGED_TTL_SECONDS = 86_400;
const SIGNER_CACHE_MS = 5_000;

export interface Signer {
  readonly kid: string;
  readonly alg: JwsAlgorithm;
  readonly key: KeyObject;
}

/**
 * Signing keys for exchanged JWTs, rotated without downtime: there is always an `active` key
 * that signs and a `next` key that is already published in the JWKS, so resource servers have
 * it before it signs anything. Rotation promotes next → active, active → retired (published until
 * every token it signed has expired) and makes a new next key.
 */
export class SigningKeyService {
  #signer: { value: Signer; loadedAt: number } | undefined;

  constructor(private readonly deps: { store: Store; clock: Clock; sealedBox: SealedBox; alg: SigningAlg; jwksMaxAgeSeconds: number }) {}

  /** Makes sure an active and a next key exist (first start, or after keys were lost). */
  async ensureKeys(): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      await repos.signingKeys.lock(this.deps.store.dialect);
      const keys = await repos.signingKeys.list();
      if (!keys.some((k) => k.status === 'active')) await repos.signingKeys.insert(await this.generate('active', now));
      if (!keys.some((k) => k.status === 'next')) await repos.signingKeys.insert(await this.generate('next', now));
    });
  }

  async rotate(actor: Actor): Promise<SigningKeyRecord[]> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      await repos.signingKeys.lock(this.deps.store.dialect);
      const keys = await repos.signingKeys.list();
      const active = keys.find((k) => k.status === 'active');
      let next = keys.find((k) => k.status === 'next');
      if (!next) {
        // Without a published next key there is nothing safe to promote; publish one first.
        next = await this.generate('next', now);
        await repos.signingKeys.insert(next);
      }
      // Resource servers may hold a JWKS fetched up to max-age ago: the next key must have been in
      // it that long before it may sign.
      const publishedFor = now - next.createdAt.getTime();
      if (publishedFor < this.deps.jwksMaxAgeSeconds * 1000) {
        const wait = Math.ceil((this.deps.jwksMaxAgeSeconds * 1000 - publishedFor) / 1000);
        throw new Conflict(`the next key was published ${Math.floor(publishedFor / 1000)} s ago; resource servers may cache the JWKS for ${this.deps.jwksMaxAgeSeconds} s — rotate again in ${wait} s`);
      }
      if (active) await repos.signingKeys.setStatus(active.kid, 'retired', { retiredAt: now, unpublishAt: now + MAX_EXCHANGED_TTL_SECONDS * 1000 });
      await repos.signingKeys.setStatus(next.kid, 'active', { activatedAt: now });
      const fresh = await this.generate('next', now);
      await repos.signingKeys.insert(fresh);
      await repos.signingKeys.deleteUnpublished(now);
      await recordAudit(repos, actor, { action: 'signing_key.rotated', targetType: 'signing_key', targetId: next.kid, details: { retired: active?.kid ?? null, next: fresh.kid, alg: fresh.alg } }, now);
    });
    this.#signer = undefined;
    return this.list();
  }

  list(repos: Repositories = this.deps.store.repos): Promise<SigningKeyRecord[]> {
    return repos.signingKeys.list();
  }

  /** The keys a verifier must know: next, active, and retired ones still inside their window. */
  async publishedKeys(): Promise<SigningKeyRecord[]> {
    const now = this.deps.clock.now();
    return (await this.list()).filter((k) => k.status !== 'retired' || (k.unpublishAt !== null && k.unpublishAt.getTime() > now));
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: (await this.publishedKeys()).map((k) => ({ ...(k.publicJwk as JWK), kid: k.kid, alg: k.alg, use: 'sig' })) };
  }

  /**
   * The active key, cached briefly per instance. After a rotation elsewhere this instance may
   * sign with the just-retired key for a few seconds, which verifiers still accept.
   */
  signer(): MaybePromise<Signer> {
    const now = this.deps.clock.now();
    if (this.#signer && now - this.#signer.loadedAt < SIGNER_CACHE_MS && now >= this.#signer.loadedAt) return this.#signer.value;
    return this.#loadSigner(now);
  }

  async #loadSigner(now: number): Promise<Signer> {
    let active = (await this.list()).find((k) => k.status === 'active');
    if (!active) {
      await this.ensureKeys();
      active = (await this.list()).find((k) => k.status === 'active');
    }
    if (!active) throw new Error('no active signing key');
    const key = createPrivateKey(this.deps.sealedBox.open(active.sealedPrivateKey));
    const value: Signer = { kid: active.kid, alg: active.alg as JwsAlgorithm, key };
    this.#signer = { value, loadedAt: now };
    return value;
  }

  algorithms(): string[] {
    return ['EdDSA', 'ES256'];
  }

  private async generate(status: 'active' | 'next', now: number): Promise<SigningKeyRecord> {
    const alg = this.deps.alg;
    const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    // RFC 7638-style thumbprint input: stable, public, and unique per key.
    const kid = createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url').slice(0, 22);
    return {
      kid,
      alg,
      publicJwk: { ...publicJwk },
      sealedPrivateKey: this.deps.sealedBox.seal(await exportPKCS8(privateKey)),
      status,
      createdAt: new Date(now),
      activatedAt: status === 'active' ? new Date(now) : null,
      retiredAt: null,
      unpublishAt: null,
    };
  }
}
