import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { sqlite, type TestDatabase } from '../helpers/dialects.js';
import { NO_LIMITS } from '../helpers/test-app.js';
import { freePort, killAllServers, readJson, runCli, selfStatus, sessionHeaders, setupAdmin, startServer, storeEnv, type HttpSession, type ServerProcess } from '../helpers/server-process.js';

/** The client commands, run as the real binary against a real server: login, whoami, token *, exchange. */
describe('keyfob client commands', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let admin: HttpSession;
  let home: string;
  let pat: string;
  let cli: Record<string, string | undefined>;

  beforeAll(async () => {
    db = await sqlite.create();
    const port = await freePort();
    server = await startServer({ ...storeEnv('sqlite', db), ...NO_LIMITS, KEYFOB_BASE_URL: `http://127.0.0.1:${port}` }, { port });
    admin = await setupAdmin(server, 'admin', 'admin-password-1');
    const res = await server.fetch('/api/v1/me/tokens', {
      method: 'POST',
      headers: sessionHeaders(admin, { 'content-type': 'application/json' }),
      body: JSON.stringify({ name: 'laptop', scopes: ['tokens:read', 'tokens:write'], expiresInDays: 30 }),
    });
    pat = (await readJson(res)).token;
    home = mkdtempSync(join(tmpdir(), 'keyfob-cli-home-'));
    cli = { KEYFOB_URL: server.baseUrl, KEYFOB_CLI_CONFIG: join(home, 'credentials.json'), KEYFOB_TOKEN: undefined, KEYFOB_CLIENT_SECRET: undefined, KEYFOB_CLIENT_ID: undefined };
  }, 60_000);
  afterAll(async () => {
    await killAllServers();
    await db?.drop();
    rmSync(home, { recursive: true, force: true });
  });

  it('logs in with a token from stdin, saves it 0600, and acts as its owner', async () => {
    const login = await runCli(['login'], cli, `${pat}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/signed in to http:\/\/127\.0\.0\.1:\d+ as admin with kf_pat_/);
    expect(login.stdout + login.stderr).not.toContain(pat);
    expect(statSync(cli['KEYFOB_CLI_CONFIG']!).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(cli['KEYFOB_CLI_CONFIG']!, 'utf8'))).toEqual({ server: server.baseUrl, token: pat });

    const whoami = await runCli(['whoami'], cli);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout).toMatch(/^admin \(admin\) on http:\/\/127\.0\.0\.1/);
    expect(whoami.stdout).toContain('"laptop"');
    const json = JSON.parse((await runCli(['whoami', '--json'], cli)).stdout);
    expect(json).toMatchObject({ user: { username: 'admin', role: 'admin' }, token: { name: 'laptop' } });

    // The saved token is never sent to another server.
    const elsewhere = await runCli(['whoami', '--server', 'http://127.0.0.1:9'], cli);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr.trim()).toBe('keyfob: no token: run keyfob login, or set KEYFOB_TOKEN');
  });

  it('creates, lists, rotates and revokes tokens; secrets come alone on stdout', async () => {
    const created = await runCli(['token', 'create', 'ci-deploy', '--scope', 'tokens:read', '--expires-in-days', '7', '--description', 'from the CLI'], cli);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^kf_pat_[0-9A-Za-z]{46}$/);
    expect(created.stderr).toMatch(/ci-deploy \(.+\): expires .*only time the secret is shown/);
    expect((await selfStatus(server, secret)).status).toBe(200);

    const list = JSON.parse((await runCli(['token', 'list', '--json'], cli)).stdout) as { id: string; name: string; description: string }[];
    const mine = list.find((p) => p.name === 'ci-deploy')!;
    expect(mine.description).toBe('from the CLI');
    const text = await runCli(['token', 'list'], cli);
    expect(text.stdout).toMatch(new RegExp(`${mine.id}\\s+kf_pat_\\w{4}\\.\\.\\.\\w{4}\\s+active\\s+ci-deploy`));
    expect(text.stdout).not.toContain(secret);

    const rotated = await runCli(['token', 'rotate', mine.id, '--json'], cli);
    expect(rotated.code, rotated.stderr).toBe(0);
    const next = JSON.parse(rotated.stdout) as { token: string; pat: { id: string } };
    expect((await selfStatus(server, secret)).status).toBe(401);
    expect((await selfStatus(server, next.token)).status).toBe(200);

    const revoked = await runCli(['token', 'revoke', next.pat.id, '--reason', 'done'], cli);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`revoked ${next.pat.id}`);
    // Revoking the very token the CLI runs with works too (nothing is read back with it).
    const selfDestruct = JSON.parse((await runCli(['token', 'create', 'self-destruct', '--scope', 'tokens:write', '--json'], cli)).stdout) as { token: string; pat: { id: string } };
    const own = await runCli(['token', 'revoke', selfDestruct.pat.id, '--json'], { ...cli, KEYFOB_TOKEN: selfDestruct.token });
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toEqual({ id: selfDestruct.pat.id, revoked: true });
    expect((await selfStatus(server, selfDestruct.token)).status).toBe(401);
    expect((await selfStatus(server, next.token)).status).toBe(401);
  });

  it('exchanges the token for a JWT and prints it alone', async () => {
    const res = await server.fetch('/api/v1/admin/clients', {
      method: 'POST',
      headers: sessionHeaders(admin, { 'content-type': 'application/json' }),
      body: JSON.stringify({ name: 'cli-gateway', allowedAudiences: ['https://api.example.com'] }),
    });
    const client = await readJson(res);
    const exchanged = await runCli(['token', 'exchange', '--client-id', client.clientId, '--resource', 'https://api.example.com', '--scope', 'tokens:read'], { ...cli, KEYFOB_CLIENT_SECRET: client.clientSecret });
    expect(exchanged.code, exchanged.stderr).toBe(0);
    const jwt = exchanged.stdout.trim();
    expect(jwt.split('.')).toHaveLength(3);
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ aud: 'https://api.example.com', scope: 'tokens:read', sub: admin.user.id });
    // The saved token is not sent to another server for an exchange either.
    const otherServer = await runCli(['token', 'exchange', '--server', 'http://127.0.0.1:9', '--client-id', client.clientId, '--resource', 'https://api.example.com'], { ...cli, KEYFOB_CLIENT_SECRET: client.clientSecret });
    expect(otherServer.code).toBe(1);
    expect(otherServer.stderr.trim()).toBe('keyfob: no token to exchange: run keyfob login, or set KEYFOB_TOKEN');
    const wrong = await runCli(['token', 'exchange', '--client-id', client.clientId, '--client-secret', 'kf_cs_wrong', '--resource', 'https://api.example.com'], cli);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/^keyfob: 401 invalid_client: .*check --client-id and --client-secret/);
  });

  it('answers errors in one line with the documented exit codes', { timeout: 60_000 }, async () => {
    const badToken = await runCli(['whoami'], { ...cli, KEYFOB_TOKEN: 'kf_pat_not-a-token' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr.trim()).toMatch(/^keyfob: 401 invalid_token: .*; run keyfob login, or set KEYFOB_TOKEN to a valid token$/);
    const down = await runCli(['token', 'list', '--server', 'http://127.0.0.1:9'], { ...cli, KEYFOB_TOKEN: pat });
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toMatch(/^keyfob: cannot reach http:\/\/127\.0\.0\.1:9 .*check --server or KEYFOB_URL$/);
    const usage = await runCli(['token', 'create', 'no-scope'], cli);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/required option '--scope <scope\.\.\.>' not specified/);
    expect((await runCli(['token', 'create', 'x', '--scope', 'a', '--expires-in-days', '0'], cli)).code).toBe(2);
    expect((await runCli(['no-such-command'], cli)).code).toBe(2);
    const help = await runCli(['token', 'create', '--help'], cli);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
  });

  it('has examples in the --help of every command', () => {
    const program = buildProgram();
    const leaves: Command[] = [];
    const walk = (command: Command) => (command.commands.length === 0 ? leaves.push(command) : command.commands.forEach(walk));
    program.commands.forEach(walk);
    expect(leaves.length).toBeGreaterThan(20);
    for (const command of leaves) {
      let out = '';
      command.configureOutput({ writeOut: (text) => (out += text) });
      command.outputHelp();
      expect(out, command.name()).toMatch(/Examples:\n {2}(keyfob|echo|git|KEYFOB_|TOKEN=|NEW=|curl)/);
    }
  });

  it('logs out: the saved token is gone (and still valid until revoked)', async () => {
    const out = await runCli(['logout'], cli);
    expect(out.code).toBe(0);
    expect(existsSync(cli['KEYFOB_CLI_CONFIG']!)).toBe(false);
    expect((await runCli(['whoami'], cli)).code).toBe(1);
    expect((await selfStatus(server, pat)).status).toBe(200);
  });
});

describe('keyfob policy show|set (operators, on the database)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await sqlite.create();
  });
  afterAll(async () => db?.drop());

  it('sets settings as name=value, refuses unknown names and bad values, and shows the result', { timeout: 60_000 }, async () => {
    const env = storeEnv('sqlite', db);
    const set = await runCli(['policy', 'set', 'maxLifetimeDays=90', 'requireExpiry=true', 'expiryPresetsDays=[7,30,90]'], env);
    expect(set.code, set.stderr).toBe(0);
    const shown = JSON.parse((await runCli(['policy', 'show', '--json'], env)).stdout);
    expect(shown).toMatchObject({ maxLifetimeDays: 90, requireExpiry: true, expiryPresetsDays: [7, 30, 90] });
    const unknown = await runCli(['policy', 'set', 'maxLifetime=9'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^keyfob: maxLifetime is not a policy setting/);
    const badValue = await runCli(['policy', 'set', 'requireExpiry=maybe'], env);
    expect(badValue.code).toBe(2);
    const incoherent = await runCli(['policy', 'set', 'expiryPresetsDays=[7,365]'], env);
    expect(incoherent.code).toBe(1);
    expect(incoherent.stderr).toMatch(/expiryPresetsDays: 365 exceeds maxLifetimeDays \(90\)/);
    const server = await startServer(env);
    try {
      const admin = await setupAdmin(server, 'admin', 'admin-password-1');
      const policy = await readJson(await server.fetch('/api/v1/policy', { headers: sessionHeaders(admin) }));
      expect(policy.maxLifetimeDays).toBe(90);
    } finally {
      await killAllServers();
    }
  });
});
