import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { LIMIT_SETTINGS, loadConfig } from '../../src/config/load.js';
import { createContainer, type Container } from '../../src/container.js';
import type { Dialect, TestDatabase } from './dialects.js';
import { ManualClock } from './clock.js';

export const TEST_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly container: Container;
  readonly clock: ManualClock;
  readonly db: TestDatabase;
  /** Every log line the app wrote. */
  readonly logs: string[];
  close(): Promise<void>;
}

export const NO_LIMITS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.values(LIMIT_SETTINGS).map(({ env }) => [env, 'off'])),
);

export async function createTestApp(dialect: Dialect, env: Record<string, string> = {}): Promise<TestApp> {
  const db = await dialect.create();
  const config = loadConfig({
    KEYFOB_DATA_DIR: db.dir,
    DATABASE_URL: db.url,
    KEYFOB_SECRET: TEST_SECRET,
    KEYFOB_LOG_LEVEL: 'info',
    KEYFOB_SESSION_TTL_HOURS: '2160',
    // Request logs on, so that the leak checks over captured logs have something to read.
    KEYFOB_ACCESS_LOG: 'on',
    // Suites send many failed and repeated requests from one address on a clock that stands
    // still; the abuse-limit suite turns the limits it checks back on.
    ...NO_LIMITS,
    ...env,
  });
  const clock = new ManualClock();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const container = await createContainer(config, { clock, startJobs: false });
  const app = await buildApp(container, { logStream });
  await app.ready();
  return {
    app,
    container,
    clock,
    db,
    logs,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

export interface Session {
  readonly cookie: string;
  readonly csrf: string;
  readonly userId: string;
}

export function sessionCookieOf(res: LightMyRequestResponse): string {
  const cookie = res.cookies.find((c) => c.name === 'keyfob_session');
  if (!cookie) throw new Error(`no session cookie in ${res.statusCode} ${res.body}`);
  return `keyfob_session=${cookie.value}`;
}

export const ADMIN = { username: 'admin', password: 'admin-password-1' } as const;

/** Runs first-run setup and returns the admin's session. */
export async function setupAdmin(t: TestApp): Promise<Session> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/setup', payload: ADMIN });
  if (res.statusCode !== 201) throw new Error(`setup failed: ${res.statusCode} ${res.body}`);
  return { cookie: sessionCookieOf(res), csrf: res.json().csrfToken, userId: res.json().user.id };
}

export async function login(t: TestApp, username: string, password: string): Promise<Session> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return { cookie: sessionCookieOf(res), csrf: res.json().csrfToken, userId: res.json().user.id };
}

/** Creates a plain user through the admin API and signs them in. */
export async function createUser(t: TestApp, admin: Session, username: string, role: 'user' | 'admin' = 'user'): Promise<Session> {
  const password = `${username}-password-1`;
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: asSession(admin), payload: { username, password, role } });
  if (res.statusCode !== 201) throw new Error(`user create failed: ${res.statusCode} ${res.body}`);
  return login(t, username, password);
}

export function asSession(session: Session): Record<string, string> {
  return { cookie: session.cookie, 'x-csrf-token': session.csrf };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface CreatedToken {
  readonly token: string;
  readonly id: string;
  readonly pat: Record<string, unknown>;
}

export async function createToken(t: TestApp, session: Session, body: Record<string, unknown> = {}): Promise<CreatedToken> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/me/tokens',
    headers: asSession(session),
    payload: { name: `token-${Math.random().toString(36).slice(2, 8)}`, scopes: ['tokens:read', 'tokens:write'], ...body },
  });
  if (res.statusCode !== 201) throw new Error(`token create failed: ${res.statusCode} ${res.body}`);
  return { token: res.json().token, id: res.json().pat.id, pat: res.json().pat };
}
