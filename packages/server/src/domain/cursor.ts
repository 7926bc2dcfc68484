import { ValidationError } from '../errors/keyfob-error.js';

/** Keyset position for lists ordered newest first by (created_at, id). Opaque to clients. */
export interface Cursor {
  readonly at: number;
  readonly id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

export function decodeCursor(raw: string | undefined): Cursor | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    // Only what this server issues: a whole millisecond count and an id. Anything else would reach
    // the store as a value PostgreSQL refuses to compare with a bigint or text column.
    if (Array.isArray(value) && Number.isSafeInteger(value[0]) && typeof value[1] === 'string' && /^[A-Za-z0-9_.:@+-]{1,100}$/.test(value[1])) {
      return { at: value[0] as number, id: value[1] };
    }
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('cursor', 'is not a cursor this server issued');
}

/** Turns `limit + 1` fetched rows into a page and the cursor of its last item. */
export function toPage<T>(rows: readonly T[], limit: number, position: (item: T) => Cursor): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
}
