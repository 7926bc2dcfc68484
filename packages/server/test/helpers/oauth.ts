import { asSession, type Session, type TestApp } from './test-app.js';

export const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const PAT_TYPE = 'urn:keyfob:params:oauth:token-type:personal_access_token';

export interface TestClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export async function createClient(t: TestApp, admin: Session, body: Record<string, unknown> = {}): Promise<TestClient> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: asSession(admin), payload: { name: 'gateway', ...body } });
  if (res.statusCode !== 201) throw new Error(`client create failed: ${res.statusCode} ${res.body}`);
  return { clientId: res.json().clientId, clientSecret: res.json().clientSecret };
}

export function basic(client: TestClient): Record<string, string> {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return { authorization: `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret)}`).toString('base64')}` };
}

/** A form body; repeated parameters are given as arrays. */
export function formBody(params: Record<string, string | string[]>): string {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  return body.toString();
}

/** POSTs a form body; repeated parameters are given as arrays. */
export function form(t: TestApp, url: string, params: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: formBody(params) });
}

/** The first number `pattern` captures in /metrics, or 0 when the series is not there yet. */
export async function metric(t: TestApp, pattern: RegExp): Promise<number> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(pattern.exec(text)?.[1] ?? 0);
}

export function exchangeParams(subjectToken: string, extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return { grant_type: GRANT, subject_token: subjectToken, subject_token_type: PAT_TYPE, resource: 'https://api.example.com', ...extra };
}

export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
}
