import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadAcceptedPrefixes, loadConfig } from '../../src/config/load.js';

const BASE = { KEYFOB_SECRET: 'x'.repeat(40), KEYFOB_DATA_DIR: '/tmp/keyfob-config-test' };

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('configuration of the abuse limits and leak response', () => {
  it('trusts X-Forwarded-For only from named proxies or a hop count, never from everyone', () => {
    expect(loadConfig(BASE).trustProxy).toBe(false);
    expect(loadConfig({ ...BASE, KEYFOB_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }).trustProxy).toBe('10.0.0.0/8, 127.0.0.1,::1');
    expect(loadConfig({ ...BASE, KEYFOB_TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
    expect(loadConfig({ ...BASE, KEYFOB_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(refusal({ KEYFOB_TRUST_PROXY: 'true' }).message).toMatch(/KEYFOB_TRUST_PROXY.*every client/);
    expect(refusal({ KEYFOB_TRUST_PROXY: '10.0.0.0/8,proxy.example.com' }).message).toMatch(/proxy\.example\.com/);
  });

  it('parses each limit as count/window or off, naming the variable when it cannot', () => {
    const config = loadConfig({ ...BASE, KEYFOB_LIMIT_AUTH_FAILURES: '5/30s', KEYFOB_LIMIT_EXCHANGES: 'off' });
    expect(config.limits.rules.authFailures).toEqual({ limit: 5, windowMs: 30_000 });
    expect(config.limits.rules.exchanges).toBeNull();
    expect(config.limits.rules.loginFailuresPerUser).toEqual({ limit: 10, windowMs: 900_000 });
    expect(config.limits.redisUrl).toBeUndefined();
    expect(refusal({ KEYFOB_LIMIT_TOKEN_CREATIONS: '60 per hour' }).message).toMatch(/KEYFOB_LIMIT_TOKEN_CREATIONS/);
  });

  it('reads GitHub scanning keys in GitHub’s shape and refuses anything else', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const list = (key: string) => JSON.stringify({ public_keys: [{ key_identifier: 'k1', key, is_current: true }] });
    expect(loadConfig({ ...BASE, KEYFOB_GITHUB_SCANNING_KEYS: list(publicKey.export({ type: 'spki', format: 'pem' }) as string) }).githubScanningKeys?.has('k1')).toBe(true);
    expect(refusal({ KEYFOB_GITHUB_SCANNING_KEYS: list(rsa.export({ type: 'spki', format: 'pem' }) as string) }).message).toMatch(/P-256/);
    expect(refusal({ KEYFOB_GITHUB_SCANNING_KEYS: '{"public_keys":[]}' }).message).toMatch(/KEYFOB_GITHUB_SCANNING_KEYS/);
    expect(refusal({ KEYFOB_GITHUB_SCANNING_KEYS: '/no/such/file.json' }).message).toMatch(/cannot read/);
  });

  it('gives keyfob scan the accepted prefixes without needing the rest of the configuration', () => {
    expect(loadAcceptedPrefixes({})).toEqual(['kf_pat']);
    expect(loadAcceptedPrefixes({ KEYFOB_TOKEN_PREFIX: 'acme_pat', KEYFOB_LEGACY_TOKEN_PREFIXES: 'kf_pat, old_pat' })).toEqual(['acme_pat', 'kf_pat', 'old_pat']);
    expect(() => loadAcceptedPrefixes({ KEYFOB_TOKEN_PREFIX: 'Bad' })).toThrow(ConfigError);
  });
});
