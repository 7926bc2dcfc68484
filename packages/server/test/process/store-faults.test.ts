import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres, type TestDatabase } from '../helpers/dialects.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { NO_LIMITS } from '../helpers/test-app.js';
import { createToken, killAllServers, postToken, selfStatus, setupAdmin, startServer, storeEnv, type CreatedToken, type HttpSession, type ServerProcess } from '../helpers/server-process.js';

/**
 * Store faults between one keyfob process and PostgreSQL, made by a TCP proxy: connections reset,
 * a black-holed path, added latency. For a token keyfob cannot check it answers 503 with
 * Retry-After within its configured timeouts, never 2xx; its pool never holds more connections
 * than configured; and it recovers by itself within seconds once the path is back. (A listener
 * cut on its own, and PostgreSQL refusing connections, are in multi-instance.test.ts.)
 */

const POOL_MAX = 4;
const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 1000;
/** The longest a request may take to fail: a connect timeout, or a statement timeout plus the client's grace second, plus slack. */
const FAIL_WITHIN_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + 1000 + 1500;
const RECOVER_WITHIN_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.skipIf(!postgres.available)('store faults through a TCP proxy (PostgreSQL)', () => {
  let db: TestDatabase;
  let proxy: FaultProxy;
  let server: ServerProcess;
  let admin: HttpSession;

  beforeAll(async () => {
    db = await postgres.create();
    const target = new URL(db.url);
    proxy = await FaultProxy.start(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(db.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    server = await startServer({
      ...storeEnv('postgres', db),
      ...NO_LIMITS,
      DATABASE_URL: viaProxy.toString(),
      KEYFOB_DB_POOL_MAX: String(POOL_MAX),
      KEYFOB_DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      KEYFOB_DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      KEYFOB_HEARTBEAT_MS: '200',
    });
    admin = await setupAdmin(server, 'admin', 'admin-password-1');
  }, 60_000);
  afterAll(async () => {
    await killAllServers();
    await proxy?.close();
    await db?.drop();
  });

  /** Fresh tokens: never verified, so never cached. */
  async function freshTokens(n: number): Promise<CreatedToken[]> {
    const out: CreatedToken[] = [];
    for (let i = 0; i < n; i++) out.push(await createToken(server, admin, `fault-${Date.now()}-${i}`));
    return out;
  }

  /** Verifies `token`, timing the answer. */
  async function timedSelf(token: string): Promise<{ status: number; ms: number; retryAfter: string | null }> {
    const started = performance.now();
    const res = await server.fetch('/api/v1/tokens/self', { headers: { authorization: `Bearer ${token}` } });
    await res.text();
    return { status: res.status, ms: performance.now() - started, retryAfter: res.headers.get('retry-after') };
  }

  async function expectRecovery(token: string): Promise<number> {
    const started = performance.now();
    for (;;) {
      const { status } = await selfStatus(server, token);
      if (status === 200) return performance.now() - started;
      expect(status, 'while recovering, a token is refused with 503, never passed or called unknown').toBe(503);
      if (performance.now() - started > RECOVER_WITHIN_MS) throw new Error(`not recovered within ${RECOVER_WITHIN_MS} ms`);
      await sleep(100);
    }
  }

  /** keyfob's own count of its pool's connections (GET /metrics). */
  async function poolTotal(): Promise<number> {
    const text = await (await server.fetch('/metrics')).text();
    return Number(/^keyfob_db_pool_connections\{state="total"\} (\d+)/m.exec(text)?.[1] ?? NaN);
  }

  /** Samples, while `during` runs, the pool's size as keyfob reports it and the connections the proxy holds. */
  async function sampled<T>(during: Promise<T>): Promise<{ value: T; pool: number; open: number }> {
    let pool = 0;
    let open = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        open = Math.max(open, proxy.openConnections);
        pool = Math.max(pool, await poolTotal());
        await sleep(20);
      }
    })();
    const value = await during.finally(() => {
      done = true;
    });
    await sampler;
    return { value, pool, open };
  }

  async function faultPhase(name: string, fault: () => void, tokens: readonly CreatedToken[], cached: CreatedToken): Promise<void> {
    fault();
    // Concurrent requests for tokens it cannot check: each fails closed, in time.
    const writes = Promise.all([0, 1, 2, 3].map((i) => postToken(server, admin, `during-${name}-${i}`).then((res) => res.status)));
    const { value: answers, pool, open } = await sampled(Promise.all(tokens.map((t) => timedSelf(t.token))));
    for (const status of await writes) expect(status, `${name}: a write`).toBe(503);
    expect(pool, `${name}: pool connections`).toBeLessThanOrEqual(POOL_MAX);
    // The pool, the listener, and a replacement listener being set up while the old one closes.
    expect(open, `${name}: connections held through the proxy`).toBeLessThanOrEqual(POOL_MAX + 2);
    for (const a of answers) {
      expect(a.status, `${name}: a token that cannot be checked`).toBe(503);
      expect(Number(a.retryAfter), `${name}: Retry-After`).toBeGreaterThanOrEqual(1);
      expect(a.ms, `${name}: answered within the configured timeouts`).toBeLessThan(FAIL_WITHIN_MS);
    }
    // A cached token is not served either once the listener is gone (the cache is not trusted).
    await sleep(1000);
    const cachedAnswer = await timedSelf(cached.token);
    expect(cachedAnswer.status, `${name}: a cached token while the store (and its listener) is unreachable`).not.toBe(200);
    proxy.forward();
    const recoveredMs = await expectRecovery(tokens[0]!.token);
    console.log(`[store-faults] ${name}: 503s in ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms at most; recovered ${Math.round(recoveredMs)} ms after the path came back`);
    expect((await selfStatus(server, cached.token)).status).toBe(200);
    // Writes work again too, at once: no connection the fault left dead is handed out again.
    for (let i = 0; i < POOL_MAX + 2; i++) expect((await postToken(server, admin, `after-${name}-${i}`)).status, `${name}: write ${i} after recovery`).toBe(201);
  }

  it('connections reset: 503 at once, then recovery', { timeout: 60_000 }, async () => {
    const [cached, ...tokens] = await freshTokens(9);
    expect((await selfStatus(server, cached!.token)).status).toBe(200);
    await faultPhase('reset', () => proxy.reset(), tokens, cached!);
  });

  it('a black-holed path (no answer, no FIN, no RST): 503 within the timeouts, the pool stays bounded, then recovery', { timeout: 90_000 }, async () => {
    const [cached, ...tokens] = await freshTokens(17);
    expect((await selfStatus(server, cached!.token)).status).toBe(200);
    await faultPhase('black hole', () => proxy.blackhole(), tokens, cached!);
  });

  it('writes caught in a black hole leave no dead connection behind for the writes after it', { timeout: 60_000 }, async () => {
    // Only writes during the fault (verifications hand failed connections back through another
    // path): each write's connection hangs, times out and must be closed, not pooled again.
    expect((await postToken(server, admin, 'before-write-hole')).status).toBe(201);
    proxy.blackhole();
    const during = await Promise.all(Array.from({ length: POOL_MAX }, (_, i) => postToken(server, admin, `in-write-hole-${i}`).then((r) => r.status)));
    expect(during).toEqual(Array(POOL_MAX).fill(503));
    proxy.forward();
    for (let i = 0; i < POOL_MAX + 2; i++) expect((await postToken(server, admin, `after-write-hole-${i}`)).status, `write ${i} after the path came back`).toBe(201);
  });

  it('latency below the statement timeout slows answers but they stay right; past it they fail closed', { timeout: 60_000 }, async () => {
    const tokens = await freshTokens(4);
    proxy.delay(100);
    for (const t of tokens.slice(0, 2)) expect((await timedSelf(t.token)).status).toBe(200);
    proxy.delay(STATEMENT_TIMEOUT_MS + 1500);
    const slow = await timedSelf(tokens[2]!.token);
    expect(slow.status).toBe(503);
    expect(slow.ms).toBeLessThan(FAIL_WITHIN_MS);
    proxy.forward();
    await expectRecovery(tokens[3]!.token);
  });
});
