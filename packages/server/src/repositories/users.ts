import type { Kysely, Selectable } from 'kysely';
import { beforeCursor, likeContains } from './sql-helpers.js';
import type { Role } from '@keyfob/protocol';
import type { DB, UsersTable } from '../db/types.js';
import { DEFAULT_NOTIFICATIONS, usernameKey, type Account, type Notifications, type User } from '../domain/models.js';
import { decodeJsonObject, encodeJson, toDate } from './json.js';
import type { Cursor } from '../domain/cursor.js';

export interface NewUser {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly email: string | null;
  readonly passwordHash: string | null;
  readonly role: Role;
  readonly now: number;
}

export interface UserChanges {
  displayName?: string;
  email?: string | null;
  passwordHash?: string;
  role?: Role;
  disabledAt?: number | null;
  notifications?: Notifications;
}

export interface UserFilter {
  readonly role?: Role | undefined;
  readonly disabled?: boolean | undefined;
  readonly q?: string | undefined;
}

/** The columns of a user that requests may see: all but the password hash (and the lookup key). */
export type AccountRow = Omit<Selectable<UsersTable>, 'password_hash' | 'username_key'>;

/** A user as requests see it, without the password hash: what token verification reads. */
export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    role: row.role,
    disabledAt: toDate(row.disabled_at),
    notifications: { ...DEFAULT_NOTIFICATIONS, ...(decodeJsonObject(row.notifications) as Partial<Notifications>) },
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toUser(row: Selectable<UsersTable>): User {
  return { ...toAccount(row), passwordHash: row.password_hash };
}

export class UsersRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async count(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async countActiveAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insert(user: NewUser): Promise<User> {
    const row = {
      id: user.id,
      username: user.username,
      username_key: usernameKey(user.username),
      display_name: user.displayName,
      email: user.email,
      password_hash: user.passwordHash,
      role: user.role,
      disabled_at: null,
      notifications: encodeJson(DEFAULT_NOTIFICATIONS),
      created_at: user.now,
      updated_at: user.now,
    };
    await this.db.insertInto('users').values(row).execute();
    return toUser(row);
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username_key', '=', usernameKey(username)).executeTakeFirst();
    return row && toUser(row);
  }

  async update(id: string, changes: UserChanges, now: number): Promise<User | undefined> {
    const set: Partial<Selectable<UsersTable>> = { updated_at: now };
    if (changes.displayName !== undefined) set.display_name = changes.displayName;
    if (changes.email !== undefined) set.email = changes.email;
    if (changes.passwordHash !== undefined) set.password_hash = changes.passwordHash;
    if (changes.role !== undefined) set.role = changes.role;
    if (changes.disabledAt !== undefined) set.disabled_at = changes.disabledAt;
    if (changes.notifications !== undefined) set.notifications = encodeJson(changes.notifications);
    await this.db.updateTable('users').set(set).where('id', '=', id).execute();
    return this.findById(id);
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('users').where('id', '=', id).execute();
  }

  /** Serialises concurrent writers of one user's tokens (PostgreSQL row lock; SQLite has one writer). */
  async lock(id: string, dialect: 'sqlite' | 'postgres'): Promise<void> {
    if (dialect === 'postgres') await this.db.selectFrom('users').select('id').where('id', '=', id).forUpdate().execute();
  }

  async list(filter: UserFilter, cursor: Cursor | undefined, limit: number): Promise<User[]> {
    let query = this.db.selectFrom('users').selectAll();
    if (filter.role !== undefined) query = query.where('role', '=', filter.role);
    if (filter.disabled !== undefined) query = query.where('disabled_at', filter.disabled ? 'is not' : 'is', null);
    if (filter.q) query = query.where(likeContains('username_key', usernameKey(filter.q)));
    if (cursor) query = query.where(beforeCursor(cursor, 'users'));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    return rows.map(toUser);
  }
}
