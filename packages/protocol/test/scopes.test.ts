import { describe, expect, it } from 'vitest';
import { BUILTIN_SCOPE_NAMES, effectiveScopes, grants, isAdminScope, isScope, parseScope } from '../src/index.js';

describe('scopes', () => {
  it('accepts resource:action names and rejects the rest', () => {
    for (const ok of ['tokens:read', 'repo', 'repo:status', 'billing:invoices:read', 'deploy:*', 'a.b-c_d:x']) expect(isScope(ok), ok).toBe(true);
    for (const bad of ['', 'Repo', ':read', 'repo:', 'repo read', 'a:b:c:d:e', '*', 'repo:*:read', 'x'.repeat(101)]) expect(isScope(bad), bad).toBe(false);
    expect(() => parseScope('Nope')).toThrow(TypeError);
  });

  it('treats the admin namespace as admin-only', () => {
    expect(isAdminScope('admin:read')).toBe(true);
    expect(isAdminScope('admin:write')).toBe(true);
    expect(isAdminScope('administrator')).toBe(false);
    expect(BUILTIN_SCOPE_NAMES).toEqual(['tokens:read', 'tokens:write', 'admin:read', 'admin:write']);
  });

  it('drops admin scopes while the owner is not an admin', () => {
    expect(effectiveScopes(['tokens:read', 'admin:write'], false)).toEqual(['tokens:read']);
    expect(effectiveScopes(['tokens:read', 'admin:write'], true)).toEqual(['tokens:read', 'admin:write']);
  });

  it('lets a write scope of keyfob grant its read scope, and nothing else', () => {
    expect(grants(['tokens:write'], 'tokens:read')).toBe(true);
    expect(grants(new Set(['admin:write']), 'admin:read')).toBe(true);
    expect(grants(['tokens:read'], 'tokens:write')).toBe(false);
    expect(grants(['admin:write'], 'tokens:read')).toBe(false);
    expect(grants(['repo:write'], 'repo:read')).toBe(false);
  });
});
