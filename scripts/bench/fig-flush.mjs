// Figure 9 (no target): how long a usage flush holds the event loop at once on the big SQLite
// store. The server writes a flush in transactions of USAGE_TOKENS_PER_TRANSACTION tokens with the
// event loop running between them; the same flush in one transaction, measured in the same rounds,
// is the baseline. Runs as a pinned child; writes its result as JSON.
import { sql } from 'kysely';
import { IN_PROCESS, benchEnv, benchToken, childArgs, median, sampleIndexes, server, writeResult } from './lib.mjs';

const { loadConfig } = await server('config/load.js');
const { createContainer } = await server('container.js');
const { UsageRecorder, USAGE_TOKENS_PER_TRANSACTION } = await server('services/usage-recorder.js');

/** The longest gap between two turns of the event loop while `work` runs, and how long it ran. */
async function longestBlock(work) {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  running = false;
  longest = Math.max(longest, performance.now() - last);
  return { longestMs: longest, flushMs: ms };
}

const args = childArgs();
const container = await createContainer(loadConfig(benchEnv(args.store, { KEYFOB_VERIFY_CACHE: 'off', KEYFOB_USAGE_FLUSH_MS: '600000' })), IN_PROCESS);
try {
  const ids = [];
  for (const i of sampleIndexes(args.store.count, Math.min(args.tokens, args.store.count), 9)) {
    const outcome = await container.verifier.verify(benchToken(i));
    if (!outcome.ok) throw new Error(`token ${i} did not verify: ${outcome.reason}`);
    ids.push(outcome.pat.id);
  }
  const recorders = {
    parts: new UsageRecorder({ store: container.store, flushIntervalMs: 600_000 }),
    whole: new UsageRecorder({ store: container.store, flushIntervalMs: 600_000, tokensPerTransaction: Number.MAX_SAFE_INTEGER }),
  };
  const samples = { parts: [], whole: [] };
  let checkpointsBusy = 0;
  // Each flush's uses come a minute and a second after the last: every flush rewrites every
  // token's last use (a token in steady use is rewritten once a minute), the heavier case. A
  // reused store holds the last uses earlier runs wrote, so the clock starts past them.
  const { rows } = await sql`SELECT MAX(last_used_at) AS last FROM pats`.execute(container.store.db);
  let at = Math.max(Date.now(), Number(rows[0]?.last ?? 0));
  const flushOnce = async (name) => {
    at += 61_000;
    const recorder = recorders[name];
    for (const id of ids) recorder.record(id, at, '192.0.2.44');
    // An empty log for each flush: the one before must not leave this one its checkpoint.
    const checkpoint = await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(container.store.db);
    if (checkpoint.rows[0]?.busy) checkpointsBusy++;
    return longestBlock(() => recorder.flush());
  };
  // Unmeasured: the first flush also writes the address rows (and their events) of these tokens.
  await flushOnce('parts');
  await flushOnce('whole');
  for (let round = 0; round < args.rounds; round++) {
    for (const name of round % 2 === 0 ? ['parts', 'whole'] : ['whole', 'parts']) samples[name].push(await flushOnce(name));
  }
  const summary = (list) => ({ longestMs: median(list.map((s) => s.longestMs)), maxLongestMs: Math.max(...list.map((s) => s.longestMs)), flushMs: median(list.map((s) => s.flushMs)) });
  // The first flush made a `token.new_ip` event per address. The benchmark's containers on this
  // store run no event jobs (IN_PROCESS), but a keyfob started on a reused store would fan them
  // all out: the store is left as the seeding made it.
  await sql`DELETE FROM outbox WHERE type = 'token.new_ip'`.execute(container.store.db);
  writeResult(args, { tokens: ids.length, tokensPerTransaction: USAGE_TOKENS_PER_TRANSACTION, rounds: args.rounds, checkpointsBusy, parts: summary(samples.parts), whole: summary(samples.whole), samples });
} finally {
  await container.close();
}
