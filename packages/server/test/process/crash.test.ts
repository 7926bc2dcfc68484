import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDatabase } from '../helpers/dialects.js';
import {
  createToken,
  deleteToken,
  killAllServers,
  readJson,
  login,
  postToken,
  selfStatus,
  sessionHeaders,
  setupAdmin,
  startServer,
  storeEnv,
  type CreatedToken,
  type HttpSession,
  type ServerProcess,
} from '../helpers/server-process.js';

/**
 * kill -9 durability: whatever the server acknowledged (201 create, 204 revoke) before it was
 * SIGKILLed in the middle of a burst is still true after a restart on the same store.
 */
const ADMIN = { username: 'admin', password: 'admin-password-1' };
const INITIAL_TOKENS = 20;
const WORKERS = 8;
const KILL_AFTER_ACKS = 25;

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`process crash (${dialect.name})`, () => {
    let db: TestDatabase | undefined;

    afterEach(async () => {
      await killAllServers();
      await db?.drop();
      db = undefined;
    });

    it('keeps every acknowledged create and revoke after SIGKILL mid-burst', { timeout: 120_000 }, async () => {
      db = await dialect.create();
      const env = storeEnv(dialect.name, db);
      let server: ServerProcess = await startServer(env);
      const admin: HttpSession = await setupAdmin(server, ADMIN.username, ADMIN.password);

      // Phase 1: sequential creates and revocations, every one acknowledged.
      const created: CreatedToken[] = [];
      for (let i = 0; i < INITIAL_TOKENS; i++) created.push(await createToken(server, admin, `initial-${i}`));
      const revokedIds = new Set<string>();
      for (const [i, t] of created.entries()) {
        if (i % 4 !== 0) continue;
        const res = await deleteToken(server, admin, t.id);
        expect(res.status).toBe(204);
        revokedIds.add(t.id);
      }
      // Some tokens have pending usage in memory when the process dies.
      for (const t of created.slice(0, 6)) await selfStatus(server, t.token);

      // Phase 2: a burst of concurrent creates (and a few revocations), SIGKILL after some acks.
      const revocable = created.filter((t) => !revokedIds.has(t.id)).slice(0, 6);
      let killed = false;
      let acks = 0;
      let outstanding = 0;
      let outstandingAtKill = -1;
      let failures = 0;
      let seq = 0;
      const burstCreated: CreatedToken[] = [];
      const unacknowledgedRevocations = new Set<string>();

      const ack = () => {
        acks++;
        if (!killed && acks >= KILL_AFTER_ACKS) {
          killed = true;
          // Requests other workers have sent and not yet seen answered.
          outstandingAtKill = outstanding;
          server.killNow();
        }
      };

      const worker = async (w: number) => {
        while (!killed && seq < 500) {
          const n = seq++;
          const revokeTarget = w === 0 && n % 3 === 0 ? revocable.shift() : undefined;
          outstanding++;
          try {
            if (revokeTarget) {
              unacknowledgedRevocations.add(revokeTarget.id);
              const res = await deleteToken(server, admin, revokeTarget.id);
              if (res.status === 204) {
                unacknowledgedRevocations.delete(revokeTarget.id);
                revokedIds.add(revokeTarget.id);
                outstanding--;
                ack();
              } else {
                outstanding--;
                failures++;
              }
            } else {
              const res = await postToken(server, admin, `burst-${n}`);
              if (res.status === 201) {
                const body = await readJson(res);
                burstCreated.push({ token: body.token, id: body.pat.id });
                outstanding--;
                ack();
              } else {
                outstanding--;
                failures++;
              }
            }
          } catch {
            // The connection died with the process: not acknowledged.
            outstanding--;
            failures++;
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

      expect(killed, `fewer than ${KILL_AFTER_ACKS} acknowledgements in ${seq} requests`).toBe(true);
      const exit = await server.exited;
      expect(exit.signal).toBe('SIGKILL');
      // The kill really landed in the middle of the burst.
      expect(outstandingAtKill).toBeGreaterThan(0);
      expect(burstCreated.length).toBeGreaterThan(0);

      if (dialect.name === 'sqlite') {
        // The killed process could not release its lock: it is still there, naming a dead pid.
        const lock = join(db.dir, 'keyfob.lock');
        expect(existsSync(lock)).toBe(true);
        expect(Number(readFileSync(lock, 'utf8').trim())).toBe(server.pid);
      }

      // Restart on the same store: a stale lock must not stop it.
      server = await startServer(env);

      const mustWork = [...created, ...burstCreated].filter((t) => !revokedIds.has(t.id) && !unacknowledgedRevocations.has(t.id));
      const mustFail = [...created].filter((t) => revokedIds.has(t.id));
      expect(mustWork.length).toBeGreaterThan(INITIAL_TOKENS / 2);
      expect(mustFail.length).toBeGreaterThan(0);

      for (const t of mustWork) {
        const res = await selfStatus(server, t.token);
        expect(res.status, `acknowledged token ${t.id} must work after the crash`).toBe(200);
        expect(res.body.id).toBe(t.id);
      }
      for (const t of mustFail) {
        const res = await selfStatus(server, t.token);
        expect(res.status, `acknowledged revocation of ${t.id} must hold after the crash`).toBe(401);
        expect(res.body.error).toBe('invalid_token');
      }

      // The store lists every acknowledged token, with its acknowledged state.
      const signedIn = await login(server, ADMIN.username, ADMIN.password);
      expect(signedIn.status).toBe(200);
      const listed = new Map<string, { status: string }>();
      let cursor: string | null = null;
      do {
        const res: Response = await server.fetch(`/api/v1/me/tokens?status=all&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
          headers: sessionHeaders(signedIn.session!),
        });
        expect(res.status).toBe(200);
        const page = await readJson(res);
        for (const p of page.items) listed.set(p.id, p);
        cursor = page.nextCursor;
      } while (cursor);
      for (const t of mustWork) expect(listed.get(t.id)?.status).toBe('active');
      for (const t of mustFail) expect(listed.get(t.id)?.status).toBe('revoked');

      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      if (dialect.name === 'sqlite') expect(existsSync(join(db.dir, 'keyfob.lock'))).toBe(false);
    });
  });
}
