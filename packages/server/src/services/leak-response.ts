import { parseToken } from '@keyfob/protocol';
import type { Actor } from '../domain/models.js';
import type { PatService } from './pat-service.js';
import type { Verifier } from './verifier.js';

/** What became of one reported credential. Only the reporter's own tools may see it (GitHub's feedback). */
export type LeakVerdict = 'revoked' | 'inactive' | 'unknown' | 'malformed';

/** Where a report came from, kept in the audit events (no secret in it). */
export type LeakSource = Readonly<Record<string, string>> & { readonly reporter: string };

/**
 * Leak response: credentials found in public are revoked and their owners told. A credential
 * that is not a well-formed keyfob token (format and checksum) costs no store lookup.
 */
export class LeakResponse {
  constructor(private readonly deps: { verifier: Verifier; pats: PatService; acceptedPrefixes: readonly string[] }) {}

  /** How many distinct credentials of a report are well-formed tokens (each one costs a lookup). */
  wellFormedCount(credentials: readonly string[]): number {
    return new Set(credentials.filter((c) => parseToken(c, this.deps.acceptedPrefixes).ok)).size;
  }

  /** Handles each distinct credential once; the verdicts are keyed by the credential as given. */
  async report(credentials: readonly string[], source: (credential: string) => LeakSource, meta: Pick<Actor, 'ip' | 'userAgent'>): Promise<Map<string, LeakVerdict>> {
    const actor: Actor = { userId: null, tokenId: null, ...meta };
    const verdicts = new Map<string, LeakVerdict>();
    for (const credential of credentials) {
      if (verdicts.has(credential)) continue;
      verdicts.set(credential, await this.#one(credential, source(credential), actor));
    }
    return verdicts;
  }

  async #one(credential: string, source: LeakSource, actor: Actor): Promise<LeakVerdict> {
    if (!parseToken(credential, this.deps.acceptedPrefixes).ok) return 'malformed';
    const id = await this.deps.verifier.findId(credential);
    if (id === undefined) return 'unknown';
    return (await this.deps.pats.revokeLeaked(actor, id, source)) ? 'revoked' : 'inactive';
  }
}
