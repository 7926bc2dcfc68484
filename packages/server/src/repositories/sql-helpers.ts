import { sql, type RawBuilder } from 'kysely';
import type { Cursor } from '../domain/cursor.js';

/** Keyset condition for newest-first lists ordered by (created_at desc, id desc). */
export function beforeCursor(cursor: Cursor, table: string): RawBuilder<boolean> {
  return keyset(cursor, table, '<');
}

/** Keyset condition for oldest-first lists ordered by (created_at asc, id asc). */
export function afterCursor(cursor: Cursor, table: string): RawBuilder<boolean> {
  return keyset(cursor, table, '>');
}

function keyset(cursor: Cursor, table: string, direction: '<' | '>'): RawBuilder<boolean> {
  const createdAt = sql.ref(`${table}.created_at`);
  const id = sql.ref(`${table}.id`);
  const op = sql.raw(direction);
  return sql<boolean>`(${createdAt} ${op} ${cursor.at} or (${createdAt} = ${cursor.at} and ${id} ${op} ${cursor.id}))`;
}

/** `column LIKE %value%` with the wildcards in value escaped, on both dialects. */
export function likeContains(column: string, value: string): RawBuilder<boolean> {
  const pattern = `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`${sql.ref(column)} like ${pattern} escape '\\'`;
}

/** Rows in slices small enough for one statement (SQLite allows 32,766 parameters, PostgreSQL 65,535). */
export function* chunks<T>(items: readonly T[], size: number): Generator<readonly T[]> {
  for (let from = 0; from < items.length; from += size) yield items.slice(from, from + size);
}
