import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { claimValue, displayNameOf, isAdminByClaims, judgeEmail, parseAdminClaimRule, toUsername, usernameCandidates } from '../../src/domain/oidc-claims.js';

const BASE = { KEYFOB_SECRET: 'x'.repeat(40), KEYFOB_DATA_DIR: '/tmp/keyfob-config-test' };
const ENV_PROVIDER = { KEYFOB_OIDC_ISSUER: 'https://login.example.com', KEYFOB_OIDC_CLIENT_ID: 'keyfob', KEYFOB_OIDC_CLIENT_SECRET: 'secret-1' };

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('sign-in configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyfob-sign-in-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has password sign-in on and no provider by default', () => {
    expect(loadConfig(BASE).signIn).toEqual({ passwordLogin: true, oidcProviders: [] });
  });

  it('reads one provider from the environment as "default", with defaults for the optional settings', () => {
    const { signIn } = loadConfig({ ...BASE, ...ENV_PROVIDER, KEYFOB_OIDC_ALLOWED_DOMAINS: 'Example.com, @corp.example.org', KEYFOB_OIDC_ADMIN_CLAIM: 'groups=keyfob-admins', KEYFOB_LOCAL_LOGIN: 'off' });
    expect(signIn.passwordLogin).toBe(false);
    expect(signIn.oidcProviders).toEqual([
      {
        id: 'default',
        issuer: 'https://login.example.com',
        clientId: 'keyfob',
        clientSecret: 'secret-1',
        label: 'login.example.com',
        scopes: ['openid', 'email', 'profile'],
        adminClaim: { claim: 'groups', value: 'keyfob-admins' },
        allowedDomains: ['example.com', 'corp.example.org'],
      },
    ]);
    expect(loadConfig({ ...BASE, ...ENV_PROVIDER, KEYFOB_OIDC_ADMIN_CLAIM: 'is_admin', KEYFOB_OIDC_SCOPES: 'email groups' }).signIn.oidcProviders[0]).toMatchObject({
      adminClaim: { claim: 'is_admin', value: undefined },
      scopes: ['openid', 'email', 'groups'],
    });
  });

  it('reads several providers from the config file, the environment adding its own', () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({
      KEYFOB_OIDC_PROVIDERS: [
        { id: 'corp', issuer: 'https://sso.corp.example', clientId: 'a', clientSecret: 'b', label: 'Corp SSO', allowedDomains: ['corp.example'] },
        { id: 'gitlab', issuer: 'https://gitlab.example.com/', clientId: 'c', clientSecret: 'd', adminClaim: 'https://gitlab.org/claims/groups/owner=ops', scopes: ['openid', 'email'] },
      ],
    }));
    const providers = loadConfig({ ...BASE, ...ENV_PROVIDER, KEYFOB_CONFIG: file }).signIn.oidcProviders;
    expect(providers.map((p) => [p.id, p.label, p.issuer])).toEqual([
      ['default', 'login.example.com', 'https://login.example.com'],
      ['corp', 'Corp SSO', 'https://sso.corp.example'],
      ['gitlab', 'gitlab.example.com', 'https://gitlab.example.com/'],
    ]);
    expect(providers[2]!.adminClaim).toEqual({ claim: 'https://gitlab.org/claims/groups/owner', value: 'ops' });
    expect(providers[1]!.allowedDomains).toEqual(['corp.example']);
  });

  it('stops the start with the setting named for every mistake', () => {
    const list = (...providers: object[]) => ({ KEYFOB_OIDC_PROVIDERS: JSON.stringify(providers) });
    const good = { id: 'corp', issuer: 'https://sso.corp.example', clientId: 'a', clientSecret: 'b' };
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_OIDC_ISSUER: 'not a url' })).toMatch(/^KEYFOB_OIDC_ISSUER: .*not a URL/);
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_OIDC_ISSUER: 'http://sso.example.com' })).toMatch(/^KEYFOB_OIDC_ISSUER: http:\/\/ is allowed only for loopback/);
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_OIDC_ISSUER: 'https://sso.example.com/?tenant=1' })).toMatch(/^KEYFOB_OIDC_ISSUER: must not have a query/);
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_OIDC_CLIENT_SECRET: '' })).toMatch(/^KEYFOB_OIDC_CLIENT_SECRET: is required/);
    expect(refusal({ KEYFOB_OIDC_CLIENT_ID: 'x' })).toMatch(/^KEYFOB_OIDC_CLIENT_ID: is set but KEYFOB_OIDC_ISSUER is not/);
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_OIDC_ADMIN_CLAIM: 'groups=' })).toMatch(/^KEYFOB_OIDC_ADMIN_CLAIM: /);
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_OIDC_ALLOWED_DOMAINS: 'example.com,not a domain' })).toMatch(/^KEYFOB_OIDC_ALLOWED_DOMAINS: "not a domain"/);
    expect(refusal({ KEYFOB_LOCAL_LOGIN: 'off' })).toMatch(/^KEYFOB_LOCAL_LOGIN: off needs at least one/);
    expect(refusal({ ...ENV_PROVIDER, KEYFOB_LOCAL_LOGIN: 'no' })).toMatch(/^KEYFOB_LOCAL_LOGIN: must be on or off/);
    expect(refusal(list(good, { ...good, issuer: 'https://other.example' }))).toMatch(/^KEYFOB_OIDC_PROVIDERS: the provider id "corp" is used twice/);
    expect(refusal({ ...ENV_PROVIDER, ...list({ ...good, id: 'default' }) })).toMatch(/"default" is used twice \(KEYFOB_OIDC_ISSUER/);
    expect(refusal(list({ ...good, id: 'Corp_SSO' }))).toMatch(/^KEYFOB_OIDC_PROVIDERS\[0\]\.id: "Corp_SSO" must be/);
    expect(refusal(list(good, { ...good, id: 'b', clientSecret: undefined }))).toMatch(/^KEYFOB_OIDC_PROVIDERS\[1\]\.clientSecret: is required/);
    expect(refusal(list({ ...good, client_secret: 'x' }))).toMatch(/^KEYFOB_OIDC_PROVIDERS\[0\]\.client_secret: is not a provider setting/);
    expect(refusal(list({ ...good, issuer: 'ftp://x.example' }))).toMatch(/^KEYFOB_OIDC_PROVIDERS\[0\]\.issuer: must be http\(s\)/);
    expect(refusal({ KEYFOB_OIDC_PROVIDERS: '{"id":"x"}' })).toMatch(/^KEYFOB_OIDC_PROVIDERS: must be a JSON list/);
  });
});

describe('claims', () => {
  it('maps the admin claim: true for a bare name, equality or membership for name=value, nested by dots', () => {
    const flag = parseAdminClaimRule('keyfob_admin')!;
    expect(isAdminByClaims({ keyfob_admin: true }, flag)).toBe(true);
    expect(isAdminByClaims({ keyfob_admin: 'true' }, flag)).toBe(true);
    expect(isAdminByClaims({ keyfob_admin: 1 }, flag)).toBe(false);
    expect(isAdminByClaims({ keyfob_admin: 'yes' }, flag)).toBe(false);
    expect(isAdminByClaims({}, flag)).toBe(false);
    const group = parseAdminClaimRule('groups=ops')!;
    expect(isAdminByClaims({ groups: ['dev', 'ops'] }, group)).toBe(true);
    expect(isAdminByClaims({ groups: ['operators'] }, group)).toBe(false);
    expect(isAdminByClaims({ groups: 'ops' }, group)).toBe(true);
    expect(isAdminByClaims({ groups: 'ops,dev' }, group)).toBe(false);
    const nested = parseAdminClaimRule('realm_access.roles=admin')!;
    expect(isAdminByClaims({ realm_access: { roles: ['admin'] } }, nested)).toBe(true);
    expect(claimValue({ 'https://example.com/roles': ['a'] }, 'https://example.com/roles')).toEqual(['a']);
    expect(claimValue({ a: ['x'] }, 'a.length')).toBeUndefined();
    expect(parseAdminClaimRule('has space')).toBeUndefined();
  });

  it('lets in allowed email domains only, exactly and verified', () => {
    expect(judgeEmail({}, [])).toEqual({ ok: true, email: null });
    expect(judgeEmail({ email: 'a@Example.COM' }, ['example.com'])).toEqual({ ok: true, email: 'a@Example.COM' });
    expect(judgeEmail({ email: 'a@evil-example.com' }, ['example.com'])).toEqual({ ok: false, reason: 'email_domain' });
    expect(judgeEmail({ email: 'a@sub.example.com' }, ['example.com'])).toEqual({ ok: false, reason: 'email_domain' });
    expect(judgeEmail({ email: 'a@example.com@evil.com' }, ['example.com'])).toEqual({ ok: false, reason: 'no_email' });
    expect(judgeEmail({ email: 'a@example.com', email_verified: false }, ['example.com'])).toEqual({ ok: false, reason: 'email_unverified' });
    expect(judgeEmail({ name: 'x' }, ['example.com'])).toEqual({ ok: false, reason: 'no_email' });
  });

  it('names new accounts from preferred_username, then email, else provider and subject', () => {
    expect(usernameCandidates({ preferred_username: 'alice', email: 'alice@example.com' }, 'corp', 'u1')).toEqual(['alice', 'alice@example.com']);
    expect(usernameCandidates({ preferred_username: 'Zoë Müller' }, 'corp', '|x|')).toEqual(['Zoe-Muller']);
    expect(usernameCandidates({}, 'corp', '|x|')).toEqual(['corp-x']);
    expect(usernameCandidates({ preferred_username: '---' }, 'corp', 'a/b')).toEqual(['corp-a-b']);
    expect(toUsername('x'.repeat(300))).toHaveLength(91);
    expect(toUsername('日本')).toBeUndefined();
    expect(displayNameOf({ given_name: 'Ada', family_name: 'Lovelace' })).toBe('Ada Lovelace');
    expect(displayNameOf({ name: ' Ada ' })).toBe('Ada');
    expect(displayNameOf({})).toBeUndefined();
  });
});
