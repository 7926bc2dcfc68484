import type { Account } from '../domain/verified-token.js';
import { newId } from '../domain/ids.js';
import type { CreateUserBody, Role, SetupBody, UpdateMeBody, UpdateUserBody } from '@keyfob/protocol';
import { Conflict, KeyfobError, NotFound, ValidationError } from '../errors/keyfob-error.js';
import { hashPassword, verifyPassword } from '../crypto/passwords.js';
import type { Actor, User } from '../domain/models.js';
import type { Cursor } from '../domain/cursor.js';
import type { Repositories, Store } from '../repositories/store.js';
import type { UserChanges, UserFilter } from '../repositories/users.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import type { InvalidationBus } from '../cache/invalidation-bus.js';

const SETUP_MARKER = 'setup';

export interface NewUserInput {
  readonly username: string;
  readonly password: string;
  readonly role: Role;
  readonly displayName?: string | undefined;
  readonly email?: string | null | undefined;
}

export class UserService {
  constructor(private readonly deps: { store: Store; clock: Clock; bus: InvalidationBus }) {}

  async setupNeeded(): Promise<boolean> {
    return (await this.deps.store.repos.users.count()) === 0;
  }

  /**
   * Creates the first admin, only while no user exists. A settings marker with a unique key makes
   * two racing setups on PostgreSQL end with one admin and one 409.
   */
  async setup(actor: Actor, body: SetupBody): Promise<User> {
    const passwordHash = await hashPassword(body.password);
    const now = this.deps.clock.now();
    try {
      return await this.deps.store.transaction(async (repos) => {
        if ((await repos.users.count()) > 0 || (await repos.settings.get(SETUP_MARKER))) throw new Conflict('setup is already complete');
        await repos.settings.put(SETUP_MARKER, { at: now }, now);
        const user = await insertUser(repos, actor, { ...body, role: 'admin' }, passwordHash, now);
        await recordAudit(repos, actor, { action: 'setup.completed', targetType: 'user', targetId: user.id }, now);
        return user;
      });
    } catch (error) {
      if (error instanceof KeyfobError) throw error;
      if (await this.setupNeeded().catch(() => true)) throw error;
      throw new Conflict('setup is already complete');
    }
  }

  async create(actor: Actor, body: CreateUserBody | NewUserInput): Promise<User> {
    const passwordHash = await hashPassword(body.password);
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (repos) => {
      if (await repos.users.findByUsername(body.username)) throw new Conflict(`username "${body.username}" is taken`);
      return insertUser(repos, actor, { ...body, role: body.role ?? 'user' }, passwordHash, now);
    });
  }

  async get(id: string): Promise<User> {
    const user = await this.deps.store.repos.users.findById(id);
    if (!user) throw new NotFound('user');
    return user;
  }

  async findByUsername(username: string): Promise<User | undefined> {
    return this.deps.store.repos.users.findByUsername(username);
  }

  list(filter: UserFilter, cursor: Cursor | undefined, limit: number): Promise<User[]> {
    return this.deps.store.repos.users.list(filter, cursor, limit);
  }

  /** Admin changes to a user. Disabling or demoting the last active admin is refused. */
  async update(actor: Actor, id: string, body: UpdateUserBody): Promise<User> {
    const passwordHash = body.password === undefined ? undefined : await hashPassword(body.password);
    const now = this.deps.clock.now();
    const result = await this.deps.store.transaction(async (repos) => {
      const user = await repos.users.findById(id);
      if (!user) throw new NotFound('user');
      const losesAdmin = user.role === 'admin' && user.disabledAt === null && ((body.role !== undefined && body.role !== 'admin') || body.disabled === true);
      if (losesAdmin && (await repos.users.countActiveAdmins()) <= 1) throw new Conflict('at least one active admin must remain');

      const changes: UserChanges = {};
      if (body.displayName !== undefined) changes.displayName = body.displayName;
      if (body.email !== undefined) changes.email = body.email === '' ? null : body.email;
      if (body.role !== undefined) changes.role = body.role;
      if (body.disabled !== undefined && body.disabled !== (user.disabledAt !== null)) changes.disabledAt = body.disabled ? now : null;
      if (passwordHash !== undefined) changes.passwordHash = passwordHash;
      const updated = await repos.users.update(id, changes, now);
      if (!updated) throw new NotFound('user');

      if (changes.disabledAt !== undefined || passwordHash !== undefined) await repos.sessions.deleteForUser(id);
      // A disabled owner stops every token, a role change changes what admin:* grants.
      const invalidates = changes.disabledAt !== undefined || (changes.role !== undefined && changes.role !== user.role);
      if (invalidates) await this.deps.bus.publishIn(repos, { kind: 'user', id });
      const target = { targetType: 'user', targetId: id } as const;
      if (changes.role !== undefined && changes.role !== user.role) {
        await recordAudit(repos, actor, { action: 'user.role_changed', ...target, details: { from: user.role, to: changes.role } }, now);
      }
      if (changes.disabledAt !== undefined) await recordAudit(repos, actor, { action: body.disabled ? 'user.disabled' : 'user.enabled', ...target }, now);
      const profile = (['displayName', 'email'] as const).filter((k) => changes[k] !== undefined);
      if (profile.length > 0 || passwordHash !== undefined) {
        await recordAudit(repos, actor, { action: 'user.updated', ...target, details: { fields: passwordHash ? [...profile, 'password'] : profile } }, now);
      }
      return { updated, invalidates };
    });
    if (result.invalidates) this.deps.bus.applyLocal({ kind: 'user', id });
    return result.updated;
  }

  async delete(actor: Actor, id: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      const user = await repos.users.findById(id);
      if (!user) throw new NotFound('user');
      if (user.role === 'admin' && user.disabledAt === null && (await repos.users.countActiveAdmins()) <= 1) {
        throw new Conflict('at least one active admin must remain');
      }
      await repos.pats.deleteByUser(id);
      await repos.sessions.deleteForUser(id);
      await repos.users.delete(id);
      await this.deps.bus.publishIn(repos, { kind: 'user', id });
      await recordAudit(repos, actor, { action: 'user.deleted', targetType: 'user', targetId: id, details: { username: user.username } }, now);
    });
    this.deps.bus.applyLocal({ kind: 'user', id });
  }

  /** The caller changes their own profile; a new password needs the current one. */
  async updateMe(actor: Actor, user: Account, body: UpdateMeBody, keepSessionIdHash: string | null): Promise<User> {
    let passwordHash: string | undefined;
    if (body.password !== undefined) {
      // The principal never carries the password hash: read it only here.
      const stored = await this.deps.store.repos.users.findById(user.id);
      // Setting a first password needs no current one, so a session alone (perhaps a stolen one)
      // must not be able to add one: that is an administrator's decision.
      if (stored && stored.passwordHash === null) throw new ValidationError('password', 'this account signs in with single sign-on and has no password; an administrator can set one');
      if (body.currentPassword === undefined) throw new ValidationError('currentPassword', 'is required to change the password');
      if (!(await verifyPassword(stored?.passwordHash ?? null, body.currentPassword))) throw new ValidationError('currentPassword', 'is incorrect');
      passwordHash = await hashPassword(body.password);
    }
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (repos) => {
      const changes: UserChanges = {};
      if (body.displayName !== undefined) changes.displayName = body.displayName;
      if (body.email !== undefined) changes.email = body.email === '' ? null : body.email;
      if (body.notifications !== undefined) changes.notifications = { ...user.notifications, ...stripUndefined(body.notifications) };
      if (passwordHash !== undefined) changes.passwordHash = passwordHash;
      const updated = await repos.users.update(user.id, changes, now);
      if (!updated) throw new NotFound('user');
      if (passwordHash !== undefined) await repos.sessions.deleteForUser(user.id, keepSessionIdHash ?? undefined);
      const fields = Object.keys(changes).map((k) => (k === 'passwordHash' ? 'password' : k));
      if (fields.length > 0) await recordAudit(repos, actor, { action: 'user.updated', targetType: 'user', targetId: user.id, details: { fields } }, now);
      return updated;
    });
  }
}

/**
 * Inserts a user and its `user.created` event through the transaction's repositories.
 * `passwordHash` null: the account signs in through an OpenID Connect provider only.
 */
export async function insertUser(
  repos: Repositories,
  actor: Actor,
  input: Omit<NewUserInput, 'password'>,
  passwordHash: string | null,
  now: number,
  details: Readonly<Record<string, string>> = {},
): Promise<User> {
  const user = await repos.users.insert({
    id: newId(now),
    username: input.username,
    displayName: input.displayName ?? input.username,
    email: input.email ?? null,
    passwordHash,
    role: input.role,
    now,
  });
  await recordAudit(repos, actor, { action: 'user.created', targetType: 'user', targetId: user.id, details: { username: user.username, role: user.role, ...details } }, now);
  return user;
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
