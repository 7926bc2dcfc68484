import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/**
 * Spawns the real built server (`node packages/server/dist/main.js`) and the CLI
 * (`node packages/server/bin/keyfob.js`) as child processes, for the process-level suites.
 * Every child is tracked; call `killAllServers()` in afterEach/afterAll.
 */

const SERVER_PACKAGE = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
export const CLI_JS = fileURLToPath(new URL('../../bin/keyfob.js', import.meta.url));

export const PG_SECRET = 'process-test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();

/** A free loopback port: listen on port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * The environment of a child: the parent's, without any keyfob setting or DATABASE_URL that
 * could leak in from the developer's shell, plus `env` (an undefined value removes a variable).
 */
function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('KEYFOB_') || k === 'DATABASE_URL' || k === 'NODE_OPTIONS') continue;
    out[k] = v;
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

interface Spawned {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

function spawnTracked(args: readonly string[], env: Record<string, string | undefined>, input?: string): Spawned {
  const child = spawn(process.execPath, [...args], {
    cwd: SERVER_PACKAGE,
    env: childEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  child.stdin!.on('error', () => {});
  if (input !== undefined) child.stdin!.end(input);
  else child.stdin!.end();
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      live.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  return {
    child,
    exited,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

export interface ServerProcess {
  readonly port: number;
  readonly baseUrl: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and waits (bounded) for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
  /** SIGKILL, synchronously sent; await `exited` for the end. */
  killNow(): void;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface StartOptions {
  /** How long to wait for /healthz. */
  readonly timeoutMs?: number;
  /** Listen on this port (a restart at the same address) instead of a free one. */
  readonly port?: number;
}

/**
 * Starts `node dist/main.js` on a free loopback port with `env` and waits until /healthz answers
 * 200. Rejects (with the child's output) if the child exits first or the wait times out.
 */
export async function startServer(env: Record<string, string | undefined>, options: StartOptions = {}): Promise<ServerProcess> {
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort());
    const spawned = spawnTracked([MAIN_JS], { KEYFOB_LOG_LEVEL: 'info', ...env, KEYFOB_PORT: String(port), KEYFOB_HOST: '127.0.0.1' });
    try {
      await waitHealthy(port, spawned, options.timeoutMs ?? 20_000);
    } catch (error) {
      spawned.child.kill('SIGKILL');
      await spawned.exited;
      // Someone else took the port between our probe and the child's listen: try another one.
      if (attempt < 3 && /EADDRINUSE/.test(spawned.stdout() + spawned.stderr())) continue;
      throw error;
    }
    const baseUrl = `http://127.0.0.1:${port}`;
    return {
      port,
      baseUrl,
      pid: spawned.child.pid!,
      child: spawned.child,
      exited: spawned.exited,
      stdout: spawned.stdout,
      stderr: spawned.stderr,
      async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) {
        if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill(signal);
        try {
          return await withTimeout(spawned.exited, timeoutMs, `server pid ${spawned.child.pid} to exit after ${signal}`);
        } catch (error) {
          spawned.child.kill('SIGKILL');
          await spawned.exited;
          throw error;
        }
      },
      killNow() {
        spawned.child.kill('SIGKILL');
      },
      fetch(path: string, init?: RequestInit) {
        return fetch(`${baseUrl}${path}`, { ...init, signal: init?.signal ?? AbortSignal.timeout(15_000) });
      },
    };
  }
}

async function waitHealthy(port: number, spawned: Spawned, timeoutMs: number): Promise<void> {
  let exited: Exit | undefined;
  void spawned.exited.then((e) => {
    exited = e;
  });
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exited) {
      throw new Error(`server exited (${exited.code ?? exited.signal}) before it was healthy\nstdout:\n${spawned.stdout()}\nstderr:\n${spawned.stderr()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
      await res.body?.cancel();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server on port ${port} not healthy within ${timeoutMs} ms\nstdout:\n${spawned.stdout()}\nstderr:\n${spawned.stderr()}`);
}

export interface RunResult extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the server entry expecting it to exit on its own (refused start), bounded in time. */
export async function runServerToExit(env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<RunResult> {
  const port = await freePort();
  return runToExit([MAIN_JS], { KEYFOB_LOG_LEVEL: 'info', KEYFOB_PORT: String(port), KEYFOB_HOST: '127.0.0.1', ...env }, undefined, timeoutMs);
}

/** Runs `keyfob <args>` (bin/keyfob.js) to completion, bounded in time. */
export function runCli(args: readonly string[], env: Record<string, string | undefined>, input?: string, timeoutMs = 30_000): Promise<RunResult> {
  return runToExit([CLI_JS, ...args], env, input, timeoutMs);
}

async function runToExit(args: readonly string[], env: Record<string, string | undefined>, input: string | undefined, timeoutMs: number): Promise<RunResult> {
  const spawned = spawnTracked(args, env, input);
  let exit: Exit;
  try {
    exit = await withTimeout(spawned.exited, timeoutMs, `${args.join(' ')} to exit`);
  } catch (error) {
    spawned.child.kill('SIGKILL');
    await spawned.exited;
    throw new Error(`${(error as Error).message}\nstdout:\n${spawned.stdout()}\nstderr:\n${spawned.stderr()}`);
  }
  return { ...exit, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

/** SIGKILLs every child still running and waits for them; for afterEach/afterAll. */
export async function killAllServers(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            live.delete(child);
            resolve();
            return;
          }
          const timer = setTimeout(() => resolve(), 5000);
          child.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGKILL');
        }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Talking to the API

export interface HttpSession {
  readonly cookie: string;
  readonly csrf: string;
  readonly user: { id: string; username: string; role: string };
}

function sessionFrom(res: Response, body: { user: HttpSession['user']; csrfToken: string }): HttpSession {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('keyfob_session='));
  if (!cookie) throw new Error(`no keyfob_session cookie in ${res.status} response`);
  return { cookie: cookie.split(';')[0]!, csrf: body.csrfToken, user: body.user };
}

const json = (body: unknown): RequestInit => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

export async function setupAdmin(server: ServerProcess, username: string, password: string): Promise<HttpSession> {
  const res = await server.fetch('/api/v1/setup', { method: 'POST', ...json({ username, password }) });
  const body = await readJson(res);
  expect(res.status, JSON.stringify(body)).toBe(201);
  return sessionFrom(res, body);
}

/** POST /api/v1/auth/login; returns the response and, on 200, the session. */
export async function login(server: ServerProcess, username: string, password: string): Promise<{ status: number; session?: HttpSession; body: unknown }> {
  const res = await server.fetch('/api/v1/auth/login', { method: 'POST', ...json({ username, password }) });
  const body = await readJson(res);
  return res.status === 200 ? { status: 200, session: sessionFrom(res, body), body } : { status: res.status, body };
}

export function sessionHeaders(session: HttpSession, extra: Record<string, string> = {}): Record<string, string> {
  return { cookie: session.cookie, 'x-csrf-token': session.csrf, ...extra };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface CreatedToken {
  readonly token: string;
  readonly id: string;
}

/** POST /api/v1/me/tokens; returns the raw response (callers decide what an acknowledgement is). */
export function postToken(server: ServerProcess, session: HttpSession, name: string): Promise<Response> {
  return server.fetch('/api/v1/me/tokens', {
    method: 'POST',
    headers: sessionHeaders(session, { 'content-type': 'application/json' }),
    body: JSON.stringify({ name, scopes: ['tokens:read'], expiresInDays: 30 }),
  });
}

export async function createToken(server: ServerProcess, session: HttpSession, name: string): Promise<CreatedToken> {
  const res = await postToken(server, session, name);
  const body = await readJson(res);
  expect(res.status, JSON.stringify(body)).toBe(201);
  return { token: body.token, id: body.pat.id };
}

export function deleteToken(server: ServerProcess, session: HttpSession, id: string): Promise<Response> {
  return server.fetch(`/api/v1/me/tokens/${id}`, { method: 'DELETE', headers: sessionHeaders(session) });
}

/** GET /api/v1/tokens/self with the token: the status (and body) tell whether it still works. */
export async function selfStatus(server: ServerProcess, token: string): Promise<{ status: number; body: any; challenge: string | null }> {
  const res = await server.fetch('/api/v1/tokens/self', { headers: bearer(token) });
  return { status: res.status, body: await res.json(), challenge: res.headers.get('www-authenticate') };
}

/**
 * The store part of a server's environment: SQLite under the scratch data folder (DATABASE_URL
 * unset, the secret file generated there), or the scratch PostgreSQL database with a shared secret.
 */
export function storeEnv(dialect: 'sqlite' | 'postgres', db: { url: string; dir: string }): Record<string, string | undefined> {
  return dialect === 'postgres'
    ? { KEYFOB_DATA_DIR: db.dir, DATABASE_URL: db.url, KEYFOB_SECRET: PG_SECRET }
    : { KEYFOB_DATA_DIR: db.dir, DATABASE_URL: undefined, KEYFOB_SECRET: undefined };
}

/** The JSON body of a response, untyped (tests assert on its fields). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readJson(res: Response): Promise<any> {
  return (await res.json()) as unknown;
}
