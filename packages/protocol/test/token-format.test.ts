import { describe, expect, it } from 'vitest';
import {
  BASE62_ALPHABET,
  TOKEN_SEARCH_PATTERN,
  checksumOf,
  crc32,
  displayHintOf,
  generateToken,
  isValidPrefix,
  parseToken,
} from '../src/index.js';

describe('token format', () => {
  it('generates <prefix>_<40 base62><6 base62 checksum> that parses back', () => {
    const { token, prefix, displayHint } = generateToken('kf_pat');
    expect(token).toMatch(/^kf_pat_[0-9A-Za-z]{46}$/);
    expect(prefix).toBe('kf_pat');
    const parsed = parseToken(token, ['kf_pat']);
    expect(parsed).toMatchObject({ ok: true, prefix: 'kf_pat' });
    expect(displayHint).toBe(`kf_pat_${token.slice(7, 11)}...${token.slice(-4)}`);
    expect(displayHintOf(token)).toBe(displayHint);
  });

  it('computes the IEEE CRC-32 and encodes it as six base62 digits', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(checksumOf('a')).toHaveLength(6);
  });

  it('gives distinct random parts (no repeats in 2000 tokens)', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => generateToken().token));
    expect(seen.size).toBe(2000);
  });

  it('rejects every single-character change of the random part and checksum', () => {
    const { token } = generateToken('kf_pat');
    const start = 'kf_pat_'.length;
    let variants = 0;
    for (let i = start; i < token.length; i++) {
      for (const c of BASE62_ALPHABET) {
        if (c === token[i]) continue;
        const changed = token.slice(0, i) + c + token.slice(i + 1);
        const parsed = parseToken(changed, ['kf_pat']);
        expect(parsed.ok, `position ${i} → ${c}`).toBe(false);
        variants++;
      }
    }
    expect(variants).toBe(46 * 61);
  });

  it('rejects malformed candidates', () => {
    const { token } = generateToken();
    for (const bad of ['', 'kf_pat_', token.slice(0, -1), `${token}A`, token.replace('_', '-'), `${token.slice(0, 10)}!${token.slice(11)}`, `KF_PAT${token.slice(6)}`]) {
      expect(parseToken(bad).ok, bad).toBe(false);
    }
  });

  it('accepts only the configured prefixes when told which', () => {
    const old = generateToken('acme_pat').token;
    expect(parseToken(old, ['kf_pat'])).toEqual({ ok: false, reason: 'unknown_prefix' });
    expect(parseToken(old, ['kf_pat', 'acme_pat']).ok).toBe(true);
    expect(parseToken(old).ok).toBe(true);
  });

  it('enforces the prefix grammar [a-z][a-z0-9_]{1,15}', () => {
    for (const ok of ['kf', 'kf_pat', 'a1', 'abcdefghijklmnop']) expect(isValidPrefix(ok), ok).toBe(true);
    for (const bad of ['k', '1kf', 'Kf', 'kf-pat', 'abcdefghijklmnopq', '']) expect(isValidPrefix(bad), bad).toBe(false);
    expect(() => generateToken('Bad')).toThrow(TypeError);
  });

  it('publishes a search pattern that finds tokens inside text', () => {
    const { token } = generateToken();
    const found = new RegExp(TOKEN_SEARCH_PATTERN, 'g').exec(`export TOKEN="${token}"\n`);
    expect(found?.[0]).toBe(token);
  });
});

describe('findTokens', () => {
  it('finds well-formed tokens of the accepted prefixes with their positions, and skips look-alikes', async () => {
    const { findTokens, generateToken } = await import('../src/index.js');
    const a = generateToken('kf_pat').token;
    const b = generateToken('old_pat').token;
    const other = generateToken('zz_pat').token;
    const broken = `${a.slice(0, -1)}${a.endsWith('0') ? '1' : '0'}`;
    const text = `A=${a}\n"${b}",${other} ${broken} x${a}y ${a} "\\n${b}" %20${a}`;
    expect(findTokens(text, ['kf_pat', 'old_pat'])).toEqual([
      { token: a, index: 2 },
      { token: b, index: text.indexOf(b) },
      { token: a, index: text.indexOf(` ${a} `) + 1 },
      { token: b, index: text.lastIndexOf(b) },
      { token: a, index: text.lastIndexOf(a) },
    ]);
    expect(findTokens(text, ['zz_pat']).map((f) => f.token)).toEqual([other]);
    expect(findTokens('', ['kf_pat'])).toEqual([]);
  });
});
