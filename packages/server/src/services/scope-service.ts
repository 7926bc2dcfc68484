import { BUILTIN_SCOPES, isAdminScope } from '@keyfob/protocol';
import { Conflict, KeyfobError, NotFound } from '../errors/keyfob-error.js';
import type { Actor, ScopeEntry } from '../domain/models.js';
import type { Repositories, Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';

export class ScopeService {
  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  async ensureBuiltins(): Promise<void> {
    const entries = Object.entries(BUILTIN_SCOPES).map(([name, description]) => ({ name, description }));
    await this.deps.store.repos.scopes.ensure(entries, this.deps.clock.now());
  }

  list(): Promise<ScopeEntry[]> {
    return this.deps.store.repos.scopes.list();
  }

  /** Checks that every scope is in the catalogue; the error names the first unknown one. */
  async assertKnown(scopes: readonly string[], field = 'scopes', repos: Repositories = this.deps.store.repos): Promise<void> {
    // Inside a transaction pass its repositories: SQLite has one connection, and a query outside
    // the open transaction would wait for it forever.
    const known = await repos.scopes.names(scopes);
    const unknown = scopes.find((s) => !known.has(s));
    if (unknown !== undefined) throw new KeyfobError('invalid_scope', `${field}: "${unknown}" is not in the scope catalogue`, { field });
  }

  async add(actor: Actor, name: string, description: string): Promise<ScopeEntry> {
    if (isAdminScope(name)) throw new Conflict(`"${name}": the admin namespace is reserved for keyfob`);
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (repos) => {
      if (await repos.scopes.find(name)) throw new Conflict(`scope "${name}" already exists`);
      await repos.scopes.insert({ name, description, builtin: false, createdAt: now });
      await recordAudit(repos, actor, { action: 'scope.created', targetType: 'scope', targetId: name, details: { description } }, now);
      return { name, description, builtin: false, createdAt: new Date(now) };
    });
  }

  async remove(actor: Actor, name: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      const entry = await repos.scopes.find(name);
      if (!entry) throw new NotFound(`scope "${name}"`);
      if (entry.builtin) throw new Conflict(`"${name}" is a built-in scope and cannot be removed`);
      const holders = await repos.pats.countActiveHoldingScope(name, now);
      if (holders > 0) throw new Conflict(`${holders} active token(s) hold "${name}"; revoke them first`);
      await repos.scopes.delete(name);
      await recordAudit(repos, actor, { action: 'scope.deleted', targetType: 'scope', targetId: name }, now);
    });
  }
}
