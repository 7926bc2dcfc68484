import { sql, type RawBuilder } from 'kysely';
import type { Cursor } from '../domain/cursor.js';

/** Keyset condition for newest-first lists ordered by (created_at desc, id desc). */
export function beforeCursor(cursor: Cursor, table: string): RawBuilder<boolean> {
  const createdAt = sql.ref(`${table}.created_at`);
  const id = sql.ref(`${table}.id`);
  return sql<boolean>`(${createdAt} < ${cursor.at} or (${createdAt} = ${cursor.at} and ${id} < ${cursor.id}))`;
}

/** `column LIKE %value%` with the wildcards in value escaped, on both dialects. */
export function likeContains(column: string, value: string): RawBuilder<boolean> {
  const pattern = `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`${sql.ref(column)} like ${pattern} escape '\\'`;
}
