import { randomBytes } from 'node:crypto';
import { KeyfobError } from '../errors/keyfob-error.js';
import { safeEqual } from '../crypto/keys.js';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { Clock } from './clock.js';

/** What a sign-in remembers between leaving for the provider and coming back. */
export interface SignInFlow {
  readonly providerId: string;
  readonly state: string;
  readonly nonce: string;
  /** PKCE (RFC 7636) code verifier; only its S256 challenge leaves the server. */
  readonly codeVerifier: string;
  /** A path on this site to land on once signed in. */
  readonly returnTo: string;
  readonly expiresAt: number;
}

/** How long a person may spend at the provider before the sign-in must start again. */
export const FLOW_TTL_MS = 10 * 60_000;

const MAX_RETURN_PATH = 512;

/**
 * A path on this site, or `/`. Refuses what a browser would resolve elsewhere (`//host`, `/\host`,
 * schemes) so that `?next=` cannot send a freshly signed-in person to another site.
 */
export function safeReturnPath(next: string | undefined): string {
  if (next === undefined || next.length > MAX_RETURN_PATH || !next.startsWith('/')) return '/';
  if (next.startsWith('//') || next.startsWith('/\\') || /[\u0000-\u001f\\]/.test(next)) return '/';
  // A Location header carries ASCII only: anything else is percent-encoded (whole code points).
  return next.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

const random = () => randomBytes(32).toString('base64url');

/**
 * The transient state of OpenID Connect sign-ins, kept by the browser in a cookie sealed with
 * AES-256-GCM under a key derived from KEYFOB_SECRET (so any instance can read it and nobody else
 * can read or forge it). Nothing is stored server-side; the cookie is cleared at the callback
 * whatever happens, and the provider accepts its authorization code once.
 */
export class SignInFlows {
  constructor(private readonly deps: { box: SealedBox; clock: Clock }) {}

  begin(providerId: string, next: string | undefined): { flow: SignInFlow; sealed: string } {
    const flow: SignInFlow = {
      providerId,
      state: random(),
      nonce: random(),
      codeVerifier: random(),
      returnTo: safeReturnPath(next),
      expiresAt: this.deps.clock.now() + FLOW_TTL_MS,
    };
    return { flow, sealed: this.deps.box.seal(JSON.stringify(flow)) };
  }

  /**
   * The flow behind a callback: the cookie must open, be unexpired, be for this provider and hold
   * the state the provider sent back. Throws `oidc_state_mismatch` otherwise (RFC 6749 §10.12:
   * the state binds the answer to the browser that asked).
   */
  resume(sealed: string | undefined, providerId: string, state: string | null): SignInFlow {
    const refuse = (why: string) => new KeyfobError('oidc_state_mismatch', `the sign-in cannot be matched to this browser (${why}); start again`);
    if (sealed === undefined || sealed === '') throw refuse('no sign-in under way');
    let flow: SignInFlow;
    try {
      flow = JSON.parse(this.deps.box.open(sealed)) as SignInFlow;
    } catch {
      throw refuse('the sign-in cookie is not readable');
    }
    if (typeof flow.state !== 'string' || typeof flow.expiresAt !== 'number') throw refuse('the sign-in cookie is not readable');
    if (flow.expiresAt <= this.deps.clock.now()) throw refuse('the sign-in took too long');
    if (flow.providerId !== providerId) throw refuse('it was started with another provider');
    if (state === null || !safeEqual(state, flow.state)) throw refuse('the state does not match');
    return flow;
  }
}
