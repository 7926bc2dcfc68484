import type { RowReader, RowWriter } from '../db/connect.js';
import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { AuditRepository } from './audit.js';
import { ClientsRepository } from './clients.js';
import { EventsRepository } from './events.js';
import { JobLeasesRepository } from './job-leases.js';
import { NoticesRepository } from './notices.js';
import { OutboxRepository } from './outbox.js';
import { RemindersRepository } from './reminders.js';
import { WebhooksRepository } from './webhooks.js';
import { IdentitiesRepository } from './identities.js';
import { RevokedJwtsRepository, SigningKeysRepository } from './signing-keys.js';
import { PatsRepository } from './pats.js';
import { ScopesRepository } from './scopes.js';
import { SessionsRepository } from './sessions.js';
import { SettingsRepository } from './settings.js';
import { UsageReportsRepository } from './usage-reports.js';
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
  readonly outbox: OutboxRepository;
  readonly webhooks: WebhooksRepository;
  readonly notices: NoticesRepository;
  readonly leases: JobLeasesRepository;
  readonly reminders: RemindersRepository;
  readonly identities: IdentitiesRepository;
  readonly usageReports: UsageReportsRepository;
}

interface Direct {
  readonly reader?: (() => RowReader | undefined) | undefined;
  readonly writer?: (() => RowWriter | undefined) | undefined;
}

function repositoriesOn(db: Kysely<DB>, dialect: 'sqlite' | 'postgres', { reader, writer }: Direct = {}): Repositories {
  return {
    users: new UsersRepository(db),
    sessions: new SessionsRepository(db),
    pats: new PatsRepository(db, dialect, reader),
    scopes: new ScopesRepository(db),
    settings: new SettingsRepository(db),
    audit: new AuditRepository(db, writer),
    clients: new ClientsRepository(db),
    signingKeys: new SigningKeysRepository(db),
    revokedJwts: new RevokedJwtsRepository(db),
    events: new EventsRepository(db, dialect),
    outbox: new OutboxRepository(db),
    webhooks: new WebhooksRepository(db),
    notices: new NoticesRepository(db),
    leases: new JobLeasesRepository(db),
    reminders: new RemindersRepository(db, dialect),
    identities: new IdentitiesRepository(db),
    usageReports: new UsageReportsRepository(db),
  };
}

/**
 * The data store: repositories on the shared connection, and `transaction(fn)` for changes that
 * must land together with their audit event.
 */
export class Store {
  readonly repos: Repositories;

  #openTransactions = 0;

  constructor(
    readonly db: Kysely<DB>,
    readonly dialect: 'sqlite' | 'postgres',
    /**
     * Hot-path reads outside Kysely. On PostgreSQL they use the pool (a transaction has its own
     * connection). SQLite has one connection: while a transaction is open on it, a read beside
     * Kysely's lock would see uncommitted rows, so the repositories fall back to Kysely, which waits.
     */
    reader?: RowReader,
    /** SQLite's batch writer, used on the same terms as the reader. */
    writer?: RowWriter,
  ) {
    const outsideTransactions = <T>(direct: T) => () => (dialect === 'sqlite' && this.#openTransactions > 0 ? undefined : direct);
    this.repos = repositoriesOn(db, dialect, { reader: reader && outsideTransactions(reader), writer: writer && outsideTransactions(writer) });
  }

  async transaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    this.#openTransactions++;
    try {
      return await this.db.transaction().execute((trx) => fn(repositoriesOn(trx, this.dialect)));
    } finally {
      this.#openTransactions--;
    }
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('settings').select('key').limit(1).execute();
  }

  destroy(): Promise<void> {
    return this.db.destroy();
  }
}
