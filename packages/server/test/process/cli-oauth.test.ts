import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDatabase } from '../helpers/dialects.js';
import { killAllServers, runCli, startServer, storeEnv } from '../helpers/server-process.js';

/** The operator commands of the OAuth surface, run as a person would: `keyfob clients|keys …`. */
for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`keyfob clients and keys CLI (${dialect.name})`, () => {
    let db: TestDatabase | undefined;
    afterEach(async () => {
      await killAllServers();
      await db?.drop();
      db = undefined;
    });

    it('registers a client whose secret works at /oauth/introspect, and rotates keys published in the JWKS', { timeout: 90_000 }, async () => {
      db = await dialect.create();
      // A zero JWKS cache lifetime lets the freshly published next key be promoted at once.
      const env = { ...storeEnv(dialect.name, db), KEYFOB_JWKS_MAX_AGE_SECONDS: '0' };
      const created = await runCli(['clients', 'create', 'gateway', '--audience', 'https://api.example.com', '--json'], env);
      expect(created.code, created.stderr).toBe(0);
      const client = JSON.parse(created.stdout);
      expect(client).toMatchObject({ clientId: expect.stringMatching(/^kfc_/), clientSecret: expect.stringMatching(/^kf_cs_/), allowedAudiences: ['https://api.example.com'] });
      const listed = await runCli(['clients', 'list'], env);
      expect(listed.stdout).toContain(client.clientId);
      expect(listed.stdout).not.toContain(client.clientSecret);

      const before = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as { kid: string; status: string }[];
      const next = before.find((k) => k.status === 'next')!;
      const rotated = await runCli(['keys', 'rotate', '--json'], env);
      expect(rotated.code, rotated.stderr).toBe(0);
      const after = JSON.parse(rotated.stdout) as { kid: string; status: string }[];
      expect(after.find((k) => k.kid === next.kid)?.status).toBe('active');

      const server = await startServer(env);
      const jwks = (await (await fetch(`${server.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual(after.map((k) => k.kid).sort());
      const auth = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
      const res = await fetch(`${server.baseUrl}/oauth/introspect`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nothing' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ active: false });
    });
  });
}
