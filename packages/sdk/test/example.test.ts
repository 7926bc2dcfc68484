import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlite, type TestDatabase } from '../../server/test/helpers/dialects.js';
import { NO_LIMITS } from '../../server/test/helpers/test-app.js';
import { freePort, killAllServers, readJson, sessionHeaders, setupAdmin, startServer, storeEnv, type HttpSession, type ServerProcess } from '../../server/test/helpers/server-process.js';

/** examples/resource-server's README walkthrough, run for real: keyfob, the example API, a PAT, a JWT. */
const EXAMPLE = fileURLToPath(new URL('../../../examples/resource-server/server.mjs', import.meta.url));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('examples/resource-server walkthrough', () => {
  let db: TestDatabase;
  let keyfob: ServerProcess;
  let admin: HttpSession;
  let api: ChildProcess | undefined;
  let apiUrl: string;
  let client: { clientId: string; clientSecret: string };

  const asAdmin = (path: string, body: unknown) =>
    keyfob.fetch(path, { method: 'POST', headers: sessionHeaders(admin, { 'content-type': 'application/json' }), body: JSON.stringify(body) });

  beforeAll(async () => {
    db = await sqlite.create();
    const port = await freePort();
    keyfob = await startServer({ ...storeEnv('sqlite', db), ...NO_LIMITS, KEYFOB_BASE_URL: `http://127.0.0.1:${port}` }, { port });
    admin = await setupAdmin(keyfob, 'admin', 'admin-password-1');
    // Step 2: the API's scope and its OAuth client.
    expect((await asAdmin('/api/v1/admin/scopes', { name: 'reports:read', description: 'Read reports' })).status).toBe(201);
    const created = await asAdmin('/api/v1/admin/clients', { name: 'example-api', allowedAudiences: ['https://api.example.com'] });
    expect(created.status).toBe(201);
    client = await readJson(created);

    // Step 3: the example API.
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    api = spawn(process.execPath, [EXAMPLE], {
      env: { ...process.env, KEYFOB_URL: keyfob.baseUrl, KEYFOB_CLIENT_ID: client.clientId, KEYFOB_CLIENT_SECRET: client.clientSecret, PORT: String(apiPort), KEYFOB_CACHE_TTL_MS: '300' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    api.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    api.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    for (let i = 0; !output.includes('example API on'); i++) {
      if (i > 200 || api.exitCode !== null) throw new Error(`the example did not start:\n${output}`);
      await sleep(50);
    }
  }, 60_000);
  afterAll(async () => {
    api?.kill('SIGKILL');
    await killAllServers();
    await db?.drop();
  });

  it('accepts the PAT, then the JWT exchanged for it; refuses without a token, without the scope, and after revocation', async () => {
    // Step 4.
    const made = await asAdmin('/api/v1/me/tokens', { name: 'reports-ci', scopes: ['reports:read'], expiresInDays: 30 });
    const { token: pat, pat: meta } = await readJson(made);
    const reports = await fetch(`${apiUrl}/reports`, { headers: { authorization: `Bearer ${pat}` } });
    expect(reports.status).toBe(200);
    expect(await reports.json()).toEqual({ reports: [{ id: 1, title: 'Quarterly numbers' }], for: admin.user.id });
    const anonymous = await fetch(`${apiUrl}/reports`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="example-api"');

    // Step 5.
    const exchanged = await keyfob.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: 'urn:keyfob:params:oauth:token-type:personal_access_token',
        subject_token: pat,
        resource: 'https://api.example.com',
      }).toString(),
    });
    const jwt = (await readJson(exchanged)).access_token as string;
    const hello = await fetch(`${apiUrl}/hello`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(await hello.json()).toEqual({ hello: admin.user.id, via: 'jwt', scopes: ['reports:read'] });

    const plain = await readJson(await asAdmin('/api/v1/me/tokens', { name: 'no-reports', scopes: ['tokens:read'] }));
    const forbidden = await fetch(`${apiUrl}/reports`, { headers: { authorization: `Bearer ${plain.token}` } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toMatch(/insufficient_scope.*scope="reports:read"/);

    // Revoked in keyfob: refused by the API once its 300 ms cache has let go.
    expect((await keyfob.fetch(`/api/v1/me/tokens/${meta.id}`, { method: 'DELETE', headers: sessionHeaders(admin) })).status).toBe(204);
    await sleep(400);
    expect((await fetch(`${apiUrl}/reports`, { headers: { authorization: `Bearer ${pat}` } })).status).toBe(401);
  });
});
