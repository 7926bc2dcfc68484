import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bearer,
  createToken,
  killAllServers,
  readJson,
  login,
  runCli,
  runServerToExit,
  selfStatus,
  sessionHeaders,
  setupAdmin,
  startServer,
  storeEnv,
} from '../helpers/server-process.js';

/** SQLite, single process: the data-folder lock, the secret file, bootstrap, the CLI, and secrecy. */
describe('process lifecycle (sqlite)', () => {
  let dir: string;
  let env: Record<string, string | undefined>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyfob-process-'));
    env = storeEnv('sqlite', { url: '', dir });
  });

  afterEach(async () => {
    await killAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second process on the same data folder while the first runs', { timeout: 60_000 }, async () => {
    const first = await startServer(env);
    const second = await runServerToExit(env);
    expect(second.code).not.toBe(0);
    expect(second.code).not.toBeNull();
    expect(second.stdout + second.stderr).toMatch(/another keyfob process/);
    expect(second.stdout + second.stderr).toContain(String(first.pid));

    // The refused process did not disturb the first one or its lock.
    const health = await first.fetch('/healthz');
    expect(health.status).toBe(200);
    expect(readFileSync(join(dir, 'keyfob.lock'), 'utf8').trim()).toBe(String(first.pid));

    // The CLI is refused the same way while the server holds the folder.
    const cli = await runCli(['users', 'list', '--json'], env);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/another keyfob process/);

    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    // Once the first has stopped, a new process may start.
    const third = await startServer(env);
    expect(await third.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('generates <dataDir>/secret with mode 0600 and keeps it across restarts', { timeout: 60_000 }, async () => {
    const server = await startServer(env);
    const path = join(dir, 'secret');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const secret = readFileSync(path, 'utf8');
    expect(secret.trim().length).toBeGreaterThanOrEqual(32);
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const again = await startServer(env);
    expect(readFileSync(path, 'utf8')).toBe(secret);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('creates the KEYFOB_ADMIN_USERNAME admin at first start and ignores it once users exist', { timeout: 90_000 }, async () => {
    const boot = { KEYFOB_ADMIN_USERNAME: 'root', KEYFOB_ADMIN_PASSWORD: 'root-password-1' };
    let server = await startServer({ ...env, ...boot });
    const setup = await server.fetch('/api/v1/setup');
    expect(setup.status).toBe(200);
    expect((await readJson(setup)).needed).toBe(false);
    // Setup is closed: nobody can claim the first admin any more.
    const claim = await server.fetch('/api/v1/setup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'intruder', password: 'intruder-password-1' }),
    });
    expect(claim.status).toBeGreaterThanOrEqual(400);
    expect(claim.status).toBeLessThan(500);

    const root = await login(server, 'root', 'root-password-1');
    expect(root.status).toBe(200);
    expect(root.session!.user.role).toBe('admin');
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    // Other bootstrap credentials on a later start: ignored, since a user exists.
    server = await startServer({ ...env, KEYFOB_ADMIN_USERNAME: 'other', KEYFOB_ADMIN_PASSWORD: 'other-password-1' });
    expect((await login(server, 'other', 'other-password-1')).status).toBe(401);
    expect((await login(server, 'root', 'root-password-1')).status).toBe(200);
    // Same username, new password: also ignored (no reset of an existing account).
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    server = await startServer({ ...env, KEYFOB_ADMIN_USERNAME: 'root', KEYFOB_ADMIN_PASSWORD: 'changed-password-1' });
    expect((await login(server, 'root', 'changed-password-1')).status).toBe(401);
    expect((await login(server, 'root', 'root-password-1')).status).toBe(200);
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const users = await runCli(['users', 'list', '--json'], env);
    expect(users.code, users.stderr).toBe(0);
    const list = JSON.parse(users.stdout) as { username: string; role: string }[];
    expect(list.map((u) => u.username)).toEqual(['root']);
    expect(list[0]!.role).toBe('admin');
  });

  it('`keyfob users create alice --admin` with the server stopped, then alice signs in as admin', { timeout: 90_000 }, async () => {
    const created = await runCli(['users', 'create', 'alice', '--admin', '--json'], { ...env, KEYFOB_USER_PASSWORD: 'alice-password-1' });
    expect(created.code, created.stderr).toBe(0);
    const user = JSON.parse(created.stdout);
    expect(user.username).toBe('alice');
    expect(user.role).toBe('admin');
    // The password is not echoed.
    expect(created.stdout + created.stderr).not.toContain('alice-password-1');

    const server = await startServer(env);
    const setup = await server.fetch('/api/v1/setup');
    expect((await readJson(setup)).needed).toBe(false);
    const alice = await login(server, 'alice', 'alice-password-1');
    expect(alice.status).toBe(200);
    expect(alice.session!.user.username).toBe('alice');
    expect(alice.session!.user.role).toBe('admin');
    const admins = await server.fetch('/api/v1/admin/users', { headers: sessionHeaders(alice.session!) });
    expect(admins.status).toBe(200);
    expect((await login(server, 'alice', 'wrong-password-1')).status).toBe(401);
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    // The password may also come from standard input.
    const bob = await runCli(['users', 'create', 'bob', '--json'], env, 'bob-password-1\n');
    expect(bob.code, bob.stderr).toBe(0);
    expect(JSON.parse(bob.stdout).role).toBe('user');
    const again = await startServer(env);
    const signedIn = await login(again, 'bob', 'bob-password-1');
    expect(signedIn.status).toBe(200);
    expect(signedIn.session!.user.role).toBe('user');
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('never writes a plaintext token to the data folder or the logs, even when misplaced in a URL', { timeout: 90_000 }, async () => {
    // The most verbose level: nothing may leak even there.
    const server = await startServer({ ...env, KEYFOB_LOG_LEVEL: 'trace', KEYFOB_ACCESS_LOG: 'on' });
    const admin = await setupAdmin(server, 'admin', 'admin-password-1');
    const { token, id } = await createToken(server, admin, 'secret-one');
    const secretPart = token.slice(token.lastIndexOf('_') + 1);
    expect(secretPart.length).toBeGreaterThanOrEqual(40);

    expect((await selfStatus(server, token)).status).toBe(200);
    const listed = await server.fetch('/api/v1/me/tokens', { headers: bearer(token) });
    expect(listed.status).toBe(200);

    // D5: a token in a query string or form body is refused with 400 invalid_request.
    for (const path of [`/api/v1/tokens/self?access_token=${token}`, `/api/v1/me/tokens?access_token=${token}`, `/api/v1/tokens/self?token=${token}`]) {
      const res = await server.fetch(path);
      expect(res.status, path).toBe(400);
      expect((await readJson(res)).error).toBe('invalid_request');
    }
    const form = await server.fetch('/api/v1/me/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `access_token=${token}&name=x`,
    });
    expect(form.status).toBe(400);
    expect((await readJson(form)).error).toBe('invalid_request');
    // A wrong-scheme header carrying the token is also refused without echoing it.
    const basic = await server.fetch('/api/v1/tokens/self', { headers: { authorization: `Token ${token}` } });
    expect(basic.status).toBe(400);
    expect(await basic.text()).not.toContain(secretPart);

    // The token is readable through its metadata only as a display hint.
    const meta = await server.fetch(`/api/v1/me/tokens/${id}`, { headers: sessionHeaders(admin) });
    expect(await meta.text()).not.toContain(secretPart);

    const scan = (when: string) => {
      let all = Buffer.alloc(0);
      for (const name of readdirSync(dir, { recursive: true }) as string[]) {
        const path = join(dir, name);
        let bytes: Buffer;
        try {
          if (!statSync(path).isFile()) continue;
          bytes = readFileSync(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile (-shm, lock)
          throw error;
        }
        expect(bytes.includes(Buffer.from(token)), `${when}: ${name} holds the token`).toBe(false);
        expect(bytes.includes(Buffer.from(secretPart)), `${when}: ${name} holds the token's secret part`).toBe(false);
        all = Buffer.concat([all, bytes]);
      }
      // Positive control: the scan does read the store, which holds the token's row.
      expect(all.includes(Buffer.from(id)), `${when}: the token id is somewhere in the data folder`).toBe(true);
    };
    // While running (the WAL holds the recent writes) ...
    const files = readdirSync(dir);
    expect(files).toContain('keyfob.db');
    scan('while running');

    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    // ... and after a graceful stop (usage flushed, WAL checkpointed or left behind).
    scan('after stop');

    const logs = server.stdout() + server.stderr();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toMatch(/access_token|tokens\/self/); // the refused requests were logged ...
    expect(logs).not.toContain(token); // ... without the token
    expect(logs).not.toContain(secretPart);
  });

  it('refuses to start with a non-loopback http:// KEYFOB_BASE_URL', { timeout: 30_000 }, async () => {
    const res = await runServerToExit({ ...env, KEYFOB_BASE_URL: 'http://example.com' });
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    expect(res.stdout + res.stderr).toContain('KEYFOB_BASE_URL');
  });
});
