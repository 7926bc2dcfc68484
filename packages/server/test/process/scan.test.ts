import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayHintOf, generateToken } from '@keyfob/protocol';
import { sqlite } from '../helpers/dialects.js';
import { createToken, killAllServers, runCli, selfStatus, setupAdmin, startServer, storeEnv, type ServerProcess } from '../helpers/server-process.js';

/** A token with a wrong checksum: the shape of a token, but not one. */
function lookAlike(): string {
  const t = generateToken('kf_pat').token;
  return `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`;
}

describe('keyfob scan', () => {
  let root: string;
  let found: string;
  let nested: string;
  const env = { KEYFOB_TOKEN_PREFIX: undefined, KEYFOB_LEGACY_TOKEN_PREFIXES: undefined };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'keyfob-scan-'));
    found = generateToken('kf_pat').token;
    nested = generateToken('kf_pat').token;
    const file = (path: string, content: string | Buffer) => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content);
    };
    file('.gitignore', 'ignored/\n*.secret\n!keep.secret\n');
    file('config/app.env', `# settings\nAPI_URL=https://api.example.com\nAPI_TOKEN=${found}\n`);
    file('ignored/old.env', `TOKEN=${generateToken('kf_pat').token}\n`);
    file('drop.secret', generateToken('kf_pat').token);
    file('keep.secret', `x ${nested}`);
    file('image.bin', Buffer.concat([Buffer.from([0x89, 0x50, 0x00, 0x01]), Buffer.from(generateToken('kf_pat').token)]));
    file('src/look-alike.ts', `const notAToken = "${lookAlike()}";\nconst other = "gh_pat_${'a'.repeat(46)}";\n`);
    file('src/deep/.gitignore', '*.log\n');
    file('src/deep/debug.log', generateToken('kf_pat').token);
    file('src/deep/ok.ts', `\n\n\n    fetch(url, { headers: { authorization: 'Bearer ${nested}' } });\n`);
    file('.git/config', generateToken('kf_pat').token);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prints file:line:column and the hint of each token (never the token), honours .gitignore, skips binaries and look-alikes, exits 1', async () => {
    const res = await runCli(['scan', root], env);
    expect(res.code).toBe(1);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toEqual([
      `${join(root, 'config/app.env')}:3:11  ${displayHintOf(found)}`,
      `${join(root, 'keep.secret')}:1:3  ${displayHintOf(nested)}`,
      `${join(root, 'src/deep/ok.ts')}:4:52  ${displayHintOf(nested)}`,
    ]);
    expect(res.stdout + res.stderr).not.toContain(found);
    expect(res.stdout + res.stderr).not.toContain(nested);
    expect(res.stderr).toMatch(/found 3 keyfob tokens in 3 files \(\d+ files; not scanned: 1 binary\)/);
  });

  it('exits 0 on a clean tree, scans named files even when ignored, and answers --json', async () => {
    const clean = await runCli(['scan', join(root, 'src/look-alike.ts')], env);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe('');
    const named = await runCli(['scan', join(root, 'ignored/old.env')], env);
    expect(named.code).toBe(1);
    const json = await runCli(['scan', '--json', join(root, 'config')], env);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.findings).toEqual([{ file: join(root, 'config/app.env'), line: 3, column: 11, hint: displayHintOf(found) }]);
    expect(json.stdout).not.toContain(found);
  });

  it('looks for the configured prefixes only, or those given with --prefix', async () => {
    const custom = generateToken('acme_pat').token;
    const dir = mkdtempSync(join(tmpdir(), 'keyfob-scan-prefix-'));
    try {
      writeFileSync(join(dir, 'a.txt'), `${custom}\n${found}\n`);
      const byEnv = await runCli(['scan', dir], { KEYFOB_TOKEN_PREFIX: 'acme_pat' });
      expect(byEnv.stdout.trim().split('\n')).toEqual([`${join(dir, 'a.txt')}:1:1  ${displayHintOf(custom)}`]);
      const byFlag = await runCli(['scan', '--prefix', 'acme_pat', 'kf_pat', '--', dir], env);
      expect(byFlag.stdout.trim().split('\n')).toHaveLength(2);
      const bad = await runCli(['scan', '--prefix', 'Bad-Prefix', dir], env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/--prefix "Bad-Prefix"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows a progress bar on a large tree when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyfob-scan-big-'));
    try {
      for (let i = 0; i < 600; i++) writeFileSync(join(dir, `f${i}.txt`), `line ${i}\n`);
      const res = await runCli(['scan', '--progress', dir], env);
      expect(res.code).toBe(0);
      expect(res.stderr).toMatch(/scanning \[#+\] 600 \/ 600 files/);
      const quiet = await runCli(['scan', dir], env);
      expect(quiet.stderr).not.toMatch(/scanning \[/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('--revoke', () => {
    let server: ServerProcess;
    let db: Awaited<ReturnType<typeof sqlite.create>>;
    beforeAll(async () => {
      db = await sqlite.create();
      server = await startServer(storeEnv('sqlite', db));
    }, 60_000);
    afterAll(async () => {
      await killAllServers();
      await db?.drop();
    });

    it('reports what it finds to the server, which revokes the active tokens', { timeout: 60_000 }, async () => {
      const admin = await setupAdmin(server, 'admin', 'admin-password-1');
      const live = await createToken(server, admin, 'committed-by-mistake');
      const dir = mkdtempSync(join(tmpdir(), 'keyfob-scan-revoke-'));
      try {
        writeFileSync(join(dir, 'ci.yml'), `env:\n  KEYFOB_TOKEN: ${live.token}\n`);
        expect((await selfStatus(server, live.token)).status).toBe(200);
        const res = await runCli(['scan', '--revoke', server.baseUrl, dir], env);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(/reported 1 token to/);
        expect((await selfStatus(server, live.token)).status).toBe(401);
        const down = await runCli(['scan', '--revoke', 'http://127.0.0.1:1', dir], env);
        expect(down.code).toBe(1);
        expect(down.stderr).toMatch(/^keyfob: /m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
