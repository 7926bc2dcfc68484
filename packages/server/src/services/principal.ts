import type { Actor } from '../domain/models.js';
import type { Account, PatView } from '../domain/verified-token.js';

/** The authenticated caller of an API request: a console session or a personal access token. */
export interface Principal {
  readonly kind: 'session' | 'pat';
  readonly user: Account;
  /** Scopes usable now (admin:* only while the user is an admin). */
  readonly scopes: ReadonlySet<string>;
  readonly pat: PatView | null;
  readonly sessionIdHash: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export function actorOf(principal: Principal): Actor {
  return { userId: principal.user.id, tokenId: principal.pat?.id ?? null, ip: principal.ip, userAgent: principal.userAgent };
}
