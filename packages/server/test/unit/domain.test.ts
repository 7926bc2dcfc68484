import { describe, expect, it } from 'vitest';
import { compileAllowList, normalizeIpOrCidr } from '../../src/domain/ip-allowlist.js';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.js';
import { newId } from '../../src/domain/ids.js';

describe('IP allow-lists', () => {
  it('normalises addresses and CIDRs and rejects the rest', () => {
    expect(normalizeIpOrCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(normalizeIpOrCidr(' 203.0.113.7 ')).toBe('203.0.113.7');
    expect(normalizeIpOrCidr('2001:DB8::/32')).toBe('2001:db8::/32');
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'example.com', '1.2.3.4/8/1', '::1/129', '1.2.3.4/x']) expect(normalizeIpOrCidr(bad), bad).toBeUndefined();
  });

  it('matches IPv4, IPv6 and IPv4-mapped addresses', () => {
    const allowed = compileAllowList(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'])!;
    expect(allowed('10.1.2.3')).toBe(true);
    expect(allowed('::ffff:10.1.2.3')).toBe(true);
    expect(allowed('2001:db8::1')).toBe(true);
    expect(allowed('192.0.2.1')).toBe(true);
    expect(allowed('192.0.2.2')).toBe(false);
    expect(allowed('11.0.0.1')).toBe(false);
    expect(allowed('not-an-ip')).toBe(false);
    expect(compileAllowList([])).toBeUndefined();
  });
});

describe('cursors', () => {
  it('round-trips and rejects foreign values', () => {
    expect(decodeCursor(encodeCursor({ at: 5, id: 'x' }))).toEqual({ at: 5, id: 'x' });
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(() => decodeCursor('garbage')).toThrow();
  });
});

describe('ids', () => {
  it('are UUIDv7 and sort in creation order, also within one millisecond', () => {
    const ids = [newId(1000), newId(1000), newId(1000), newId(1001), newId(2000)];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
  });
});
