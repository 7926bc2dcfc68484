import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDatabase } from '../helpers/dialects.js';
import { NO_LIMITS } from '../helpers/test-app.js';
import {
  deleteToken,
  killAllServers,
  login,
  postToken,
  readJson,
  selfStatus,
  sessionHeaders,
  setupAdmin,
  startServer,
  storeEnv,
  type HttpSession,
  type ServerProcess,
} from '../helpers/server-process.js';

/**
 * kill -9 durability. A client journals every create (201) and revoke (204) the server
 * acknowledges while eight workers hammer it; the server is SIGKILLed at a random moment of each
 * burst, restarted on the same store, and checked against the journal: every acknowledged token
 * verifies, every acknowledged revocation holds, every acknowledged change has its audit event,
 * and no token's plaintext is anywhere in the store (or the logs). Several rounds per store, the
 * journal carried across them; the seed is printed so that a failing run can be replayed with
 * CRASH_SEED.
 */
const ADMIN = { username: 'admin', password: 'admin-password-1' };
const ROUNDS = 5;
const WORKERS = 8;

/** mulberry32: a small seeded generator, so the kill points of a failing run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Journal {
  /** Acknowledged creations: id → plaintext. */
  readonly created: Map<string, string>;
  /** Acknowledged revocations. */
  readonly revoked: Set<string>;
  /** Revocations sent and not acknowledged: either outcome is right. */
  readonly inDoubt: Set<string>;
}

/** Every token in the journal, by what the store must say about it now. */
function expectations(journal: Journal): { mustWork: [string, string][]; mustFail: [string, string][] } {
  const all = [...journal.created];
  return {
    mustWork: all.filter(([id]) => !journal.revoked.has(id) && !journal.inDoubt.has(id)),
    mustFail: all.filter(([id]) => journal.revoked.has(id)),
  };
}

/** Every audit event's action and target, through the admin API. */
async function auditTargets(server: ServerProcess, session: HttpSession): Promise<Map<string, Set<string>>> {
  const byAction = new Map<string, Set<string>>();
  let cursor: string | null = null;
  do {
    const res: Response = await server.fetch(`/api/v1/admin/audit?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: sessionHeaders(session) });
    expect(res.status).toBe(200);
    const page = await readJson(res);
    for (const e of page.items as { action: string; targetId: string | null }[]) {
      if (e.targetId === null) continue;
      let set = byAction.get(e.action);
      if (!set) byAction.set(e.action, (set = new Set()));
      set.add(e.targetId);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return byAction;
}

/** Every byte keyfob keeps: the files of its data folder, or every row of every table of its database as text. */
async function storeContents(dialect: 'sqlite' | 'postgres', db: TestDatabase): Promise<Buffer[]> {
  if (dialect === 'sqlite') {
    const out: Buffer[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else out.push(readFileSync(path));
      }
    };
    walk(db.dir);
    return out;
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public'");
    const out: Buffer[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from "${table_name}" t`);
      out.push(Buffer.from(rows.rows.map((r) => r.row).join('\n')));
    }
    return out;
  } finally {
    await client.end();
  }
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`process crash (${dialect.name})`, () => {
    let db: TestDatabase | undefined;

    afterEach(async () => {
      await killAllServers();
      await db?.drop();
      db = undefined;
    });

    it(`keeps every acknowledged create and revoke, with its audit event, across ${ROUNDS} kill -9 at random moments`, { timeout: 240_000 }, async () => {
      const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 1_000_000);
      const random = seeded(seed);
      console.log(`[crash ${dialect.name}] seed ${seed} (replay with CRASH_SEED=${seed})`);
      db = await dialect.create();
      const env = { ...storeEnv(dialect.name, db), ...NO_LIMITS };
      let server: ServerProcess = await startServer(env);
      let session: HttpSession = await setupAdmin(server, ADMIN.username, ADMIN.password);
      const journal: Journal = { created: new Map(), revoked: new Set(), inDoubt: new Set() };
      const logs: string[] = [];

      for (let round = 1; round <= ROUNDS; round++) {
        const killAfter = 5 + Math.floor(random() * 40);
        const extraDelayMs = Math.floor(random() * 15);
        let acks = 0;
        let killed = false;
        let outstanding = 0;
        let outstandingAtKill = -1;
        let seq = 0;
        const ack = () => {
          if (++acks < killAfter || killed) return;
          killed = true;
          setTimeout(() => {
            outstandingAtKill = outstanding;
            server.killNow();
          }, extraDelayMs);
        };
        const worker = async () => {
          while (!killed && seq < 2000) {
            const n = seq++;
            const active = [...journal.created.keys()].filter((id) => !journal.revoked.has(id) && !journal.inDoubt.has(id));
            const target = active.length > 3 && random() < 0.3 ? active[Math.floor(random() * active.length)] : undefined;
            outstanding++;
            try {
              if (target !== undefined) {
                journal.inDoubt.add(target);
                const res = await deleteToken(server, session, target);
                if (res.status === 204) {
                  journal.inDoubt.delete(target);
                  journal.revoked.add(target);
                  ack();
                }
              } else {
                const res = await postToken(server, session, `r${round}-${n}`);
                if (res.status === 201) {
                  const body = await readJson(res);
                  journal.created.set(body.pat.id, body.token);
                  ack();
                }
              }
            } catch {
              // The connection died with the process: not acknowledged.
            } finally {
              outstanding--;
            }
          }
        };
        await Promise.all(Array.from({ length: WORKERS }, worker));
        expect(killed, `round ${round}: fewer than ${killAfter} acknowledgements in ${seq} requests`).toBe(true);
        expect((await server.exited).signal).toBe('SIGKILL');
        logs.push(server.stdout(), server.stderr());

        if (dialect.name === 'sqlite') {
          // The killed process could not release its lock; the restart must not be stopped by it.
          expect(Number(readFileSync(join(db.dir, 'keyfob.lock'), 'utf8').trim())).toBe(server.pid);
        }
        server = await startServer(env);
        const signedIn = await login(server, ADMIN.username, ADMIN.password);
        expect(signedIn.status).toBe(200);
        session = signedIn.session!;

        const { mustWork, mustFail } = expectations(journal);
        for (const [id, token] of mustWork) {
          const res = await selfStatus(server, token);
          expect(res.status, `round ${round}: acknowledged token ${id} must work after the crash`).toBe(200);
        }
        for (const [id, token] of mustFail) {
          const res = await selfStatus(server, token);
          expect(res.status, `round ${round}: acknowledged revocation of ${id} must hold after the crash`).toBe(401);
        }
        const audit = await auditTargets(server, session);
        for (const id of journal.created.keys()) expect(audit.get('token.created')?.has(id), `round ${round}: audit event of the creation of ${id}`).toBe(true);
        for (const id of journal.revoked) expect(audit.get('token.revoked')?.has(id), `round ${round}: audit event of the revocation of ${id}`).toBe(true);
        console.log(`[crash ${dialect.name}] round ${round}: killed after ${killAfter} acks (+${extraDelayMs} ms, ${outstandingAtKill} requests in flight); journal ${journal.created.size} created, ${journal.revoked.size} revoked, ${journal.inDoubt.size} in doubt`);
      }

      // No plaintext anywhere: not in the store's files (or rows), not in any log of any round.
      const contents = await storeContents(dialect.name, db);
      logs.push(server.stdout(), server.stderr());
      const allLogs = logs.join('\n');
      for (const token of journal.created.values()) {
        const secret = token.slice(-20);
        for (const bytes of contents) expect(bytes.includes(secret), 'a token plaintext in the store').toBe(false);
        expect(allLogs.includes(secret), 'a token plaintext in the logs').toBe(false);
      }

      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      if (dialect.name === 'sqlite') expect(existsSync(join(db.dir, 'keyfob.lock'))).toBe(false);
    });
  });
}
