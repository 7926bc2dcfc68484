// Figure 7: store writes caused by usage recording under a sustained, paced verification load.
// The container runs on a better-sqlite3 handle opened here with the server's own pragmas
// (db/connect.ts), so that every statement the server executes can be counted by kind.
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { join } from 'node:path';
import { IN_PROCESS, benchEnv, benchToken, childArgs, now, server, writeResult } from './lib.mjs';

const { loadConfig } = await server('config/load.js');
const { createContainer } = await server('container.js');

/** Counts executed statements by their first keyword (UPDATE, INSERT, COMMIT, SELECT, ...). */
function countingDatabase(file) {
  const database = new Database(file, { timeout: 5000 });
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const counts = new Map();
  let on = false;
  const prepare = database.prepare.bind(database);
  database.prepare = (sql) => {
    const statement = prepare(sql);
    const kind = (/^\s*(\w+)/.exec(sql)?.[1] ?? '?').toUpperCase();
    for (const method of ['run', 'all', 'get', 'iterate']) {
      const original = statement[method].bind(statement);
      statement[method] = (...params) => {
        if (on) counts.set(kind, (counts.get(kind) ?? 0) + 1);
        return original(...params);
      };
    }
    return statement;
  };
  return { database, counts, start: () => (on = true), stop: () => (on = false) };
}

const args = childArgs();
const tokens = Array.from({ length: Math.min(args.distinct, args.store.count) }, (_, i) => benchToken(i));
const counter = countingDatabase(join(args.store.dir, 'keyfob.db'));
const db = new Kysely({ dialect: new SqliteDialect({ database: counter.database }) });
const config = loadConfig(benchEnv(args.store));
const container = await createContainer(config, { ...IN_PROCESS, db });
let flushes = 0;
const flush = container.usage.flush.bind(container.usage);
container.usage.flush = () => {
  flushes++;
  return flush();
};

/** Issues verifications at `rate` per second (drift-corrected, 10 ms ticks) for `seconds`. */
async function paced(rate, seconds) {
  let issued = 0;
  let failed = 0;
  const started = now();
  const inFlight = new Set();
  while (now() - started < seconds * 1000) {
    const due = Math.floor(((now() - started) / 1000) * rate);
    for (; issued < due; issued++) {
      // A cache hit answers synchronously, a miss with a promise: await both alike.
      const p = Promise.resolve(container.verifier.verify(tokens[issued % tokens.length], { ip: '127.0.0.1' })).then(
        (o) => {
          if (!o.ok) failed++;
          inFlight.delete(p);
        },
        () => {
          failed++;
          inFlight.delete(p);
        },
      );
      inFlight.add(p);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(inFlight);
  return { issued, failed, seconds: (now() - started) / 1000 };
}

try {
  for (const t of tokens) await container.verifier.verify(t, { ip: '127.0.0.1' }); // fills the cache
  await paced(args.rate, 2); // warm-up; not counted
  await container.usage.flush();
  flushes = 0;
  counter.start();
  const run = await paced(args.rate, args.seconds);
  counter.stop();
  const per = (k) => (counter.counts.get(k) ?? 0) / run.seconds;
  const writes = ['UPDATE', 'INSERT', 'DELETE'].reduce((a, k) => a + (counter.counts.get(k) ?? 0), 0);
  writeResult(args, {
    distinctTokens: tokens.length,
    flushIntervalMs: config.usageFlushIntervalMs,
    verificationsPerSec: run.issued / run.seconds,
    failedVerifications: run.failed,
    seconds: run.seconds,
    flushTimerRuns: flushes,
    commitsPerSec: per('COMMIT'),
    updatesPerSec: per('UPDATE'),
    insertsPerSec: per('INSERT'),
    writeStatementsPerSec: writes / run.seconds,
    selectsPerSec: per('SELECT'),
    statements: Object.fromEntries(counter.counts),
  });
} finally {
  await container.close();
}
