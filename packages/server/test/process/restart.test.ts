import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDatabase } from '../helpers/dialects.js';
import {
  bearer,
  createToken,
  deleteToken,
  killAllServers,
  readJson,
  login,
  selfStatus,
  sessionHeaders,
  setupAdmin,
  startServer,
  storeEnv,
  type HttpSession,
  type ServerProcess,
} from '../helpers/server-process.js';

/**
 * The real server process across graceful restarts: SIGTERM exits 0 after flushing the
 * write-behind usage; tokens and revocations survive a restart on the same store.
 */
const ADMIN = { username: 'admin', password: 'admin-password-1' };

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`process restart (${dialect.name})`, () => {
    let db: TestDatabase | undefined;

    afterEach(async () => {
      await killAllServers();
      await db?.drop();
      db = undefined;
    });

    it('stops at once on SIGTERM with a request in flight on a keep-alive connection, and still flushes last use', { timeout: 120_000 }, async () => {
      db = await dialect.create();
      const env = { ...storeEnv(dialect.name, db), KEYFOB_USAGE_FLUSH_MS: '600000' };
      let server: ServerProcess = await startServer(env);
      const admin: HttpSession = await setupAdmin(server, ADMIN.username, ADMIN.password);
      const { token, id } = await createToken(server, admin, 'ci');
      expect((await selfStatus(server, token)).status).toBe(200);

      // A request whose body is still coming when SIGTERM arrives, on a connection the client keeps.
      const socket = net.connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('error', () => {}); // the assertions below say what went wrong
      const body = 'token=abcde';
      socket.write(`POST /oauth/introspect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      server.child.kill('SIGTERM');
      for (let waited = 0; !server.stdout().includes('stopping: draining'); waited++) {
        if (waited > 200) throw new Error('the server did not begin to stop');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      socket.write(body);
      try {
        // Answered, then closed once idle: before, the connection stayed open for the keep-alive
        // timeout and the process was killed at 15 s with exit code 1, its usage unflushed.
        expect(await server.exited).toEqual({ code: 0, signal: null });
        expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      } finally {
        socket.destroy();
      }

      server = await startServer(env);
      const session = (await login(server, ADMIN.username, ADMIN.password)).session!;
      const after = await server.fetch(`/api/v1/me/tokens/${id}`, { headers: sessionHeaders(session) });
      expect((await readJson(after)).lastUsedAt).not.toBeNull();
      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    });

    it('flushes last use on SIGTERM, keeps tokens across restarts and keeps revocations', { timeout: 120_000 }, async () => {
      db = await dialect.create();
      // Only the shutdown flush can write last use: the periodic flush is 10 minutes away.
      const env = { ...storeEnv(dialect.name, db), KEYFOB_USAGE_FLUSH_MS: '600000' };

      // --- first run: set up, create a token, use it
      let server: ServerProcess = await startServer(env);
      const admin: HttpSession = await setupAdmin(server, ADMIN.username, ADMIN.password);
      expect(admin.user.role).toBe('admin');
      const { token, id } = await createToken(server, admin, 'ci');

      const used = await server.fetch('/api/v1/me/tokens', { headers: bearer(token) });
      expect(used.status).toBe(200);
      const list = await readJson(used);
      expect(list.items.map((p: { id: string }) => p.id)).toContain(id);

      // The use is still pending in memory: nothing has written it yet.
      const before = await server.fetch(`/api/v1/me/tokens/${id}`, { headers: sessionHeaders(admin) });
      expect(before.status).toBe(200);
      expect((await readJson(before)).lastUsedAt).toBeNull();

      const firstExit = await server.stop('SIGTERM');
      expect(firstExit).toEqual({ code: 0, signal: null });

      // --- second run: the shutdown flush wrote last use; the token still works; revoke it
      server = await startServer(env);
      const signedIn = await login(server, ADMIN.username, ADMIN.password);
      expect(signedIn.status).toBe(200);
      const session = signedIn.session!;

      const after = await server.fetch(`/api/v1/me/tokens/${id}`, { headers: sessionHeaders(session) });
      expect(after.status).toBe(200);
      const pat = await readJson(after);
      expect(pat.lastUsedAt).not.toBeNull();
      expect(Number.isNaN(Date.parse(pat.lastUsedAt))).toBe(false);
      expect(pat.lastUsedIp).toBe('127.0.0.1');
      expect(pat.revokedAt).toBeNull();

      const self = await selfStatus(server, token);
      expect(self.status).toBe(200);
      expect(self.body.id).toBe(id);

      const revoked = await deleteToken(server, session, id);
      expect(revoked.status).toBe(204);
      const refusedNow = await selfStatus(server, token);
      expect(refusedNow.status).toBe(401);
      expect(refusedNow.body.error).toBe('invalid_token');

      const secondExit = await server.stop('SIGTERM');
      expect(secondExit).toEqual({ code: 0, signal: null });

      // --- third run: the revocation held
      server = await startServer(env);
      const refused = await selfStatus(server, token);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_token');
      expect(refused.challenge).toMatch(/error="invalid_token"/);
      const listed = await server.fetch('/api/v1/me/tokens', { headers: bearer(token) });
      expect(listed.status).toBe(401);

      const again = await login(server, ADMIN.username, ADMIN.password);
      expect(again.status).toBe(200);
      const stored = await server.fetch(`/api/v1/me/tokens/${id}`, { headers: sessionHeaders(again.session!) });
      expect(stored.status).toBe(200);
      const storedPat = await readJson(stored);
      expect(storedPat.revokedAt).not.toBeNull();
      expect(storedPat.status).toBe('revoked');

      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    });
  });
}
