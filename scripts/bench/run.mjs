#!/usr/bin/env node
// `npm run bench`: keyfob's benchmark (issue 5). Builds its own stores, runs each figure in a
// child process pinned to core 0 (load generators on core 1), prints a table and writes
// bench-results/latest.json. Each ratio figure is measured against a floor in the same run.
// A benchmark, not a test: it never fails on a missed target. See docs/PERFORMANCE.md.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { join } from 'node:path';
import { summarise, formatSummary } from './cpuprofile.mjs';
import { httpFigures, profileServer } from './fig-http.mjs';
import { propagationFigure } from './fig-propagation.mjs';
import { BENCH_DIR, DIST, ROOT, envNumber, round, server, shown } from './lib.mjs';
import { loadGenerator, pinning, runChild } from './proc.mjs';
import { createPgDatabase, dropPgDatabase } from './seed.mjs';

const ALL = ['hit', 'miss', 'pg', 'http-self', 'http-introspect', 'exchange', 'http-beside-exchange', 'propagation', 'memory', 'rss', 'writes', 'flush'];

const opts = {
  tokens: Math.floor(envNumber('BENCH_TOKENS', 1_000_000)),
  seedBudgetS: envNumber('BENCH_SEED_BUDGET_S', 150),
  verifyMs: envNumber('BENCH_VERIFY_MS', 7500),
  sliceMs: envNumber('BENCH_SLICE_MS', 50),
  httpSeconds: envNumber('BENCH_HTTP_SECONDS', 2),
  httpRounds: Math.floor(envNumber('BENCH_HTTP_ROUNDS', 9)),
  httpConnections: Math.floor(envNumber('BENCH_HTTP_CONNECTIONS', 50)),
  // keyfob server processes the HTTP figures' rounds are shared among, one after another: one
  // process measures only its own luck (docs/PERFORMANCE.md, runs S, T and U).
  httpProcesses: Math.max(1, Math.floor(envNumber('BENCH_HTTP_PROCESSES', 3))),
  httpReferences: process.env.BENCH_HTTP_REFERENCES !== '0',
  memorySeconds: envNumber('BENCH_MEMORY_SECONDS', 60),
  memoryCached: Math.floor(envNumber('BENCH_MEMORY_CACHED', 20_000)),
  writesSeconds: envNumber('BENCH_WRITES_SECONDS', 10),
  writesRate: envNumber('BENCH_WRITES_RATE', 5000),
  writesDistinct: Math.floor(envNumber('BENCH_WRITES_DISTINCT', 1000)),
  revocations: Math.floor(envNumber('BENCH_REVOCATIONS', 1000)),
  flushTokens: Math.floor(envNumber('BENCH_FLUSH_TOKENS', 20_000)),
  flushRounds: Math.floor(envNumber('BENCH_FLUSH_ROUNDS', 4)),
  pgUrl: process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || undefined,
  only: new Set((process.env.BENCH_ONLY || ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean)),
  profile: process.env.BENCH_PROFILE === '1' || process.argv.includes('--profile'),
  reuseStore: process.env.BENCH_REUSE_STORE === '1',
};
for (const name of opts.only) if (!ALL.includes(name)) throw new Error(`BENCH_ONLY: unknown figure "${name}" (one of ${ALL.join(', ')})`);

if (!existsSync(join(DIST, 'container.js'))) {
  console.error('packages/server/dist is missing: run `npm run build` first.');
  process.exit(1);
}

const started = Date.now();
const log = (line) => console.log(line);
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
const workDir = mkdtempSync(join(os.tmpdir(), 'keyfob-bench-'));
const resultsDir = join(ROOT, 'bench-results');
mkdirSync(resultsDir, { recursive: true });

const figures = {};
const raw = {};
const errors = {};

/** One row of the table and of latest.json. */
function figure(name, { value, unit, target, met, note, rawValues }) {
  figures[name] = { value: shown(value, target), unit, target, met, ...(note ? { note } : {}), raw: rawValues };
}

/** A comparison measured beside a figure, with no target: its ratio and the two rates it pairs. */
function comparison(name, { value, unit, note, big, small }) {
  figure(name, { value, unit, target: 'measured', met: null, note, rawValues: { bigPerSec: Math.round(big), smallPerSec: Math.round(small) } });
}

/** "× (1,000 of 1,000,000 vs 1,000 of 1,000 tokens in use)" for a growth result `r`. */
function growthUnit(r, inUse) {
  const n = (x) => x.toLocaleString('en');
  return `× (${n(inUse)} of ${n(r.bigTokens)} vs ${n(r.smallTokens)} of ${n(r.smallTokens)} tokens in use)`;
}

/**
 * A store's growth figure, with the issue's target: uncached verify of as many tokens on the big
 * store as the small one holds, so that only the stored tokens differ; and beside it, measured,
 * the same with more of the big store's tokens in use (the working set grows too).
 */
function growthFigures(kind, r) {
  figure(`growth.${kind}`, {
    value: r.growthRatio,
    unit: growthUnit(r, r.inUse),
    target: '≥ 0.9',
    met: r.growthRatio >= 0.9,
    rawValues: { bigTokens: r.bigTokens, smallTokens: r.smallTokens, inUse: r.inUse, bigPerSec: Math.round(r.missBigPerSec), smallPerSec: Math.round(r.missSmallPerSec), ...(r.concurrency ? { concurrency: r.concurrency } : {}) },
  });
  figure(`growth.${kind}.workingSet`, {
    value: r.workingSetRatio,
    unit: growthUnit(r, r.wideInUse),
    target: 'measured',
    met: null,
    note: 'rounds of its own with more of the big store\'s tokens in use than the small store holds: the memory the lookups touch grows too (docs/PERFORMANCE.md, run Y)',
    rawValues: { inUse: r.wideInUse, bigPerSec: Math.round(r.missWidePerSec), smallPerSec: Math.round(r.missSmallWidePerSec) },
  });
}


async function step(name, fn) {
  const t0 = Date.now();
  log(`\n▶ ${name} (at ${elapsed()})`);
  try {
    await fn();
  } catch (error) {
    errors[name] = String(error?.message ?? error);
    log(`  ✗ ${name}: ${errors[name]}`);
  }
  log(`  ${name} took ${Math.round((Date.now() - t0) / 1000)} s`);
}

const wants = (...names) => names.some((n) => opts.only.has(n));
const pinnedCore = 0;

log(`keyfob benchmark: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
log(`pinning: ${pinning.taskset ? 'taskset (figures and servers on core 0, load generator on core 1)' : 'none (taskset not found)'}; load generator: ${loadGenerator}`);
log(`work dir: ${workDir}`);

// ---------------------------------------------------------------- stores
const stores = {};

/** Fingerprint of what a seeded store depends on, for BENCH_REUSE_STORE=1. */
function storeFingerprint(count) {
  const h = createHash('sha256').update(String(count));
  const migrations = join(DIST, 'db/migrations');
  for (const f of readdirSync(migrations).filter((f) => f.endsWith('.js')).sort()) h.update(f).update(readFileSync(join(migrations, f)));
  for (const f of ['seed.mjs', 'lib.mjs']) h.update(readFileSync(join(BENCH_DIR, f)));
  return h.digest('hex').slice(0, 16);
}

function warmPageCache(file) {
  const fd = openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

async function sqliteStore(count, label) {
  const seedArgs = { kind: 'sqlite', count, budgetMs: opts.seedBudgetS * 1000 };
  if (opts.reuseStore) {
    const dir = join(os.tmpdir(), `keyfob-bench-store-${storeFingerprint(count)}`);
    const meta = join(dir, 'store.json');
    if (existsSync(meta)) {
      log(`  reusing the ${label} store in ${dir}`);
      return JSON.parse(readFileSync(meta, 'utf8'));
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const store = await runChild('seed.mjs', { ...seedArgs, dir }, { workDir, timeoutMs: (opts.seedBudgetS + 120) * 1000 });
    writeFileSync(meta, JSON.stringify(store));
    return store;
  }
  const dir = join(workDir, label);
  mkdirSync(dir);
  return runChild('seed.mjs', { ...seedArgs, dir }, { workDir, timeoutMs: (opts.seedBudgetS + 120) * 1000 });
}

await step('seed SQLite stores', async () => {
  if (wants('miss', 'memory', 'rss', 'flush') || opts.profile) {
    stores.big = await sqliteStore(opts.tokens, 'sqlite-big');
    const b = stores.big;
    const size = statSync(join(b.dir, 'keyfob.db')).size;
    // Read the file once so the OS page cache holds it, as it would for a long-running server:
    // the figures are warm-cache figures (a reused store may have been evicted meanwhile).
    const warmStarted = Date.now();
    warmPageCache(join(b.dir, 'keyfob.db'));
    log(`  read the big store once to warm the page cache (${((Date.now() - warmStarted) / 1000).toFixed(1)} s)`);
    log(`  big store: ${b.count.toLocaleString('en')} tokens${b.stoppedEarly ? ` (stopped early: BENCH_TOKENS=${b.requested} did not fit the ${opts.seedBudgetS} s seeding budget)` : ''}, ${(size / 1e6).toFixed(0)} MB, seeded in ${b.seconds.toFixed(1)} s`);
    raw.bigStore = { tokens: b.count, requested: b.requested, stoppedEarly: b.stoppedEarly, seedSeconds: round(b.seconds, 1), fileMB: round(size / 1e6, 0) };
  }
  if (wants('hit', 'miss', 'http-self', 'http-introspect', 'exchange', 'http-beside-exchange', 'writes') || opts.profile) {
    const dir = join(workDir, 'sqlite-small');
    mkdirSync(dir);
    stores.small = await runChild('seed.mjs', { kind: 'sqlite', count: 1000, dir }, { workDir });
    log(`  small store: ${stores.small.count} tokens`);
  }
});

// ---------------------------------------------------------------- 0. how steady the machine is
await step('0. machine steadiness (a fixed SHA-256 loop in 100 ms slices)', async () => {
  const r = await runChild('fig-steadiness.mjs', { slices: 50, sliceMs: 100 }, { core: pinnedCore, workDir });
  raw.steadiness = r;
  log(`  ${Math.round(r.min).toLocaleString('en')} to ${Math.round(r.max).toLocaleString('en')} hashes/s, median ${Math.round(r.median).toLocaleString('en')}; the slowest tenth at ${round(r.p10OverMedian)} × the median`);
  figure('machine.steadiness', {
    value: r.p10OverMedian,
    unit: '× median (slowest tenth of 100 ms slices)',
    target: 'measured',
    met: null,
    note: 'a fixed loop: on a steady machine near 1; ratios here compare neighbouring slices or runs for this reason',
    rawValues: { min: Math.round(r.min), median: Math.round(r.median), max: Math.round(r.max) },
  });
});

// ---------------------------------------------------------------- 1. cache hit
if (wants('hit')) {
  await step('1. in-process verify, cache hit', async () => {
    const r = await runChild('fig-verify.mjs', { mode: 'hit', store: stores.small, totalMs: opts.verifyMs, sliceMs: opts.sliceMs }, { core: pinnedCore, workDir });
    raw.hit = r;
    log(`  verify ${Math.round(r.verifyPerSec).toLocaleString('en')}/s vs floor ${Math.round(r.floorPerSec).toLocaleString('en')}/s; store lookups during the loop: ${r.storeLookupsDuringLoop}`);
    figure('verify.cacheHit', {
      value: r.ratio,
      unit: '× floor',
      target: '≥ 0.5',
      met: r.ratio >= 0.5,
      note: `floor: crypto.hash sha256 + Map.get + expiry compare over the same ${r.tokens} tokens`,
      rawValues: { verifyPerSec: Math.round(r.verifyPerSec), floorPerSec: Math.round(r.floorPerSec), storeLookupsDuringLoop: r.storeLookupsDuringLoop },
    });
    // Issue 8: the usage recorder's share of a cached verify (no target; it writes nothing per request).
    figure('verify.usageRecorderOverhead', {
      value: 1 - r.recordedShare,
      unit: 'of a cached verify',
      target: 'measured',
      met: null,
      note: 'cached verify with record() against the same loop with record() a no-op',
      rawValues: { verifyPerSec: Math.round(r.verifyPerSec), unrecordedPerSec: Math.round(r.unrecordedPerSec) },
    });
  });
}

// ---------------------------------------------------------------- 2 + 3. cache miss, growth (SQLite)
if (wants('miss')) {
  await step('2+3. in-process verify, cache miss (SQLite), and growth', async () => {
    const r = await runChild('fig-verify.mjs', { mode: 'miss', big: stores.big, small: stores.small, totalMs: opts.verifyMs, sliceMs: opts.sliceMs }, { core: pinnedCore, workDir, timeoutMs: 600_000 });
    raw.miss = r;
    log(`  uncached verify, ${r.inUse.toLocaleString('en')} tokens in use: on ${r.bigTokens.toLocaleString('en')} stored ${Math.round(r.missBigPerSec)}/s, on ${r.smallTokens.toLocaleString('en')} stored ${Math.round(r.missSmallPerSec)}/s`);
    log(`  uncached verify, ${r.wideInUse.toLocaleString('en')} of ${r.bigTokens.toLocaleString('en')} tokens in use ${Math.round(r.missWidePerSec)}/s; floor ${Math.round(r.floorPerSec)}/s`);
    log(`  the lookup's SELECT alone: ${Math.round(r.lookupBigPerSec)}/s (${r.inUse.toLocaleString('en')} of ${r.bigTokens.toLocaleString('en')} in use), ${Math.round(r.lookupWidePerSec)}/s (${r.wideInUse.toLocaleString('en')} in use), ${Math.round(r.lookupSmallPerSec)}/s (${r.smallTokens.toLocaleString('en')} stored)`);
    log(`  HMAC + Map.get: ${Math.round(r.mapBigPerSec)}/s (${r.inUse.toLocaleString('en')} of ${r.mapEntries.big.toLocaleString('en')} entries in use), ${Math.round(r.mapWidePerSec)}/s (${r.wideInUse.toLocaleString('en')} in use), ${Math.round(r.mapSmallPerSec)}/s (${r.mapEntries.small.toLocaleString('en')} entries)`);
    figure('verify.cacheMiss.sqlite', {
      value: r.ratioVsFloor,
      unit: '× floor',
      target: '≥ 0.6',
      met: r.ratioVsFloor >= 0.6,
      note: `KEYFOB_VERIFY_CACHE=off, ${r.wideInUse.toLocaleString('en')} of ${r.bigTokens.toLocaleString('en')} stored tokens in use; floor: HMAC-SHA-256 + better-sqlite3 prepared SELECT * FROM pats WHERE token_hash = ? on the same file, over the same tokens`,
      rawValues: { tokens: r.bigTokens, inUse: r.wideInUse, verifyPerSec: Math.round(r.missWidePerSec), floorPerSec: Math.round(r.floorPerSec) },
    });
    growthFigures('sqlite', r);
    // No target: SQLite's part of the growth figures, and the working set's cost for an in-memory
    // index, measured beside them (docs/PERFORMANCE.md).
    const lookupNote = `the verification lookup's SELECT alone through better-sqlite3 on each store, keys worked out beforehand, in rounds of its own after the figures above: growth if keyfob's own work cost nothing${r.lookupMissing > 0 ? `; ${r.lookupMissing} lookups found no row at their key (not comparable)` : ''}`;
    comparison('growth.sqlite.lookupOnly', { value: r.lookupGrowthRatio, unit: growthUnit(r, r.inUse), note: lookupNote, big: r.lookupBigPerSec, small: r.lookupSmallPerSec });
    comparison('growth.sqlite.workingSet.lookupOnly', { value: r.lookupWorkingSetRatio, unit: growthUnit(r, r.wideInUse), note: lookupNote, big: r.lookupWidePerSec, small: r.lookupSmallWidePerSec });
    const mapNote = 'HMAC-SHA-256 + Map.get + expiry compare on an in-memory Map with as many entries as each store holds tokens, over the same samples, in rounds of its own: the comparison for an index that does no I/O at all';
    const mapUnit = (inUse) => growthUnit(r, inUse).replace('tokens in use', 'entries in use');
    comparison('growth.reference.map', { value: r.mapGrowthRatio, unit: mapUnit(r.inUse), note: mapNote, big: r.mapBigPerSec, small: r.mapSmallPerSec });
    comparison('growth.workingSet.reference.map', { value: r.mapWorkingSetRatio, unit: mapUnit(r.wideInUse), note: mapNote, big: r.mapWidePerSec, small: r.mapSmallWidePerSec });
  });
}

// ---------------------------------------------------------------- 3. growth (PostgreSQL)
if (wants('pg')) {
  if (!opts.pgUrl) {
    log('\n▶ 3. growth on PostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)');
    figures['growth.postgres'] = { value: null, target: '≥ 0.9', met: null, note: 'skipped: no BENCH_DATABASE_URL / TEST_DATABASE_URL' };
  } else {
    await step('3. growth on PostgreSQL', async () => {
      const suffix = randomBytes(4).toString('hex');
      const names = { big: `keyfob_bench_big_${suffix}`, small: `keyfob_bench_small_${suffix}` };
      const created = [];
      try {
        const pg = {};
        for (const [which, name] of Object.entries(names)) {
          const url = await createPgDatabase(opts.pgUrl, name);
          created.push(name);
          const dir = join(workDir, `pg-${which}`);
          mkdirSync(dir);
          const count = which === 'big' ? (stores.big?.count ?? opts.tokens) : 1000;
          pg[which] = await runChild('seed.mjs', { kind: 'postgres', url, dir, count, budgetMs: opts.seedBudgetS * 1000 }, { workDir, timeoutMs: (opts.seedBudgetS + 120) * 1000 });
          log(`  ${which} database: ${pg[which].count.toLocaleString('en')} tokens seeded in ${pg[which].seconds.toFixed(1)} s${pg[which].stoppedEarly ? ' (stopped early: seeding budget)' : ''}`);
        }
        const r = await runChild('fig-verify.mjs', { mode: 'pgGrowth', big: pg.big, small: pg.small, totalMs: opts.verifyMs, sliceMs: opts.sliceMs, concurrency: 8 }, { core: pinnedCore, workDir });
        raw.pg = { ...r, seedSeconds: round(pg.big.seconds, 1) };
        log(`  uncached verify (${r.concurrency} in flight), ${r.inUse.toLocaleString('en')} tokens in use: on ${r.bigTokens.toLocaleString('en')} stored ${Math.round(r.missBigPerSec)}/s, on ${r.smallTokens.toLocaleString('en')} stored ${Math.round(r.missSmallPerSec)}/s; ${r.wideInUse.toLocaleString('en')} of ${r.bigTokens.toLocaleString('en')} in use ${Math.round(r.missWidePerSec)}/s`);
        growthFigures('postgres', r);
      } finally {
        for (const name of created) await dropPgDatabase(opts.pgUrl, name).catch((e) => log(`  could not drop ${name}: ${e.message}`));
      }
    });
  }
}

// ---------------------------------------------------------------- 4 + 5. HTTP
if (wants('http-self', 'http-introspect', 'exchange', 'http-beside-exchange')) {
  await step('4+5. HTTP verification and token exchange', async () => {
    const r = await httpFigures({ store: stores.small, seconds: opts.httpSeconds, rounds: opts.httpRounds, connections: opts.httpConnections, processes: opts.httpProcesses, workDir, which: opts.only, references: opts.httpReferences, log });
    raw.http = r;
    const common = `${r.generator}, ${r.connections} connections, ${r.rounds} × ${r.seconds} s rounds shared among ${r.processes} keyfob process(es) run one after another, each beside its own floor; floor: bare node:http answering the same JSON body`;
    const range = (x) => ({
      lowestRound: round(x.ratioRange[0], 3),
      highestRound: round(x.ratioRange[1], 3),
      ...(x.perProcessRatios ? { perProcess: x.perProcessRatios.map((v) => round(v, 3)) } : {}),
    });
    /** The reference servers' figures beside one keyfob figure: measured, no target. */
    const referenceFigures = (name, x, unit, notes) => {
      for (const [which, ref] of Object.entries(x.references ?? {})) {
        figure(`${name}.reference.${which}`, { value: ref.ratio, unit, target: 'measured', met: null, note: notes[which], rawValues: { rps: Math.round(ref.rps), ...range(ref) } });
      }
    };
    const httpReferenceNotes = {
      hashMap: 'the issue\'s point of reference: bare node:http with a SHA-256 and a Map lookup of the token per request ("about 0.7 ×" where the issue was written)',
      fastify: 'bare Fastify (and @fastify/formbody) answering the same bytes from a route: the framework without keyfob',
    };
    for (const [key, name, label] of [
      ['self', 'http.tokensSelf', 'GET /api/v1/tokens/self'],
      ['introspect', 'http.introspect', 'POST /oauth/introspect'],
    ]) {
      const x = r[key];
      if (!x) continue;
      if (x.error) {
        errors[name] = x.error;
        continue;
      }
      figure(`${name}.rps`, { value: x.ratio, unit: '× floor req/s', target: '≥ 0.6', met: x.ratio >= 0.6, note: `${label}, token cached; ${common}`, rawValues: { rps: Math.round(x.rps), floorRps: Math.round(x.floorRps), ...range(x) } });
      figure(`${name}.p99`, { value: x.p99Ratio, unit: '× floor p99', target: '≤ 2', met: x.p99Ratio <= 2, rawValues: { p99Ms: x.p99Ms, floorP99Ms: x.floorP99Ms, p50Ms: x.p50Ms, floorP50Ms: x.floorP50Ms } });
      referenceFigures(name, x, '× floor req/s', httpReferenceNotes);
    }
    /** A figure from one part of the result, or its error under the figure's name. */
    const figureOf = (part, name, describe) => {
      if (part?.error) errors[name] = part.error;
      else if (part) figure(name, describe(part));
    };
    figureOf(r.exchange, 'exchange.http', (x) => ({
      value: x.ratio,
      unit: '× jose signs/s',
      target: '≥ 0.5',
      met: x.ratio >= 0.5,
      note: `POST /oauth/token (RFC 8693, client_secret_basic) vs jose SignJWT EdDSA in-process on the same core, a new process each round; ${r.rounds} rounds shared among ${r.processes} keyfob process(es) run one after another`,
      rawValues: { rps: Math.round(x.rps), floorSignsPerSec: Math.round(x.floorSignsPerSec), p99Ms: x.p99Ms, ...range(x) },
    }));
    if (r.exchange && !r.exchange.error) {
      referenceFigures('exchange.http', r.exchange, '× jose signs/s', {
        fastify: 'bare Fastify POST /oauth/token: the form parsed and the claims signed with keyfob\'s signer (node:crypto Ed25519); no client authentication, no subject token check, no audit event',
      });
    }
    // No target: the issue sets none. A write on the exchange path that held the event loop
    // would show here (docs/PERFORMANCE.md, runs K1 and K2).
    figureOf(r.besideExchange, 'http.introspect.besideExchange.p99', (x) => ({
      value: x.p99Ratio,
      unit: '× p99 of introspection alone',
      target: 'measured',
      note: `POST /oauth/introspect while POST /oauth/token runs on the same server, ${x.connectionsEach} connections each, against introspection alone on ${x.connectionsEach}`,
      rawValues: { p99Ms: x.p99Ms, aloneP99Ms: x.aloneP99Ms, rps: Math.round(x.rps), aloneRps: Math.round(x.aloneRps), exchangesPerSec: Math.round(x.exchangesPerSec) },
    }));
  });
}

// ---------------------------------------------------------------- 6. memory
if (wants('memory')) {
  await step('6a. memory per cached token', async () => {
    const r = await runChild('fig-memory.mjs', { mode: 'perToken', store: stores.big, cached: opts.memoryCached }, { core: pinnedCore, workDir, nodeFlags: ['--expose-gc'] });
    raw.memory = r;
    log(`  ${Math.round(r.bytesPerEntry)} B per entry over ${r.entries} entries (the cache's own estimate ${Math.round(r.cacheEstimateBytesPerEntry)} B; a bare Map entry ${Math.round(r.bareMapBytesPerEntry)} B)`);
    figure('memory.bytesPerCachedToken', {
      value: r.bytesPerEntry,
      unit: 'bytes',
      target: '≤ 1024',
      met: r.bytesPerEntry <= 1024,
      note: `heap delta after gc / entries, ${r.entries.toLocaleString('en')} tokens cached; reference: bare Map<digest, {expiresAt}> ${Math.round(r.bareMapBytesPerEntry)} B`,
      rawValues: { entries: r.entries, cacheEstimateBytes: Math.round(r.cacheEstimateBytesPerEntry), bareMapBytes: Math.round(r.bareMapBytesPerEntry), floorRatio: round(r.bytesPerEntry / r.bareMapBytesPerEntry, 1) },
    });
  });
}
if (wants('rss')) {
  await step(`6b. RSS during ${opts.memorySeconds} s of random unknown tokens`, async () => {
    const r = await runChild('fig-memory.mjs', { mode: 'unknown', store: stores.big, seconds: opts.memorySeconds }, { core: pinnedCore, workDir, nodeFlags: ['--expose-gc'], timeoutMs: (opts.memorySeconds + 120) * 1000 });
    raw.rss = r;
    log(`  ${r.verifications.toLocaleString('en')} unknown tokens (${Math.round(r.perSec)}/s): RSS ${r.rssStartMB.toFixed(0)} → ${r.rssEndMB.toFixed(0)} MB, max growth ${r.rssGrowthMB.toFixed(1)} MB`);
    figure('memory.rssGrowthUnknownTokens', {
      value: r.rssGrowthMB,
      unit: 'MB',
      target: '< 50',
      met: r.rssGrowthMB < 50,
      note: `${Math.round(r.seconds)} s, ${r.verifications.toLocaleString('en')} random well-formed unknown tokens in-process against ${(stores.big?.count ?? 0).toLocaleString('en')} stored`,
      rawValues: { seconds: round(r.seconds, 1), verifications: r.verifications, rssStartMB: round(r.rssStartMB, 1), rssEndMB: round(r.rssEndMB, 1), heapGrowthMB: round(r.heapGrowthMB, 1) },
    });
  });
}

// ---------------------------------------------------------------- 7. usage writes
if (wants('writes')) {
  await step(`7. store writes from usage recording at ${opts.writesRate}/s`, async () => {
    const { USAGE_TOKENS_PER_TRANSACTION } = await server('services/usage-recorder.js');
    const r = await runChild('fig-writes.mjs', { store: stores.small, distinct: opts.writesDistinct, rate: opts.writesRate, seconds: opts.writesSeconds }, { core: pinnedCore, workDir });
    raw.writes = r;
    log(`  ${Math.round(r.verificationsPerSec)} verifications/s over ${r.distinctTokens} tokens: ${r.commitsPerSec.toFixed(2)} write transactions/s holding ${Math.round(r.writeStatementsPerSec)} write statements/s`);
    figure('writes.usageTransactionsPerSec', {
      value: r.commitsPerSec,
      unit: 'transactions/s',
      target: '≤ 5',
      met: r.commitsPerSec <= 5,
      note: `${Math.round(r.verificationsPerSec)} verifications/s over ${r.distinctTokens} distinct tokens; a flush writes its tokens in transactions of at most ${USAGE_TOKENS_PER_TRANSACTION}`,
      rawValues: { verificationsPerSec: Math.round(r.verificationsPerSec), updatesPerSec: Math.round(r.updatesPerSec), insertsPerSec: Math.round(r.insertsPerSec), flushIntervalMs: r.flushIntervalMs },
    });
    figure('writes.usageStatementsPerSec', {
      value: r.writeStatementsPerSec,
      unit: 'statements/s',
      target: '≤ 5 (if a statement counts as a write)',
      met: r.writeStatementsPerSec <= 5,
      note: 'UPDATE/INSERT statements executed by the flushes (an upsert of usage_hourly per 1,000 (token, hour, outcome) counts, and an UPDATE of pats per 100 tokens whose last use moved by a minute)',
      rawValues: { statements: r.statements },
    });
  });
}

// ---------------------------------------------------------------- 7b. the usage flush's stall
// After the other big-store figures (the profiles aside, which only verify): it writes usage,
// address rows and their events into that store.
if (wants('flush')) {
  await step(`7b. longest event-loop block of a usage flush (${opts.flushTokens.toLocaleString('en')} tokens, big store)`, async () => {
    const r = await runChild('fig-flush.mjs', { store: stores.big, tokens: opts.flushTokens, rounds: opts.flushRounds }, { core: pinnedCore, workDir, timeoutMs: 600_000 });
    raw.flush = r;
    log(`  ${r.tokens.toLocaleString('en')} tokens' usage: the loop held at most ${r.parts.longestMs.toFixed(1)} ms at once (median of ${r.rounds} flushes of ${Math.round(r.parts.flushMs)} ms, in transactions of ${r.tokensPerTransaction}); in one transaction ${r.whole.longestMs.toFixed(1)} ms (flushes of ${Math.round(r.whole.flushMs)} ms)`);
    // No target: the issue sets none. What a flush costs every request that arrives during it.
    figure('usage.flushLongestBlock', {
      value: r.parts.longestMs,
      unit: 'ms',
      target: 'measured',
      met: null,
      note: `longest event-loop block while flushing ${r.tokens.toLocaleString('en')} tokens' usage (every last use rewritten) on the ${(stores.big?.count ?? 0).toLocaleString('en')}-token store, median of ${r.rounds}; the same flush in one transaction: ${r.whole.longestMs.toFixed(1)} ms`,
      rawValues: { maxMs: round(r.parts.maxLongestMs, 1), flushMs: round(r.parts.flushMs, 0), oneTransactionMs: round(r.whole.longestMs, 1), oneTransactionFlushMs: round(r.whole.flushMs, 0), ratioToOneTransaction: round(r.parts.longestMs / r.whole.longestMs, 3), tokensPerTransaction: r.tokensPerTransaction },
    });
  });
}

// ---------------------------------------------------------------- 7. revocation propagation
if (wants('propagation')) {
  if (!opts.pgUrl) {
    log('\n▶ 7. revocation propagation: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)');
    figures['revocation.propagation.p99'] = { value: null, target: '≤ 100 ms', met: null, note: 'skipped: no BENCH_DATABASE_URL / TEST_DATABASE_URL' };
  } else {
    await step('7. revocation propagation A → B (PostgreSQL)', async () => {
      const r = await propagationFigure({ pgUrl: opts.pgUrl, workDir, revocations: opts.revocations, log });
      raw.propagation = r;
      log(`  ${r.revocations} revocations: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(2)} ms (${r.pollsPerRevocation.toFixed(1)} polls of B each)`);
      const note = `revoke on A (POST /oauth/revoke), then GET /api/v1/tokens/self on B back to back until 401; the time includes B's last HTTP round trip`;
      figure('revocation.propagation.p99', { value: r.p99Ms, unit: 'ms', target: '≤ 100', met: r.p99Ms <= 100, note, rawValues: { revocations: r.revocations, p50Ms: round(r.p50Ms, 2), meanMs: round(r.meanMs, 2) } });
      figure('revocation.propagation.max', { value: r.maxMs, unit: 'ms', target: '≤ 1000', met: r.maxMs <= 1000, rawValues: { revocations: r.revocations } });
    });
  }
}

// ---------------------------------------------------------------- profile (optional)
if (opts.profile && (stores.big || stores.small)) {
  await step('profile: node --cpu-prof of the in-process verify loops', async () => {
    const profDir = join(resultsDir, 'profile');
    rmSync(profDir, { recursive: true, force: true });
    raw.profile = {};
    for (const which of ['miss', 'hit']) {
      const dir = join(profDir, which);
      const store = which === 'hit' ? stores.small : stores.big;
      const r = await runChild('fig-verify.mjs', { mode: 'profileLoop', which, store, ms: 8000 }, { core: pinnedCore, workDir, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')));
      const s = summarise(file, { top: 15 });
      raw.profile[which] = { perSec: Math.round(r.perSec), file: file.replace(`${ROOT}/`, ''), ...s };
      log(formatSummary(`  ${which} loop (${Math.round(r.perSec)}/s under the profiler)`, s).replace(/\n/g, '\n  '));
    }
    if (stores.small) {
      for (const name of ['self', 'introspect', 'exchange']) {
        const dir = join(profDir, `http-${name}`);
        const run = await profileServer({ store: stores.small, name, seconds: 6, connections: opts.httpConnections, workDir, profDir: dir });
        const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')));
        const s = summarise(file, { top: 15 });
        raw.profile[`http-${name}`] = { rps: Math.round(run.rps), file: file.replace(`${ROOT}/`, ''), ...s };
        log(formatSummary(`  keyfob server under ${name} load (${Math.round(run.rps)} req/s under the profiler)`, s).replace(/\n/g, '\n  '));
      }
    }
  });
}

// ---------------------------------------------------------------- report
rmSync(workDir, { recursive: true, force: true });
const durationSeconds = (Date.now() - started) / 1000;
const report = {
  command: 'npm run bench',
  startedAt: new Date(started).toISOString(),
  durationSeconds: round(durationSeconds, 0),
  machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGB: round(os.totalmem() / 2 ** 30, 1), loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)) },
  method: { pinning: pinning.taskset ? 'taskset: figures and servers on core 0, load generator on core 1' : 'none', loadGenerator, ...opts, only: [...opts.only], pgUrl: opts.pgUrl ? opts.pgUrl.replace(/\/\/[^@]*@/, '//…@') : null },
  figures,
  errors,
  raw,
};
const json = JSON.stringify(report, null, 2) + '\n';
writeFileSync(join(resultsDir, 'latest.json'), json);
writeFileSync(join(resultsDir, `run-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`), json);

// Three decimals below 10: a ratio of 0.598 printed as 0.60 would read as meeting a target of 0.6.
const fmt = (f) => (f.value === null || f.value === undefined ? '—' : Math.abs(f.value) >= 100 ? Math.round(f.value).toLocaleString('en') : f.value.toFixed(Math.abs(f.value) >= 10 ? 2 : 3));
// A figure without a value was not measured; one without a target is reported, not judged.
const verdict = (f) => (f.value === null || f.value === undefined ? 'skipped' : f.met === null || f.met === undefined ? '' : f.met ? 'met' : 'MISSED');
const rows = Object.entries(figures).map(([name, f]) => [name, `${fmt(f)} ${f.unit ?? ''}`.trim(), f.target, verdict(f)]);
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['figure', 'result', 'target', ''][i].length));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
log(`\nkeyfob benchmark, ${new Date(started).toISOString()}, ${Math.round(durationSeconds)} s\n`);
log(line(['figure', 'result', 'target', '']));
log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) log(line(r));
for (const [name, message] of Object.entries(errors)) log(`\n✗ ${name}: ${message}`);
log(`\nraw numbers and per-round samples: bench-results/latest.json (and a dated copy)`);
