/**
 * TypeBox schemas of every request and response body of the REST API. The server validates
 * against them and generates its OpenAPI document from them; clients may reuse the static types.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { SCOPE_MAX_LENGTH, SCOPE_PATTERN } from './scopes.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/**
 * A string or null as one `type: ["string", "null"]` rather than `anyOf`: the response serializer
 * picks an `anyOf` branch by running a validator on every value, a type list by `typeof`. Only in
 * responses (the request validators run in strict mode, which refuses type lists).
 */
const NullableString = (options: { format?: string; description?: string } = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...options });
const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 time' });
const NullableTimestamp = NullableString({ format: 'date-time', description: 'ISO 8601 time' });

export const ScopeName = Type.String({ pattern: SCOPE_PATTERN, maxLength: SCOPE_MAX_LENGTH });

export const ErrorBody = Type.Object(
  { error: Type.String(), message: Type.String() },
  { $id: 'ErrorBody', description: 'Every error of the /api routes' },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const OAuthErrorBody = Type.Object({
  error: Type.String(),
  error_description: Type.Optional(Type.String()),
});
export type OAuthErrorBody = Static<typeof OAuthErrorBody>;

export const TokenStatus = Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]);
export type TokenStatus = Static<typeof TokenStatus>;

export const Pat = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  scopes: Type.Array(Type.String()),
  displayHint: Type.String({ description: 'prefix, first four and last four characters of the secret' }),
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
  lastUsedIp: NullableString(),
  revokedAt: NullableTimestamp,
  audiences: Type.Array(Type.String()),
  allowedIps: Type.Array(Type.String()),
  status: TokenStatus,
  userId: Type.String(),
});
export type PatDto = Static<typeof Pat>;

export const CreatedPat = Type.Object({
  token: Type.String({ description: 'the plaintext secret; returned in this response only' }),
  pat: Pat,
});
export type CreatedPatDto = Static<typeof CreatedPat>;

const Audience = Type.String({ minLength: 1, maxLength: 255 });
const IpOrCidr = Type.String({ minLength: 2, maxLength: 64 });

export const CreatePatBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    scopes: Type.Array(ScopeName, { minItems: 1, maxItems: 100 }),
    expiresInDays: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 36500 }))),
    expiresAt: Type.Optional(Type.String({ minLength: 10, maxLength: 40 })),
    audiences: Type.Optional(Type.Array(Audience, { maxItems: 20 })),
    allowedIps: Type.Optional(Type.Array(IpOrCidr, { maxItems: 50 })),
  },
  { additionalProperties: false },
);
export type CreatePatBody = Static<typeof CreatePatBody>;

export const UpdatePatBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type UpdatePatBody = Static<typeof UpdatePatBody>;

export const RevokeBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);

export const RotatePatBody = Type.Object(
  {
    gracePeriodSeconds: Type.Optional(
      Type.Integer({ minimum: 0, description: 'keep the old secret working this long (at most the policy value)' }),
    ),
  },
  { additionalProperties: false },
);
export type RotatePatBody = Static<typeof RotatePatBody>;

export const Role = Type.Union([Type.Literal('admin'), Type.Literal('user')]);
export type Role = Static<typeof Role>;

export const Username = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._@+-]*$' });
export const Password = Type.String({ minLength: 8, maxLength: 1024 });
const Email = Type.String({ maxLength: 254, pattern: '^$|^[^\\s@]+@[^\\s@]+$' });

export const Notifications = Type.Object({
  tokenExpiring: Type.Boolean(),
  tokenRevoked: Type.Boolean(),
  tokenCreated: Type.Boolean(),
  newIpUse: Type.Boolean(),
});
export type NotificationsDto = Static<typeof Notifications>;

export const User = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  email: NullableString(),
  role: Role,
  disabled: Type.Boolean(),
  disabledAt: NullableTimestamp,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  notifications: Notifications,
});
export type UserDto = Static<typeof User>;

export const UpdateMeBody = Type.Object(
  {
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Nullable(Email)),
    password: Type.Optional(Password),
    currentPassword: Type.Optional(Type.String({ maxLength: 1024 })),
    notifications: Type.Optional(Type.Partial(Notifications, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const CreateUserBody = Type.Object(
  {
    username: Username,
    password: Password,
    role: Type.Optional(Role),
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Nullable(Email)),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(Role),
    disabled: Type.Optional(Type.Boolean()),
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Nullable(Email)),
    password: Type.Optional(Password),
  },
  { additionalProperties: false },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

export const SetupStatus = Type.Object({
  needed: Type.Boolean({ description: 'true while no user exists' }),
  setupRequired: Type.Boolean({ description: 'same as needed' }),
});

export const SetupBody = Type.Object(
  {
    username: Username,
    password: Password,
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Nullable(Email)),
  },
  { additionalProperties: false },
);
export type SetupBody = Static<typeof SetupBody>;

export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 100 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const SessionResponse = Type.Object({ user: User, csrfToken: Type.String() });
export type SessionResponseDto = Static<typeof SessionResponse>;

export const SignInProvider = Type.Object({
  id: Type.String(),
  label: Type.String({ description: 'the provider name for the button ("Sign in with <label>")' }),
  startUrl: Type.String({ description: 'where the browser goes to sign in; append ?next=<path> to land on that console page' }),
});
export type SignInProviderDto = Static<typeof SignInProvider>;

export const SignInOptions = Type.Object({
  passwordLogin: Type.Boolean({ description: 'whether POST /api/v1/auth/login is on (KEYFOB_LOCAL_LOGIN)' }),
  providers: Type.Array(SignInProvider),
});
export type SignInOptionsDto = Static<typeof SignInOptions>;

export const Policy = Type.Object({
  maxLifetimeDays: Nullable(Type.Integer({ minimum: 1, maximum: 36500 })),
  requireExpiry: Type.Boolean(),
  expiryPresetsDays: Type.Array(Type.Integer({ minimum: 1, maximum: 36500 }), { maxItems: 20 }),
  defaultExpiryDays: Nullable(Type.Integer({ minimum: 1, maximum: 36500 })),
  maxTokensPerUser: Nullable(Type.Integer({ minimum: 1, maximum: 100000 })),
  rotationGraceSeconds: Type.Integer({ minimum: 0, maximum: 2592000 }),
  exchangedTokenTtlSeconds: Type.Integer({ minimum: 30, maximum: 86400 }),
  idleRevokeDays: Nullable(Type.Integer({ minimum: 2, maximum: 3650, description: 'revoke tokens unused for this many days; null: never' })),
  idleWarningDays: Type.Integer({ minimum: 1, maximum: 365, description: 'how long before an idle revocation its owner is warned' }),
});
export type PolicyDto = Static<typeof Policy>;

export const PolicyUpdate = Type.Partial(Policy, { additionalProperties: false });
export type PolicyUpdate = Static<typeof PolicyUpdate>;

export const ScopeEntry = Type.Object({
  name: Type.String(),
  description: Type.String(),
  builtin: Type.Boolean(),
  adminOnly: Type.Boolean(),
  createdAt: Timestamp,
});
export type ScopeEntryDto = Static<typeof ScopeEntry>;

export const CreateScopeBody = Type.Object(
  { name: ScopeName, description: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
export type CreateScopeBody = Static<typeof CreateScopeBody>;

export const AuditEvent = Type.Object({
  id: Type.String(),
  createdAt: Timestamp,
  action: Type.String(),
  actorUserId: NullableString(),
  actorTokenId: NullableString(),
  targetType: NullableString(),
  targetId: NullableString(),
  ip: NullableString(),
  userAgent: NullableString(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type AuditEventDto = Static<typeof AuditEvent>;

export const BulkRevokeBody = Type.Object(
  {
    userId: Type.Optional(Type.String({ minLength: 1 })),
    issuedBefore: Type.Optional(Type.String({ format: 'date-time' })),
    scope: Type.Optional(ScopeName),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type BulkRevokeBody = Static<typeof BulkRevokeBody>;

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: NullableString() });

export const PageQuery = {
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
};

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const PAT_TOKEN_TYPE = 'urn:keyfob:params:oauth:token-type:personal_access_token';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export const OAuthClient = Type.Object({
  clientId: Type.String(),
  name: Type.String(),
  grantTypes: Type.Array(Type.String()),
  allowedAudiences: Type.Array(Type.String(), { description: 'empty: any audience' }),
  allowedScopes: Nullable(Type.Array(Type.String(), { description: 'ceiling on exchanged scopes; null: none' })),
  introspection: Type.Boolean({ description: 'may call /oauth/introspect' }),
  disabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type OAuthClientDto = Static<typeof OAuthClient>;

export const CreatedOAuthClient = Type.Intersect([
  OAuthClient,
  Type.Object({ clientSecret: Type.String({ description: 'returned in this response only' }) }),
]);
export type CreatedOAuthClientDto = Static<typeof CreatedOAuthClient>;

const Audiences = Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 50 });

export const CreateClientBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    grantTypes: Type.Optional(Type.Array(Type.Literal(TOKEN_EXCHANGE_GRANT), { minItems: 1, maxItems: 1 })),
    allowedAudiences: Type.Optional(Audiences),
    allowedScopes: Type.Optional(Nullable(Type.Array(ScopeName, { maxItems: 100 }))),
    introspection: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateClientBody = Static<typeof CreateClientBody>;

export const UpdateClientBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    allowedAudiences: Type.Optional(Audiences),
    allowedScopes: Type.Optional(Nullable(Type.Array(ScopeName, { maxItems: 100 }))),
    introspection: Type.Optional(Type.Boolean()),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type UpdateClientBody = Static<typeof UpdateClientBody>;

export const SigningKeyStatus = Type.Union([Type.Literal('next'), Type.Literal('active'), Type.Literal('retired')]);

export const SigningKey = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  status: SigningKeyStatus,
  createdAt: Timestamp,
  activatedAt: NullableTimestamp,
  retiredAt: NullableTimestamp,
  unpublishAt: NullableTimestamp,
  publicJwk: Type.Record(Type.String(), Type.Unknown()),
});
export type SigningKeyDto = Static<typeof SigningKey>;

/** One token's use over time: a bucket per day or hour (empty ones included), counts by outcome. */
export const UsageQuery = Type.Object(
  {
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, description: 'How far back (default 30; at most 7 by hour)' })),
    granularity: Type.Optional(Type.Union([Type.Literal('day'), Type.Literal('hour')])),
  },
  { additionalProperties: false },
);
export type UsageQuery = Static<typeof UsageQuery>;

export const UsageSeries = Type.Object({
  granularity: Type.Union([Type.Literal('day'), Type.Literal('hour')]),
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  buckets: Type.Array(
    Type.Object({
      start: Type.String({ format: 'date-time' }),
      total: Type.Integer(),
      /** `ok`, or why uses were refused (revoked, expired, insufficient_scope, ip_denied, …). */
      outcomes: Type.Record(Type.String(), Type.Integer()),
    }),
  ),
});
export type UsageSeries = Static<typeof UsageSeries>;

/** An address a token was used from (successful uses), newest first. */
export const TokenAddress = Type.Object({
  ip: Type.String(),
  firstSeenAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  uses: Type.Integer(),
});
export type TokenAddress = Static<typeof TokenAddress>;
export const TokenAddresses = Type.Object({ items: Type.Array(TokenAddress) });
export type TokenAddresses = Static<typeof TokenAddresses>;

/** A token with its owner's username, for admin lists that span every user. */
export const AdminPat = Type.Object({ ...Pat.properties, ownerUsername: Type.String() });
export type AdminPatDto = Static<typeof AdminPat>;

/** The tokens with the most successful uses in a window of whole UTC days up to now. */
export const MostUsedQuery = Type.Object(
  {
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, description: 'UTC days back, today included (default 30); counts are kept KEYFOB_USAGE_RETENTION_DAYS' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'how many tokens (default 20)' })),
    status: Type.Optional(Type.Union([TokenStatus, Type.Literal('all')], { description: 'which tokens to rank (default active)' })),
  },
  { additionalProperties: false },
);
export type MostUsedQuery = Static<typeof MostUsedQuery>;

export const MostUsedToken = Type.Object({
  pat: AdminPat,
  uses: Type.Integer({ description: 'successful uses in the window' }),
  failures: Type.Integer({ description: 'refused uses of this token in the window (revoked, expired, insufficient_scope, …)' }),
});
export type MostUsedTokenDto = Static<typeof MostUsedToken>;

export const MostUsedTokens = Type.Object({
  days: Type.Integer(),
  from: Type.String({ format: 'date-time', description: 'start of the window (a UTC day start)' }),
  to: Type.String({ format: 'date-time', description: 'end of the window (now)' }),
  items: Type.Array(MostUsedToken, { description: 'most successful uses first; tokens without a successful use are left out' }),
});
export type MostUsedTokensDto = Static<typeof MostUsedTokens>;

/** Active tokens nobody uses: candidates to revoke. */
export const UnusedTokensQuery = Type.Object(
  {
    olderThanDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36500, description: 'only tokens created more than this many days ago (default 7)' })),
    unusedForDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 36500, description: 'also tokens whose last use is more than this many days ago; without it, only tokens never used' }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type UnusedTokensQuery = Static<typeof UnusedTokensQuery>;

/** Every event type keyfob sends to webhooks; subscriptions may also name `<kind>.*` or `*`. */
export const WEBHOOK_EVENT_TYPES = [
  'token.created',
  'token.updated',
  'token.rotated',
  'token.revoked',
  'token.bulk_revoked',
  'token.leaked',
  'token.expiring',
  'token.expired',
  'token.idle',
  'token.new_ip',
  'user.created',
  'user.updated',
  'user.role_changed',
  'user.deleted',
  'client.created',
  'client.updated',
  'client.secret_rotated',
  'client.deleted',
  'scope.created',
  'scope.deleted',
  'policy.updated',
  'signing_key.rotated',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String()),
  active: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type WebhookDto = Static<typeof Webhook>;

export const CreatedWebhook = Type.Intersect([
  Webhook,
  Type.Object({ secret: Type.String({ description: 'signing secret, returned in this response only' }) }),
]);
export type CreatedWebhookDto = Static<typeof CreatedWebhook>;

const WebhookEvents = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 50, description: 'event types, "<kind>.*" or "*"' });

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    events: WebhookEvents,
    description: Type.Optional(Type.String({ maxLength: 500 })),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    events: Type.Optional(WebhookEvents),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

export const WebhookDelivery = Type.Object({
  id: Type.String(),
  webhookId: Type.String(),
  eventId: Type.String({ description: 'the same for retries and re-sends of one event' }),
  eventType: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('sending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  createdAt: Timestamp,
  lastAttemptAt: NullableTimestamp,
  nextAttemptAt: NullableTimestamp,
  deliveredAt: NullableTimestamp,
  responseStatus: Nullable(Type.Integer()),
  error: NullableString(),
  redeliveryOf: NullableString(),
  payload: Type.Unknown({ description: 'the JSON body sent: { id, type, createdAt, data }' }),
});
export type WebhookDeliveryDto = Static<typeof WebhookDelivery>;
