// Builds bench stores: the server's own migrations (through createContainer), then users and
// tokens inserted directly in bulk with the server's table layout and its own HMAC pepper, so that
// real verifications of benchToken(i) hit row i. Seeding a million tokens through the API would
// take hours (each creation is a transaction with an audit event); direct inserts take seconds.
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { BENCH_SECRET, TOKEN_PREFIX, benchEnv, benchToken, childArgs, protocol, server, writeResult } from './lib.mjs';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const CHUNK = 20_000;

/** Runs the server's migrations and built-in setup (scopes, signing keys) on an empty store. */
async function initStore(db) {
  const { loadConfig } = await server('config/load.js');
  const { createContainer } = await server('container.js');
  const container = await createContainer(loadConfig(benchEnv(db)));
  await container.close();
}

/** Row values for token i (same for both dialects). */
function makeRowFactory({ keys, hmacHex, users, baseTime }) {
  const expiresAt = baseTime + YEAR_MS;
  const scopes = JSON.stringify(['tokens:read']);
  return (i) => {
    const token = benchToken(i);
    const createdAt = baseTime - 10_000_000 + i;
    return {
      id: patId(createdAt, i),
      user_id: userId(i % users),
      name: `bench-${i}`,
      description: '',
      token_hash: hmacHex(keys.pepper, token),
      pepper_key_id: keys.id,
      display_hint: protocol.displayHintOf(token),
      prefix: TOKEN_PREFIX,
      scopes,
      audiences: '[]',
      allowed_ips: '[]',
      created_at: createdAt,
      expires_at: expiresAt,
    };
  };
}

/**
 * A UUIDv7-shaped id (time-ordered like the server's newId, which costs ~20 µs a call: too slow
 * for a million rows); the index makes it unique.
 */
function patId(ms, i) {
  const t = ms.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7000-8000-${i.toString(16).padStart(12, '0')}`;
}

const userId = (u) => `00000000-0000-7000-8000-${String(u).padStart(12, '0')}`;

function userRow(u, at) {
  return {
    id: userId(u),
    username: `bench-user-${u}`,
    username_key: `bench-user-${u}`,
    display_name: `Bench User ${u}`,
    email: `bench-user-${u}@bench.example`,
    password_hash: null,
    role: 'user',
    disabled_at: null,
    notifications: '{}',
    created_at: at,
    updated_at: at,
  };
}

const PAT_COLUMNS = ['id', 'user_id', 'name', 'description', 'token_hash', 'pepper_key_id', 'display_hint', 'prefix', 'scopes', 'audiences', 'allowed_ips', 'created_at', 'expires_at'];
const USER_COLUMNS = ['id', 'username', 'username_key', 'display_name', 'email', 'password_hash', 'role', 'disabled_at', 'notifications', 'created_at', 'updated_at'];

async function serverCrypto() {
  const { deriveKeys, hmacHex } = await server('crypto/keys.js');
  return { keys: deriveKeys(BENCH_SECRET), hmacHex };
}

/**
 * Seeds `count` tokens owned by min(count, 1000) users into a fresh SQLite store in `dir`.
 * Stops early (and says so) when the projected time passes `budgetMs`.
 */
export async function seedSqlite({ dir, count, budgetMs = 300_000 }) {
  const started = Date.now();
  const file = join(dir, 'keyfob.db');
  const db = { dir, url: `sqlite:${file}` };
  await initStore(db);
  const { keys, hmacHex } = await serverCrypto();
  const users = Math.min(count, 1000);
  const sq = new Database(file);
  sq.pragma('journal_mode = WAL');
  sq.pragma('synchronous = OFF');
  sq.pragma('cache_size = -1000000');
  const baseTime = Date.now();
  const insertUser = sq.prepare(`INSERT INTO users (${USER_COLUMNS.join(',')}) VALUES (${USER_COLUMNS.map((c) => '@' + c).join(',')})`);
  sq.transaction(() => {
    for (let u = 0; u < users; u++) insertUser.run(userRow(u, baseTime));
  })();
  // Bulk-load practice: the plain secondary indexes of the token tables are dropped during the
  // load and recreated from their own definitions afterwards (same layout, built by sorting).
  // Constraint indexes (primary keys, UNIQUE token_hash) stay in place throughout.
  const secondary = sq.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('pats', 'pat_scopes')").all();
  for (const index of secondary) sq.exec(`DROP INDEX "${index.name}"`);
  const insertPat = sq.prepare(`INSERT INTO pats (${PAT_COLUMNS.join(',')}) VALUES (${PAT_COLUMNS.map((c) => '@' + c).join(',')})`);
  // As the server writes a token: at the rowid its hash keys, or anywhere when that is taken.
  const { rowKeyOf } = await server('repositories/pat-lookup-rows.js');
  const insertKeyedPat = sq.prepare(`INSERT INTO pats (rowid, ${PAT_COLUMNS.join(',')}) VALUES (@rowid, ${PAT_COLUMNS.map((c) => '@' + c).join(',')})`);
  const insertScope = sq.prepare('INSERT INTO pat_scopes (pat_id, scope) VALUES (?, ?)');
  const row = makeRowFactory({ keys, hmacHex, users, baseTime });
  const insertChunk = sq.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      const r = row(i);
      try {
        insertKeyedPat.run({ ...r, rowid: rowKeyOf(r.token_hash) });
      } catch (error) {
        if (error.code !== 'SQLITE_CONSTRAINT_ROWID') throw error;
        insertPat.run(r);
      }
      insertScope.run(r.id, 'tokens:read');
    }
  });
  let seeded = 0;
  let stoppedEarly = false;
  while (seeded < count) {
    const to = Math.min(count, seeded + CHUNK);
    insertChunk(seeded, to);
    seeded = to;
    const elapsed = Date.now() - started;
    if (seeded < count && elapsed * (to + CHUNK) / to > budgetMs) {
      stoppedEarly = true;
      break;
    }
  }
  for (const index of secondary) sq.exec(index.sql);
  sq.pragma('wal_checkpoint(TRUNCATE)');
  // No ANALYZE here: the server never runs it, and with sqlite_stat4 present SQLite re-prepares
  // every statement whose bound value could change the plan, on every new binding.
  sq.close();
  return { kind: 'sqlite', url: db.url, dir, requested: count, count: seeded, users, stoppedEarly, seconds: (Date.now() - started) / 1000 };
}

/** A PostgreSQL database of its own on the server named by `adminUrl`. */
export async function createPgDatabase(adminUrl, name) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropPgDatabase(adminUrl, name) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * Seeds `count` tokens into an empty PostgreSQL database: unnest() batches of 20,000 rows on two
 * connections (one batch is built in JS while the other is inserted).
 */
export async function seedPostgres({ url, dir, count, budgetMs = 300_000 }) {
  const started = Date.now();
  const db = { dir, url };
  await initStore(db);
  const { keys, hmacHex } = await serverCrypto();
  const users = Math.min(count, 1000);
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
  await Promise.all(clients.map((c) => c.connect()));
  const [client] = clients;
  const baseTime = Date.now();
  const unnestInsert = async (c, table, columns, types, rows) => {
    const arrays = columns.map((col) => rows.map((r) => r[col]));
    const params = types.map((t, k) => `$${k + 1}::${t}[]`).join(',');
    await c.query(`INSERT INTO ${table} (${columns.join(',')}) SELECT * FROM unnest(${params})`, arrays);
  };
  let secondary = [];
  try {
    for (const c of clients) await c.query('SET synchronous_commit = off');
    // As for SQLite: plain secondary indexes are rebuilt after the load from their definitions.
    secondary = (
      await client.query(
        `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN ('pats', 'pat_scopes')
           AND indexname NOT IN (SELECT conname FROM pg_constraint)`,
      )
    ).rows;
    for (const index of secondary) await client.query(`DROP INDEX "${index.indexname}"`);
    const userRows = Array.from({ length: users }, (_, u) => userRow(u, baseTime));
    await unnestInsert(client, 'users', USER_COLUMNS, ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'text', 'bigint', 'bigint'], userRows);
    const row = makeRowFactory({ keys, hmacHex, users, baseTime });
    const patTypes = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint'];
    let next = 0; // first index not yet taken by a worker
    let seeded = 0;
    let stoppedEarly = false;
    const worker = async (c) => {
      while (next < count && !stoppedEarly) {
        const from = next;
        const to = Math.min(count, from + CHUNK);
        next = to;
        const rows = [];
        for (let i = from; i < to; i++) rows.push(row(i));
        await c.query('BEGIN');
        await unnestInsert(c, 'pats', PAT_COLUMNS, patTypes, rows);
        await unnestInsert(c, 'pat_scopes', ['pat_id', 'scope'], ['text', 'text'], rows.map((r) => ({ pat_id: r.id, scope: 'tokens:read' })));
        await c.query('COMMIT');
        seeded += to - from;
        const elapsed = Date.now() - started;
        if (next < count && (elapsed * (seeded + 2 * CHUNK)) / seeded > budgetMs) stoppedEarly = true;
      }
    };
    await Promise.all(clients.map(worker));
    // Workers stop on chunk boundaries, so the seeded indexes are exactly [0, seeded).
    for (const index of secondary) await client.query(index.indexdef);
    secondary = [];
    await client.query('ANALYZE');
    return { kind: 'postgres', url, dir, requested: count, count: seeded, users, stoppedEarly, seconds: (Date.now() - started) / 1000 };
  } finally {
    for (const index of secondary) await client.query(index.indexdef).catch(() => {});
    await Promise.all(clients.map((c) => c.end()));
  }
}

// As a child: seed one store and write its description.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = childArgs();
  const result = args.kind === 'postgres' ? await seedPostgres(args) : await seedSqlite(args);
  writeResult(args, result);
}
