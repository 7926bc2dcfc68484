import type { DeliveryStatus, NoticeStatus } from '../domain/models.js';

/**
 * Row shapes as stored. Times are epoch milliseconds (bigint in PostgreSQL, integer in SQLite),
 * booleans are 0/1 and lists are JSON text, so one schema serves both dialects; repositories
 * convert rows to models and nowhere else does.
 */
export interface UsersTable {
  id: string;
  username: string;
  /** Lower-cased username: uniqueness is case-insensitive. */
  username_key: string;
  display_name: string;
  email: string | null;
  password_hash: string | null;
  role: 'admin' | 'user';
  disabled_at: number | null;
  notifications: string;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
}

export interface PatsTable {
  id: string;
  user_id: string;
  name: string;
  description: string;
  token_hash: string;
  pepper_key_id: string;
  display_hint: string;
  prefix: string;
  scopes: string;
  audiences: string;
  allowed_ips: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  rotated_from_id: string | null;
  created_by_token_id: string | null;
}

export interface PatScopesTable {
  pat_id: string;
  scope: string;
}

export interface ScopesTable {
  name: string;
  description: string;
  builtin: number;
  created_at: number;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: number;
}

export interface AuditEventsTable {
  id: string;
  created_at: number;
  action: string;
  actor_user_id: string | null;
  actor_token_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string;
}

export interface OAuthClientsTable {
  id: string;
  name: string;
  secret_hash: string;
  secret_key_id: string;
  grant_types: string;
  allowed_audiences: string;
  /** JSON list; null means no ceiling beyond the PAT's own scopes. */
  allowed_scopes: string | null;
  can_introspect: number;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

export type SigningKeyStatus = 'next' | 'active' | 'retired';

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  /** PKCS#8 PEM encrypted with AES-256-GCM under a key derived from KEYFOB_SECRET. */
  private_key: string;
  status: SigningKeyStatus;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  /** When a retired key leaves the JWKS: after every token it signed has expired. */
  unpublish_at: number | null;
}

export interface RevokedJwtsTable {
  jti: string;
  expires_at: number;
}

export interface PatIpsTable {
  pat_id: string;
  ip: string;
  first_seen: number;
  last_seen: number;
  uses: number;
}

export interface UsageHourlyTable {
  pat_id: string;
  /** Epoch ms of the UTC hour's start. */
  hour: number;
  /** `ok`, or the reason a use was refused. */
  outcome: string;
  count: number;
}

export interface OutboxTable {
  /** The audit event's id, or a key that names the event (a reminder, a new address) so it is made once. */
  id: string;
  created_at: number;
  type: string;
  /** JSON: what the event says, without secrets. */
  data: string;
}

export interface WebhooksTable {
  id: string;
  url: string;
  description: string;
  /** JSON list of event types, `token.*`-style patterns or `*`. */
  events: string;
  /** Signing secret, sealed like private signing keys. */
  secret: string;
  disabled_at: number | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}


export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  /** The exact body sent, so that a retry or a re-send signs the same bytes. */
  body: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  response_status: number | null;
  error: string | null;
  redelivery_of: string | null;
  created_at: number;
  delivered_at: number | null;
}


export interface NoticesTable {
  id: string;
  /** One notice per key, ever: the second attempt to make it is a no-op. */
  dedupe_key: string;
  user_id: string;
  kind: string;
  recipient: string;
  subject: string;
  body: string;
  status: NoticeStatus;
  attempts: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  error: string | null;
  created_at: number;
  sent_at: number | null;
}

export interface TokenRemindersTable {
  pat_id: string;
  kind: string;
  created_at: number;
}

export interface JobLeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

/** An OpenID Connect identity (issuer + subject) linked to a user. */
export interface OidcIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  /** The configured provider it last signed in through. */
  provider_id: string;
  email: string | null;
  created_at: number;
  last_login_at: number;
}

export interface DB {
  outbox: OutboxTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  notices: NoticesTable;
  token_reminders: TokenRemindersTable;
  job_leases: JobLeasesTable;
  oidc_identities: OidcIdentitiesTable;
  usage_hourly: UsageHourlyTable;
  pat_ips: PatIpsTable;
  oauth_clients: OAuthClientsTable;
  signing_keys: SigningKeysTable;
  revoked_jwts: RevokedJwtsTable;
  users: UsersTable;
  sessions: SessionsTable;
  pats: PatsTable;
  pat_scopes: PatScopesTable;
  scopes: ScopesTable;
  settings: SettingsTable;
  audit_events: AuditEventsTable;
}
