import type { RowReader } from '../db/connect.js';
import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { AuditRepository } from './audit.js';
import { ClientsRepository } from './clients.js';
import { EventsRepository } from './events.js';
import { RevokedJwtsRepository, SigningKeysRepository } from './signing-keys.js';
import { PatsRepository } from './pats.js';
import { ScopesRepository } from './scopes.js';
import { SessionsRepository } from './sessions.js';
import { SettingsRepository } from './settings.js';
import { UsersRepository } from './users.js';

export interface Repositories {
  readonly users: UsersRepository;
  readonly sessions: SessionsRepository;
  readonly pats: PatsRepository;
  readonly scopes: ScopesRepository;
  readonly settings: SettingsRepository;
  readonly audit: AuditRepository;
  readonly clients: ClientsRepository;
  readonly signingKeys: SigningKeysRepository;
  readonly revokedJwts: RevokedJwtsRepository;
  readonly events: EventsRepository;
}

function repositoriesOn(db: Kysely<DB>, dialect: 'sqlite' | 'postgres', reader?: RowReader): Repositories {
  return {
    users: new UsersRepository(db),
    sessions: new SessionsRepository(db),
    pats: new PatsRepository(db, reader),
    scopes: new ScopesRepository(db),
    settings: new SettingsRepository(db),
    audit: new AuditRepository(db),
    clients: new ClientsRepository(db),
    signingKeys: new SigningKeysRepository(db),
    revokedJwts: new RevokedJwtsRepository(db),
    events: new EventsRepository(db, dialect),
  };
}

/**
 * The data store: repositories on the shared connection, and `transaction(fn)` for changes that
 * must land together with their audit event.
 */
export class Store {
  readonly repos: Repositories;

  constructor(
    readonly db: Kysely<DB>,
    readonly dialect: 'sqlite' | 'postgres',
    /** Hot-path reads outside Kysely; never inside a transaction, which has its own connection. */
    reader?: RowReader,
  ) {
    this.repos = repositoriesOn(db, dialect, reader);
  }

  transaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(repositoriesOn(trx, this.dialect)));
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('settings').select('key').limit(1).execute();
  }

  destroy(): Promise<void> {
    return this.db.destroy();
  }
}
