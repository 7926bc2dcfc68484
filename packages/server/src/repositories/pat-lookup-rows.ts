import type { PatsTable } from '../db/types.js';
import type { AccountRow } from './users.js';
import type { Selectable } from 'kysely';

// The verification lookup's row layout: which columns it reads, in which order, how a row read
// as an array of values becomes the token's and the owner's rows, and where SQLite keeps it.

export const PAT_COLUMNS = [
  'id', 'user_id', 'name', 'description', 'token_hash', 'pepper_key_id', 'display_hint', 'prefix', 'scopes', 'audiences', 'allowed_ips',
  'created_at', 'expires_at', 'last_used_at', 'last_used_ip', 'revoked_at', 'revoked_by', 'revoke_reason', 'rotated_from_id', 'created_by_token_id',
] as const satisfies readonly (keyof PatsTable)[];

/**
 * The owner's columns the hot-path lookup reads after the token's (the id is the token's user_id).
 * Never the password hash: verification has no use for it.
 */
export const OWNER_COLUMNS = [
  'username', 'display_name', 'email', 'role', 'disabled_at', 'notifications', 'created_at', 'updated_at',
] as const satisfies readonly Exclude<keyof AccountRow, 'id'>[];

/*
 * The hot-path lookup's row, read as an array of values in select order (RowReader): PAT_COLUMNS,
 * then OWNER_COLUMNS. Object literals rather than a loop over the names: a fixed shape V8 builds
 * in one step. The check below ties each literal's key order to its column list.
 */
export const patRow = (v: readonly unknown[]): Selectable<PatsTable> => ({
  id: v[0], user_id: v[1], name: v[2], description: v[3], token_hash: v[4], pepper_key_id: v[5], display_hint: v[6], prefix: v[7],
  scopes: v[8], audiences: v[9], allowed_ips: v[10], created_at: v[11], expires_at: v[12], last_used_at: v[13], last_used_ip: v[14],
  revoked_at: v[15], revoked_by: v[16], revoke_reason: v[17], rotated_from_id: v[18], created_by_token_id: v[19],
}) as Selectable<PatsTable>;
export const ownerRow = (v: readonly unknown[]): AccountRow => ({
  id: v[1], username: v[20], display_name: v[21], email: v[22], role: v[23], disabled_at: v[24], notifications: v[25], created_at: v[26],
  updated_at: v[27],
}) as AccountRow;
{
  // Read the column names as the values: each key must then hold its own name (the id, user_id).
  const names: readonly string[] = [...PAT_COLUMNS, ...OWNER_COLUMNS];
  const selfNamed = (row: object, columns: number) =>
    Object.keys(row).length === columns && Object.entries(row).every(([key, value]) => value === key || (key === 'id' && value === 'user_id'));
  if (!selfNamed(patRow(names), PAT_COLUMNS.length) || !selfNamed(ownerRow(names), OWNER_COLUMNS.length + 1)) {
    throw new Error('pats.ts: the hot-path row literals do not match PAT_COLUMNS and OWNER_COLUMNS');
  }
}

/**
 * SQLite keeps each token's row at a rowid taken from its hash: the first 13 hex digits, 52 bits,
 * an integer JavaScript holds exactly. The hot lookup is then one seek in the table's own b-tree
 * (integer keys, shallow) instead of a seek in the 64-character token_hash index followed by one in
 * the table; on a million tokens the index seek was most of what a lookup cost beyond the same
 * lookup on a thousand. A row whose key was taken when it was written (one chance in about 4·10⁹
 * per token at a million tokens), or whose rowid VACUUM renumbered, is found through token_hash.
 */
export function rowKeyOf(tokenHash: string): number {
  return parseInt(tokenHash.slice(0, 13), 16);
}

export const TOKEN_HASH_AT = PAT_COLUMNS.indexOf('token_hash');

export function isRowidTaken(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_ROWID';
}

/** Owners remembered by the hot-path lookup; past it the memory starts over (bounded). */
export const OWNERS_REMEMBERED = 10_000;

/** Whether `row[from…]` holds exactly `known`'s values (strings and numbers: compared by value). */
export function sameValues(known: readonly unknown[], row: readonly unknown[], from: number): boolean {
  for (let i = 0; i < known.length; i++) if (known[i] !== row[from + i]) return false;
  return true;
}
