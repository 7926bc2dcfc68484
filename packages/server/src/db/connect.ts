import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type PostgresDialectConfig, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/config.js';
import type { DB } from './types.js';
import { GroupFlush } from './group-flush.js';

const PG_INT8_OID = 20;

/**
 * Reads one row with a fixed SQL text (bound parameters only) outside Kysely, on the same
 * connection or pool. For the verification lookup, where Kysely's per-call work (connection
 * mutex, promise chain, result wrapping) costs more than the indexed read itself.
 *
 * The row comes back as its values in select order: both drivers build a row object by setting
 * one named property per column from native code, which for the lookup's 30 columns cost more
 * than SQLite's whole indexed read (a bare point lookup ran 0.78 × as fast with object rows as
 * with arrays, docs/PERFORMANCE.md).
 */
export interface RowReader {
  values(sql: string, params: readonly unknown[]): Promise<readonly unknown[] | undefined>;
}

/**
 * Runs one prepared statement once for each row, all in one transaction of its own, outside
 * Kysely (SQLite only: better-sqlite3 commits it synchronously). For the group commit of audit
 * events, where Kysely building one INSERT of hundreds of parameters cost more than writing the
 * rows. The promise resolves once the rows are on disk. Never to be used while a Kysely
 * transaction is open on the connection: it would nest.
 */
export interface RowWriter {
  runEach(sql: string, rows: readonly (readonly unknown[])[]): Promise<void>;
}

export interface Database {
  readonly db: Kysely<DB>;
  readonly reader: RowReader;
  /** SQLite only. */
  readonly writer?: RowWriter;
  /** PostgreSQL: the pool's connections now (for /metrics and the fault tests). */
  readonly poolStats?: () => PoolStats;
}

export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/** The Kysely instance alone (migrations, CLI). */
export function createDb(config: DatabaseConfig): Kysely<DB> {
  return createDatabase(config).db;
}

/**
 * The only place that knows SQLite from PostgreSQL. SQLite runs in WAL mode with
 * synchronous=FULL so that an acknowledged write survives a crash of the process or the machine
 * (the RowWriter gets the same from a flush of its own: sqliteRowWriter).
 */
export function createDatabase(config: DatabaseConfig): Database {
  if (config.kind === 'sqlite') {
    mkdirSync(dirname(config.file), { recursive: true, mode: 0o700 });
    const database = new SqliteDatabase(config.file, { timeout: 5000 });
    const journal: unknown = database.pragma('journal_mode = WAL', { simple: true });
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    // SQLite's default page cache is 2 MB; the token index of a million tokens is far larger, and
    // every page it misses is a read() system call on the verification path. The cache is a
    // bound, filled only as pages are read, and counts in the process's memory.
    database.pragma(`cache_size = -${config.cacheMb * 1024}`);
    const wal = journal === 'wal' ? walFlush(`${config.file}-wal`) : undefined;
    const statements = withStatementCache(database, wal?.close);
    return {
      db: new Kysely<DB>({ dialect: new SqliteDialect({ database: statements }) }),
      reader: { values: async (sql, params) => statements.prepareRaw(sql).get(...params) as unknown[] | undefined },
      writer: sqliteRowWriter(database, statements, wal),
    };
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 1000,
    // Epoch-millisecond bigints fit a double exactly; parse them (and count(*)) as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A client whose backend dies emits 'error': idle ones through the pool, checked-out ones on
  // themselves. Without listeners that is an uncaught exception; the failed query itself still
  // rejects and is answered 503 by the caller.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const names = new Map<string, string>();
  return {
    db: new Kysely<DB>({ dialect: new PostgresDialect({ pool: discardingBrokenClients(pool) }) }),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    reader: {
      // A named statement is parsed and planned once per connection, then only executed.
      async values(sql, params) {
        let name = names.get(sql);
        if (name === undefined) names.set(sql, (name = `keyfob_${names.size + 1}`));
        const result = await pool.query<unknown[]>({ name, text: sql, values: [...params], rowMode: 'array' });
        return result.rows[0];
      },
    },
  };
}

/**
 * fdatasync of SQLite's write-ahead log on libuv's thread pool, shared by the callers of one
 * moment (GroupFlush). It is the flush synchronous=FULL runs inside COMMIT; fsync and fdatasync
 * write out a file's data whichever descriptor wrote it. The log exists while the database is
 * open (SQLite deletes it only when the last connection closes), so it is opened once.
 */
function walFlush(walFile: string): { group: GroupFlush; close: () => Promise<void> } {
  let handle: Promise<FileHandle> | undefined;
  const group = new GroupFlush(async () => {
    handle ??= open(walFile, 'r+').catch((error: unknown) => {
      handle = undefined;
      throw error;
    });
    await (await handle).datasync();
  });
  return {
    group,
    async close() {
      await group.settled();
      await (await handle?.catch(() => undefined))?.close();
    },
  };
}

/**
 * SQLite's RowWriter. Its transaction commits under synchronous=NORMAL, without waiting on the
 * disk, and the promise resolves after the fdatasync of the log that FULL would have run inside
 * the COMMIT: the rows are as durable when it resolves, but the event loop serves other requests
 * while the disk flushes, and commits made meanwhile share the next flush. Waiting inside the
 * COMMIT held every request of the process: verification beside token exchanges ran at less
 * than half the rate (docs/PERFORMANCE.md, runs K1 and K2). NORMAL keeps the database safe from
 * corruption: checkpoints still flush the log before they copy it, and the database file after.
 */
function sqliteRowWriter(database: SqliteDatabase.Database, statements: { prepare(sql: string): SqliteDatabase.Statement }, wal: { group: GroupFlush } | undefined): RowWriter {
  const relaxed = database.prepare('PRAGMA synchronous = NORMAL');
  const full = database.prepare('PRAGMA synchronous = FULL');
  return {
    async runEach(sql, rows) {
      // better-sqlite3 would nest into an open transaction (a SAVEPOINT) and the rows would
      // commit or roll back with it: refuse instead (Store withholds the writer meanwhile).
      if (database.inTransaction) throw new Error('RowWriter used while a transaction is open on the connection');
      const statement = statements.prepare(sql);
      const insertAll = database.transaction(() => {
        for (const row of rows) statement.run(...row);
      });
      if (wal === undefined) return void insertAll();
      // Synchronous from here to FULL again: nothing else runs on the connection in between.
      relaxed.run();
      try {
        insertAll();
      } finally {
        full.run();
      }
      await wal.group.flush();
    },
  };
}

/**
 * Kysely hands a client back to the pool without saying that its query failed; pg's pool then
 * keeps a client whose connection died silently (a query that timed out on the client side is
 * still "active" on it, and every later query queues behind it). A client that failed for
 * anything but a plain SQL error is handed back with the error, so the pool closes it.
 */
function discardingBrokenClients(pool: pg.Pool): PostgresDialectConfig['pool'] {
  return {
    async connect() {
      const client = await pool.connect();
      let broken: Error | undefined;
      const query = (sqlOrCursor: string | object, parameters?: readonly unknown[]) => {
        // Streaming (a cursor object) goes straight through; keyfob does not stream.
        if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as pg.Submittable);
        return client.query(sqlOrCursor, parameters === undefined ? [] : [...parameters]).catch((error: unknown) => {
          // A DatabaseError carries PostgreSQL's SQLSTATE: the connection itself is fine.
          if (!(error instanceof pg.DatabaseError)) broken = error as Error;
          throw error;
        });
      };
      return { query, release: () => client.release(broken) } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every SQLite statement afresh, which costs more than running it on the hot
 * path. Queries are built from a fixed set of shapes with bound parameters, so statements are
 * kept by their SQL text (bounded; cleared when full) and reused.
 */
function withStatementCache(database: SqliteDatabase.Database, afterClose?: () => Promise<void>): {
  close(): void;
  prepare(sql: string): SqliteDatabase.Statement;
  /** The same, answering rows as arrays of values (a statement of its own: Kysely reads objects). */
  prepareRaw(sql: string): SqliteDatabase.Statement;
} {
  const statements = new Map<string, SqliteDatabase.Statement>();
  const rawStatements = new Map<string, SqliteDatabase.Statement>();
  const cached = (cache: Map<string, SqliteDatabase.Statement>, sql: string, raw: boolean) => {
    let statement = cache.get(sql);
    if (!statement) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      statement = database.prepare(sql);
      if (raw) statement.raw(true);
      cache.set(sql, statement);
    }
    return statement;
  };
  return {
    close: () => {
      database.close();
      void afterClose?.();
    },
    prepare: (sql) => cached(statements, sql, false),
    prepareRaw: (sql) => cached(rawStatements, sql, true),
  };
}

export function dialectOf(config: DatabaseConfig): 'sqlite' | 'postgres' {
  return config.kind;
}
