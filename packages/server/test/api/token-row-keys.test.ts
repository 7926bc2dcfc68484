import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { rowKeyOf } from '../../src/repositories/pat-lookup-rows.js';
import { up as rekeyRows } from '../../src/db/migrations/2026-11-23T10-00_pat-row-keys.js';

// SQLite keeps a token's row at the rowid its hash keys; every way a row can end up elsewhere must
// still verify (with the cache off, so that each request reads the store).
const sqlite = DIALECTS.find((d) => d.name === 'sqlite')!;

describe('SQLite rows keyed by token hash', () => {
  let t: TestApp;
  let admin: Session;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_VERIFY_CACHE: 'off' });
    admin = await setupAdmin(t);
  });
  afterAll(async () => t?.close());
  const db = () => t.container.store.db;
  const self = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(token) });
  const rowidOf = async (id: string) => (await sql<{ rowid: number }>`SELECT rowid FROM pats WHERE id = ${id}`.execute(db())).rows[0]?.rowid;
  const hashOf = async (id: string) => (await db().selectFrom('pats').select('token_hash').where('id', '=', id).executeTakeFirstOrThrow()).token_hash;

  it('writes a new token at the rowid its hash keys', async () => {
    const tok = await createToken(t, admin);
    expect(await rowidOf(tok.id)).toBe(rowKeyOf(await hashOf(tok.id)));
    expect((await self(tok.token)).statusCode).toBe(200);
  });

  it('still verifies tokens whose rows were renumbered (as VACUUM may do), and the migration puts them back', async () => {
    const tokens = [await createToken(t, admin), await createToken(t, admin), await createToken(t, admin)];
    await sql`UPDATE pats SET rowid = -rowid WHERE rowid > 0`.execute(db());
    for (const tok of tokens) expect(await rowidOf(tok.id)).not.toBe(rowKeyOf(await hashOf(tok.id)));
    for (const tok of tokens) expect((await self(tok.token)).statusCode).toBe(200);
    await rekeyRows(db());
    for (const tok of tokens) expect(await rowidOf(tok.id)).toBe(rowKeyOf(await hashOf(tok.id)));
    for (const tok of tokens) expect((await self(tok.token)).statusCode).toBe(200);
    // A second run changes nothing.
    await rekeyRows(db());
    for (const tok of tokens) expect(await rowidOf(tok.id)).toBe(rowKeyOf(await hashOf(tok.id)));
  });

  it('stores a token whose key another row holds elsewhere, and finds both', async () => {
    const first = await createToken(t, admin);
    const second = await createToken(t, admin);
    const firstHash = await hashOf(first.id);
    const secondHash = await hashOf(second.id);
    // Move the second token out, then make the first sit on the second's key: the second's key is taken.
    await sql`UPDATE pats SET rowid = ${-1} WHERE id = ${second.id}`.execute(db());
    await sql`UPDATE pats SET rowid = ${rowKeyOf(secondHash)} WHERE id = ${first.id}`.execute(db());
    expect((await self(first.token)).statusCode).toBe(200);
    expect((await self(second.token)).statusCode).toBe(200);
    // The migration leaves the second where it is (its key is taken) and the lookup still finds it.
    await rekeyRows(db());
    expect(await rowidOf(first.id)).toBe(rowKeyOf(firstHash));
    expect((await self(first.token)).statusCode).toBe(200);
    expect((await self(second.token)).statusCode).toBe(200);

    // A new row whose key is taken is written anyway, at another rowid.
    const repos = t.container.store.repos;
    const owner = (await repos.pats.findById(first.id))!;
    const clash = `${secondHash.slice(0, 13)}${'0'.repeat(51)}`;
    await sql`UPDATE pats SET rowid = ${rowKeyOf(clash)} WHERE id = ${second.id}`.execute(db());
    await repos.pats.insert({
      id: 'pat_row_key_clash', userId: owner.userId, name: 'clash', description: '', tokenHash: clash, pepperKeyId: owner.pepperKeyId,
      displayHint: 'kf_pat_…0000', prefix: 'kf_pat', scopes: [], audiences: [], allowedIps: [], createdAt: t.clock.now(), expiresAt: null,
      rotatedFromId: null, createdByTokenId: null,
    });
    expect((await repos.pats.findByHashWithOwner(clash))?.pat.id).toBe('pat_row_key_clash');
    expect((await repos.pats.findByHashWithOwner(secondHash))?.pat.id).toBe(second.id);
    expect(await rowidOf('pat_row_key_clash')).not.toBe(rowKeyOf(clash));
  });

  it('moves every row to its key in chunks, rows moved past the chunk being read included', async () => {
    const userId = (await db().selectFrom('users').select('id').executeTakeFirstOrThrow()).id;
    // 2,500 rows at small negative rowids, none at its key: three chunks of the migration (revoked,
    // so that they do not count against the owner's active tokens).
    await sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
      INSERT INTO pats (rowid, id, user_id, name, description, token_hash, pepper_key_id, display_hint, prefix, scopes, audiences, allowed_ips, created_at, revoked_at)
      SELECT -i, 'pat_bulk_' || i, ${userId}, 'bulk ' || i, '', lower(hex(randomblob(32))), 'k1', 'kf_pat_…', 'kf_pat', '[]', '[]', '[]', 0, 1 FROM n`.execute(db());
    await rekeyRows(db());
    const rows = (await sql<{ rowid: number; token_hash: string }>`SELECT rowid, token_hash FROM pats WHERE id LIKE 'pat_bulk_%'`.execute(db())).rows;
    expect(rows).toHaveLength(2500);
    expect(rows.filter((r) => r.rowid !== rowKeyOf(r.token_hash))).toEqual([]);
  });

  it('reads through Kysely, behind an open transaction, both by key and by hash', async () => {
    const keyed = await createToken(t, admin);
    const moved = await createToken(t, admin);
    await sql`UPDATE pats SET rowid = ${-7} WHERE id = ${moved.id}`.execute(db());
    const verify = t.container.verifier;
    const held = t.container.store.transaction(async () => {
      // Open long enough for the verifications below to start while it is.
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const outcomes = await Promise.all([verify.verify(keyed.token), verify.verify(moved.token)]);
    await held;
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
  });

  it('answers unknown tokens as unknown, also when a row sits at their key', async () => {
    const tok = await createToken(t, admin);
    const hash = await hashOf(tok.id);
    const other = `${hash.slice(0, 13)}${'f'.repeat(51)}`;
    expect(await t.container.store.repos.pats.findByHashWithOwner(other)).toBeUndefined();
    expect((await self(`${tok.token.slice(0, -8)}AAAAAAAA`)).statusCode).toBe(401);
  });
});
