import { effectiveScopes, grants } from '@keyfob/protocol';
import { compileAllowList } from './ip-allowlist.js';
import type { Account, Pat } from './models.js';

/** A token's metadata as requests see it: never its hash. */
export type PatView = Omit<Pat, 'tokenHash' | 'pepperKeyId'>;

export type { Account } from './models.js';

/** The scopes a token may use now, in the three shapes callers read. */
export interface Grant {
  readonly list: readonly string[];
  readonly set: ReadonlySet<string>;
  /** Space-separated, as OAuth writes `scope`. */
  readonly text: string;
}

/**
 * A token found in the store, with everything the per-request checks read worked out once: the
 * verification cache holds these, and a successful verification returns one as it is.
 */
export interface VerifiedToken {
  readonly ok: true;
  readonly pat: PatView;
  readonly user: Account;
  /** Effective scopes: `admin:*` only while the owner is an admin. */
  readonly grant: Grant;
  /** Epoch milliseconds; Infinity when there is none. */
  readonly revokedAtMs: number;
  readonly expiresAtMs: number;
  /** -Infinity when the token has never been used. */
  readonly lastUsedAtMs: number;
  /** Undefined when the token may be used from any address. */
  readonly allows: ((ip: string) => boolean) | undefined;
}

export type VerifyFailureReason =
  | 'malformed'
  | 'unknown'
  | 'expired'
  | 'revoked'
  | 'owner_disabled'
  | 'insufficient_scope'
  | 'ip_denied'
  | 'audience_mismatch';

export interface VerifyFailure {
  readonly ok: false;
  readonly reason: VerifyFailureReason;
  readonly missingScope?: string;
}

export type VerifyOutcome = VerifiedToken | VerifyFailure;

export interface VerifyRequirements {
  /** Every one of these scopes must be granted. */
  readonly scopes?: readonly string[];
  /** When given, a token restricted to audiences must list it. */
  readonly audience?: string;
  /**
   * The address the token is being used from, checked against its allow-list and recorded as
   * last used. Leave it out where keyfob cannot see the user's address (introspection by a
   * resource server): the allow-list is then not checked.
   */
  readonly ip?: string | null;
}

const failures = new Map<VerifyFailureReason, VerifyFailure>();
/** One frozen object per reason: a refused request allocates nothing. */
export function failure(reason: Exclude<VerifyFailureReason, 'insufficient_scope'>): VerifyFailure {
  let found = failures.get(reason);
  if (found === undefined) failures.set(reason, (found = Object.freeze({ ok: false, reason })));
  return found;
}

/**
 * DESIGN's checks after the lookup, in order: not revoked, not expired, owner active, required
 * scopes, audience, address. Pure: the caller supplies `now`.
 */
export function judge(token: VerifiedToken, need: VerifyRequirements, now: number): VerifyOutcome {
  if (token.revokedAtMs <= now) return failure('revoked');
  if (token.expiresAtMs <= now) return failure('expired');
  if (token.user.disabledAt !== null) return failure('owner_disabled');
  if (need.scopes !== undefined) {
    for (const scope of need.scopes) if (!grants(token.grant.set, scope)) return { ok: false, reason: 'insufficient_scope', missingScope: scope };
  }
  const audiences = token.pat.audiences;
  if (need.audience !== undefined && audiences.length > 0 && !audiences.includes(need.audience)) return failure('audience_mismatch');
  if (need.ip !== undefined && token.allows !== undefined && (need.ip === null || !token.allows(need.ip))) return failure('ip_denied');
  return token;
}

const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * The token view a cache entry keeps. Its times are held as epoch milliseconds and handed out as
 * a new Date on each read: V8 keeps a Date's calendar fields in the object (about 112 bytes with
 * its number), and the three or four of a token were about a quarter of a cache entry's memory.
 * Nothing on the verification path reads them (`judge` and the usage recorder read
 * VerifiedToken's numbers); the answers built from them are built once per entry. A caller that
 * changes a Date it was given changes only its own copy.
 */
class CachedPatView implements PatView {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly description: string;
  readonly displayHint: string;
  readonly prefix: string;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly allowedIps: readonly string[];
  readonly lastUsedIp: string | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
  readonly rotatedFromId: string | null;
  readonly createdByTokenId: string | null;
  readonly #createdAtMs: number;
  readonly #expiresAtMs: number | null;
  readonly #lastUsedAtMs: number | null;
  readonly #revokedAtMs: number | null;

  constructor(pat: Pat, userId: string, prefix: string, scopes: readonly string[], audiences: readonly string[], allowedIps: readonly string[]) {
    this.id = pat.id;
    this.userId = userId;
    this.name = pat.name;
    this.description = pat.description;
    this.displayHint = pat.displayHint;
    this.prefix = prefix;
    this.scopes = scopes;
    this.audiences = audiences;
    this.allowedIps = allowedIps;
    this.lastUsedIp = pat.lastUsedIp;
    this.revokedBy = pat.revokedBy;
    this.revokeReason = pat.revokeReason;
    this.rotatedFromId = pat.rotatedFromId;
    this.createdByTokenId = pat.createdByTokenId;
    this.#createdAtMs = pat.createdAt.getTime();
    this.#expiresAtMs = pat.expiresAt?.getTime() ?? null;
    this.#lastUsedAtMs = pat.lastUsedAt?.getTime() ?? null;
    this.#revokedAtMs = pat.revokedAt?.getTime() ?? null;
  }

  get createdAt(): Date {
    return new Date(this.#createdAtMs);
  }

  get expiresAt(): Date | null {
    return dateOrNull(this.#expiresAtMs);
  }

  get lastUsedAt(): Date | null {
    return dateOrNull(this.#lastUsedAtMs);
  }

  get revokedAt(): Date | null {
    return dateOrNull(this.#revokedAtMs);
  }

  /**
   * What JSON.stringify writes: the times are getters on the prototype, which it (like a spread of
   * the instance, so nothing spreads one) would otherwise leave out.
   */
  toJSON(): PatView {
    return { ...this, createdAt: this.createdAt, expiresAt: this.expiresAt, lastUsedAt: this.lastUsedAt, revokedAt: this.revokedAt };
  }
}

/** Past this many distinct values an intern table starts over: memory stays bounded. */
const INTERN_LIMIT = 10_000;

/**
 * Builds VerifiedTokens, sharing what many tokens have in common (the owner, scope lists, empty
 * lists) so that a cache of many tokens holds each only once.
 */
export class VerifiedTokenBuilder {
  readonly #lists = new Map<string, readonly string[]>();
  readonly #grants = new Map<readonly string[], Grant>();
  /** The grant of an interned scope list, for an owner who is not an admin and for one who is. */
  readonly #grantsOf = new Map<readonly string[], readonly [Grant | undefined, Grant | undefined]>();
  /** By user id: the account kept for the user, and the object it was last found equal to. */
  readonly #accounts = new Map<string, { readonly account: Account; from: Account }>();

  build(pat: Pat, user: Account): VerifiedToken {
    const owner = this.#account(user);
    const scopes = this.#list(pat.scopes);
    const view = new CachedPatView(pat, owner.id, this.#list([pat.prefix])[0]!, scopes, this.#list(pat.audiences), this.#list(pat.allowedIps));
    return {
      ok: true,
      pat: view,
      user: owner,
      grant: this.#grantOf(scopes, owner.role === 'admin'),
      revokedAtMs: pat.revokedAt?.getTime() ?? Infinity,
      expiresAtMs: pat.expiresAt?.getTime() ?? Infinity,
      lastUsedAtMs: pat.lastUsedAt?.getTime() ?? -Infinity,
      allows: compileAllowList(pat.allowedIps),
    };
  }

  #list(values: readonly string[]): readonly string[] {
    // JSON, not a join: no separator a value could contain can make two lists look alike. A
    // single value is its own key behind a byte no JSON text starts with.
    const key = values.length === 1 ? `\u0001${values[0]}` : JSON.stringify(values);
    let found = this.#lists.get(key);
    if (found === undefined) {
      if (this.#lists.size >= INTERN_LIMIT) {
        this.#lists.clear();
        this.#grants.clear();
        this.#grantsOf.clear();
      }
      found = Object.freeze([...values]);
      this.#lists.set(key, found);
    }
    return found;
  }

  #grantOf(scopes: readonly string[], admin: boolean): Grant {
    const known = this.#grantsOf.get(scopes);
    const found = known?.[admin ? 1 : 0];
    if (found !== undefined) return found;
    const grant = this.#grant(this.#list(effectiveScopes(scopes, admin)));
    this.#grantsOf.set(scopes, admin ? [known?.[0], grant] : [grant, known?.[1]]);
    return grant;
  }

  #grant(list: readonly string[]): Grant {
    let found = this.#grants.get(list);
    if (found === undefined) {
      found = Object.freeze({ list, set: new Set(list), text: list.join(' ') });
      this.#grants.set(list, found);
    }
    return found;
  }

  /**
   * One object per user while its content stays the same: a user that differs in anything
   * replaces it. It holds the Account's fields only, whatever the caller's object carries besides
   * (a password hash must never reach a cache entry). The store's lookup hands back the same
   * object while the owner's columns read the same, which is then recognised by identity.
   */
  #account(user: Account): Account {
    const found = this.#accounts.get(user.id);
    if (found !== undefined && (found.from === user || sameAccount(found.account, user))) {
      found.from = user;
      return found.account;
    }
    if (this.#accounts.size >= INTERN_LIMIT) this.#accounts.clear();
    const account: Account = Object.freeze({
      id: user.id,
      username: user.username,
      displayName: user.displayName,
      email: user.email,
      role: user.role,
      disabledAt: user.disabledAt,
      notifications: user.notifications,
      createdAt: user.createdAt,
      updatedAt: user.updatedAt,
    });
    this.#accounts.set(user.id, { account, from: user });
    return account;
  }
}

/** Every field of an Account; the type below fails to compile if one is added and not listed. */
const ACCOUNT_FIELDS = ['id', 'username', 'displayName', 'email', 'role', 'disabledAt', 'createdAt', 'updatedAt', 'notifications'] as const satisfies readonly (keyof Account)[];
const everyAccountFieldListed: [Exclude<keyof Account, (typeof ACCOUNT_FIELDS)[number]>] extends [never] ? true : never = true;
void everyAccountFieldListed;

/** Field by field: cheaper than building a key of the whole user on every store lookup. */
function sameAccount(account: Account, user: Account): boolean {
  for (const field of ACCOUNT_FIELDS) if (!sameValue(account[field], user[field])) return false;
  return true;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  // Flat records of plain values (the notification settings).
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}
