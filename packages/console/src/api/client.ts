import type {
  AdminPatDto,
  AuditEventDto,
  CreatedOAuthClientDto,
  CreatedWebhookDto,
  CreatedPatDto,
  MostUsedTokensDto,
  OAuthClientDto,
  PatDto,
  PolicyDto,
  ScopeEntryDto,
  SigningKeyDto,
  SignInOptionsDto,
  TokenAddresses,
  UsageSeries,
  UserDto,
  WebhookDeliveryDto,
  WebhookDto,
} from '@keyfob/protocol';

export type { AdminPatDto, AuditEventDto, CreatedOAuthClientDto, CreatedPatDto, CreatedWebhookDto, MostUsedTokensDto, OAuthClientDto, PatDto, PolicyDto, ScopeEntryDto, SigningKeyDto, SignInOptionsDto, UserDto, WebhookDeliveryDto, WebhookDto };

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every failed request: the API's `{ error, message }`, with the field the message names. */
export class ApiError extends Error {
  readonly field: string | undefined;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
    // Validation messages start with the field: "expiresInDays: must be at most 90".
    const match = /^([A-Za-z][\w.[\]]*): /.exec(message);
    this.field = match?.[1]?.replace(/\[\d+\]$/, '');
  }
}

// The CSRF token lives in memory only: never in localStorage, gone with the tab.
let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the session turns out to be gone, so the app can show the sign-in page. */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | undefined | null>;

async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const url = `/api/v1${path}${params.size > 0 ? `?${params}` : ''}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'network_error', 'keyfob could not be reached; check your connection and try again');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = (data ?? {}) as { error?: string; message?: string };
    const error = new ApiError(res.status, err.error ?? 'server_error', err.message ?? `request failed (${res.status})`);
    if (res.status === 401 && path !== '/auth/login' && path !== '/auth/session') onUnauthorized?.();
    throw error;
  }
  return data as T;
}

export interface SessionInfo {
  user: UserDto;
  csrfToken: string;
}

export interface CreatePatInput {
  name: string;
  description?: string;
  scopes: string[];
  expiresInDays?: number | null;
  expiresAt?: string;
  audiences?: string[];
  allowedIps?: string[];
}

export const api = {
  setupStatus: () => request<{ needed: boolean }>('GET', '/setup'),
  setup: (body: { username: string; password: string }) => request<SessionInfo>('POST', '/setup', body),
  login: (body: { username: string; password: string }) => request<SessionInfo>('POST', '/auth/login', body),
  signInOptions: () => request<SignInOptionsDto>('GET', '/auth/providers'),
  session: () => request<SessionInfo>('GET', '/auth/session'),
  logout: () => request<void>('POST', '/auth/logout'),
  me: () => request<UserDto>('GET', '/me'),
  updateMe: (body: Record<string, unknown>) => request<UserDto>('PATCH', '/me', body),

  scopes: () => request<Page<ScopeEntryDto>>('GET', '/scopes'),
  policy: () => request<PolicyDto>('GET', '/policy'),
  myTokens: (query: Query) => request<Page<PatDto>>('GET', '/me/tokens', undefined, query),
  myToken: (id: string) => request<PatDto>('GET', `/me/tokens/${encodeURIComponent(id)}`),
  myTokenAddresses: (id: string) => request<TokenAddresses>('GET', `/me/tokens/${encodeURIComponent(id)}/addresses`),
  myTokenUsage: (id: string) => request<UsageSeries>('GET', `/me/tokens/${encodeURIComponent(id)}/usage`, undefined, { days: 30 }),
  myTokenEvents: (id: string) => request<Page<AuditEventDto>>('GET', `/me/tokens/${encodeURIComponent(id)}/events`, undefined, { limit: 50 }),
  createToken: (body: CreatePatInput) => request<CreatedPatDto>('POST', '/me/tokens', body),
  updateToken: (id: string, body: { name?: string; description?: string }) => request<PatDto>('PATCH', `/me/tokens/${encodeURIComponent(id)}`, body),
  revokeToken: (id: string) => request<void>('DELETE', `/me/tokens/${encodeURIComponent(id)}`),
  rotateToken: (id: string) => request<CreatedPatDto>('POST', `/me/tokens/${encodeURIComponent(id)}/rotate`),

  admin: {
    users: (query: Query) => request<Page<UserDto>>('GET', '/admin/users', undefined, query),
    user: (id: string) => request<UserDto>('GET', `/admin/users/${encodeURIComponent(id)}`),
    createUser: (body: { username: string; password: string; role: string; displayName?: string; email?: string | null }) => request<UserDto>('POST', '/admin/users', body),
    updateUser: (id: string, body: Record<string, unknown>) => request<UserDto>('PATCH', `/admin/users/${encodeURIComponent(id)}`, body),
    deleteUser: (id: string) => request<void>('DELETE', `/admin/users/${encodeURIComponent(id)}`),
    tokens: (query: Query) => request<Page<PatDto>>('GET', '/admin/tokens', undefined, query),
    token: (id: string) => request<PatDto>('GET', `/admin/tokens/${encodeURIComponent(id)}`),
    tokenUsage: (id: string) => request<UsageSeries>('GET', `/admin/tokens/${encodeURIComponent(id)}/usage`, undefined, { days: 30 }),
    tokenAddresses: (id: string) => request<TokenAddresses>('GET', `/admin/tokens/${encodeURIComponent(id)}/addresses`),
    mostUsed: (query: Query) => request<MostUsedTokensDto>('GET', '/admin/usage/most-used', undefined, query),
    neverUsed: (query: Query) => request<Page<AdminPatDto>>('GET', '/admin/usage/never-used', undefined, query),
    revokeToken: (id: string) => request<void>('DELETE', `/admin/tokens/${encodeURIComponent(id)}`),
    revokeMatching: (body: { userId?: string; issuedBefore?: string; scope?: string; reason?: string }) => request<{ revoked: number }>('POST', '/admin/tokens/revoke', body),
    policy: () => request<PolicyDto>('GET', '/policy'),
    updatePolicy: (body: Partial<PolicyDto>) => request<PolicyDto>('PUT', '/admin/policy', body),
    scopes: () => request<Page<ScopeEntryDto>>('GET', '/admin/scopes'),
    createScope: (body: { name: string; description?: string }) => request<ScopeEntryDto>('POST', '/admin/scopes', body),
    deleteScope: (name: string) => request<void>('DELETE', `/admin/scopes/${encodeURIComponent(name)}`),
    clients: () => request<Page<OAuthClientDto>>('GET', '/admin/clients'),
    createClient: (body: Record<string, unknown>) => request<CreatedOAuthClientDto>('POST', '/admin/clients', body),
    updateClient: (id: string, body: Record<string, unknown>) => request<OAuthClientDto>('PATCH', `/admin/clients/${encodeURIComponent(id)}`, body),
    rotateClientSecret: (id: string) => request<CreatedOAuthClientDto>('POST', `/admin/clients/${encodeURIComponent(id)}/secret`),
    deleteClient: (id: string) => request<void>('DELETE', `/admin/clients/${encodeURIComponent(id)}`),
    signingKeys: () => request<Page<SigningKeyDto>>('GET', '/admin/signing-keys'),
    rotateSigningKeys: () => request<Page<SigningKeyDto>>('POST', '/admin/signing-keys/rotate'),
    audit: (query: Query) => request<Page<AuditEventDto>>('GET', '/admin/audit', undefined, query),
    webhooks: () => request<Page<WebhookDto>>('GET', '/admin/webhooks'),
    webhook: (id: string) => request<WebhookDto>('GET', `/admin/webhooks/${encodeURIComponent(id)}`),
    createWebhook: (body: { url: string; events: string[]; description?: string }) => request<CreatedWebhookDto>('POST', '/admin/webhooks', body),
    updateWebhook: (id: string, body: { url?: string; events?: string[]; description?: string; active?: boolean }) => request<WebhookDto>('PATCH', `/admin/webhooks/${encodeURIComponent(id)}`, body),
    rotateWebhookSecret: (id: string) => request<CreatedWebhookDto>('POST', `/admin/webhooks/${encodeURIComponent(id)}/secret`),
    deleteWebhook: (id: string) => request<void>('DELETE', `/admin/webhooks/${encodeURIComponent(id)}`),
    webhookDeliveries: (id: string, query: Query) => request<Page<WebhookDeliveryDto>>('GET', `/admin/webhooks/${encodeURIComponent(id)}/deliveries`, undefined, query),
    redeliverWebhook: (id: string, deliveryId: string) => request<WebhookDeliveryDto>('POST', `/admin/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`),
  },
};
