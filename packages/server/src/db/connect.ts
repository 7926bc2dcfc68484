import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/config.js';
import type { DB } from './types.js';

const PG_INT8_OID = 20;

/**
 * The only place that knows SQLite from PostgreSQL. SQLite runs in WAL mode with
 * synchronous=FULL so that an acknowledged write survives a crash of the process.
 */
export function createDb(config: DatabaseConfig): Kysely<DB> {
  if (config.kind === 'sqlite') {
    mkdirSync(dirname(config.file), { recursive: true, mode: 0o700 });
    const database = new Database(config.file, { timeout: 5000 });
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    return new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
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
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every SQLite statement afresh, which costs more than running it on the hot
 * path. Queries are built from a fixed set of shapes with bound parameters, so statements are
 * kept by their SQL text (bounded; cleared when full) and reused.
 */
function withStatementCache(database: Database.Database): { close(): void; prepare(sql: string): Database.Statement } {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
        statement = database.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

export function dialectOf(config: DatabaseConfig): 'sqlite' | 'postgres' {
  return config.kind;
}
