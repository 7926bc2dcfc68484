// In-process verification figures (1: cache hit, 2: cache miss on a big SQLite store, 3: growth).
// Runs as a child pinned to one core; writes its result as JSON.
import Database from 'better-sqlite3';
import { createHmac, hash } from 'node:crypto';
import { join } from 'node:path';
import { BENCH_SECRET, benchEnv, benchToken, childArgs, median, rateAsync, rateMaybeAsync, rateSync, sampleIndexes, server, writeResult } from './lib.mjs';

const { loadConfig } = await server('config/load.js');
const { createContainer } = await server('container.js');
const { deriveKeys } = await server('crypto/keys.js');

const NEED = Object.freeze({ scopes: ['tokens:read'], ip: '127.0.0.1' });

/**
 * Runs each named rate function once per round, in a rotating order; medians per name.
 * `between` runs untimed after every round (it flushes the usage recorders, so that one
 * container's write-behind work never lands in another's timed round).
 */
async function rotate(fns, { rounds, ms }, between = async () => {}) {
  const names = Object.keys(fns);
  for (const name of names) {
    await fns[name](Math.min(ms, 400)); // warm-up, not recorded
    await between();
  }
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      samples[name].push(await fns[name](ms));
      await between();
    }
  }
  return Object.fromEntries(names.map((n) => [n, { median: median(samples[n]), rounds: samples[n] }]));
}

async function open(db, extra) {
  return createContainer(loadConfig(benchEnv(db, extra)));
}

/** Counts the store lookups of a container (to prove a "hit" loop never reaches the store). */
function countLookups(container) {
  const pats = container.store.repos.pats;
  const original = pats.findByHashWithOwner.bind(pats);
  const counter = { n: 0 };
  pats.findByHashWithOwner = (h) => {
    counter.n++;
    return original(h);
  };
  return counter;
}

async function assertAllVerify(container, tokens) {
  for (const t of tokens) {
    const outcome = await container.verifier.verify(t, NEED);
    if (!outcome.ok) throw new Error(`a seeded token did not verify (${outcome.reason}): the seeding does not match the server`);
  }
}

/** Figure 1: cached verify vs sha256 + Map.get + expiry compare, over the same tokens. */
async function hit(args) {
  const tokens = sampleIndexes(args.store.count, Math.min(args.store.count, 1000)).map(benchToken);
  const container = await open(args.store, { KEYFOB_VERIFY_CACHE_TTL_MS: '3600000' });
  try {
    await assertAllVerify(container, tokens); // fills the cache
    const lookups = countLookups(container);
    const n = tokens.length;
    const floorMap = new Map(tokens.map((t) => [hash('sha256', t, 'base64url'), { expiresAt: Date.now() + 3_600_000 }]));
    let sink = 0;
    const floorOne = (i) => {
      const entry = floorMap.get(hash('sha256', tokens[i % n], 'base64url'));
      if (entry !== undefined && entry.expiresAt > Date.now()) sink++;
    };
    const verifier = container.verifier;
    let calls = 0;
    // The same loop with the usage recorder's record() a no-op: what recording costs a cached verify.
    const usage = container.usage;
    const record = usage.record.bind(usage);
    const res = await rotate(
      {
        floor: (ms) => rateSync(floorOne, ms),
        verify: (ms) =>
          rateMaybeAsync((i) => {
            calls++;
            return verifier.verify(tokens[i % n], NEED);
          }, ms),
        unrecorded: async (ms) => {
          usage.record = () => {};
          try {
            return await rateMaybeAsync((i) => verifier.verify(tokens[i % n], NEED), ms);
          } finally {
            usage.record = record;
          }
        },
      },
      args,
      () => container.usage.flush(),
    );
    if (sink === 0) throw new Error('floor loop found nothing');
    return {
      tokens: n,
      verifyPerSec: res.verify.median,
      floorPerSec: res.floor.median,
      ratio: res.verify.median / res.floor.median,
      unrecordedPerSec: res.unrecorded.median,
      storeLookupsDuringLoop: lookups.n,
      verifyCalls: calls,
      rounds: { verify: res.verify.rounds, floor: res.floor.rounds },
    };
  } finally {
    await container.close();
  }
}

/** The big and the small store opened with the cache off, and the tokens sampled from each. */
async function openUncachedPair({ big, small }) {
  const bigTokens = sampleIndexes(big.count, Math.min(big.count, 20_000), 7).map(benchToken);
  const smallTokens = sampleIndexes(small.count, small.count, 7).map(benchToken);
  const off = { KEYFOB_VERIFY_CACHE: 'off' };
  return { big, small, bigTokens, smallTokens, bigC: await open(big, off), smallC: await open(small, off) };
}

/**
 * Figures 2 and 3 (SQLite): uncached verify on the big store vs HMAC + prepared point lookup on
 * the same table, and uncached verify on the big store vs on a 1,000-token store.
 */
async function miss(args) {
  const { big, small, bigTokens, smallTokens, bigC, smallC } = await openUncachedPair(args);
  const pepper = deriveKeys(BENCH_SECRET).pepper;
  const sq = new Database(join(big.dir, 'keyfob.db'), { readonly: true });
  const point = sq.prepare('SELECT * FROM pats WHERE token_hash = ?');
  try {
    await assertAllVerify(bigC, bigTokens.slice(0, 200));
    await assertAllVerify(smallC, smallTokens.slice(0, 200));
    let found = 0;
    const floorOne = (i) => {
      const row = point.get(createHmac('sha256', pepper).update(bigTokens[i % bigTokens.length]).digest('hex'));
      if (row !== undefined) found++;
    };
    if ((floorOne(0), found) !== 1) throw new Error('floor lookup found no row');
    const verifyOn = (container, tokens) => (ms) =>
      rateAsync(async (i) => {
        await container.verifier.verify(tokens[i % tokens.length], NEED);
      }, ms);
    const res = await rotate(
      {
        floor: (ms) => rateSync(floorOne, ms),
        missBig: verifyOn(bigC, bigTokens),
        missSmall: verifyOn(smallC, smallTokens),
      },
      args,
      () => Promise.all([bigC.usage.flush(), smallC.usage.flush()]),
    );
    return {
      bigTokens: big.count,
      smallTokens: small.count,
      sampledTokens: bigTokens.length,
      missBigPerSec: res.missBig.median,
      missSmallPerSec: res.missSmall.median,
      floorPerSec: res.floor.median,
      ratioVsFloor: res.missBig.median / res.floor.median,
      growthRatio: res.missBig.median / res.missSmall.median,
      rounds: Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.rounds])),
    };
  } finally {
    sq.close();
    await Promise.all([bigC.close(), smallC.close()]);
  }
}

/** Figure 3 on PostgreSQL: uncached verify with many vs 1,000 stored tokens, 8 in flight. */
async function pgGrowth(args) {
  const { big, small, bigTokens, smallTokens, bigC, smallC } = await openUncachedPair(args);
  try {
    await assertAllVerify(bigC, bigTokens.slice(0, 100));
    await assertAllVerify(smallC, smallTokens.slice(0, 100));
    const verifyOn = (container, tokens) => (ms) =>
      rateAsync(async (i) => {
        await container.verifier.verify(tokens[i % tokens.length], NEED);
      }, ms, args.concurrency);
    const res = await rotate({ missBig: verifyOn(bigC, bigTokens), missSmall: verifyOn(smallC, smallTokens) }, args, () =>
      Promise.all([bigC.usage.flush(), smallC.usage.flush()]),
    );
    return {
      bigTokens: big.count,
      smallTokens: small.count,
      concurrency: args.concurrency,
      missBigPerSec: res.missBig.median,
      missSmallPerSec: res.missSmall.median,
      growthRatio: res.missBig.median / res.missSmall.median,
      rounds: Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.rounds])),
    };
  } finally {
    await Promise.all([bigC.close(), smallC.close()]);
  }
}

/**
 * One verify loop alone, for `node --cpu-prof`: uncached on the big store (`which: 'miss'`) or
 * cached over 1,000 tokens (`which: 'hit'`).
 */
async function profileLoop(args) {
  const hitMode = args.which === 'hit';
  const tokens = sampleIndexes(args.store.count, Math.min(args.store.count, hitMode ? 1000 : 20_000), 7).map(benchToken);
  const container = await open(args.store, hitMode ? { KEYFOB_VERIFY_CACHE_TTL_MS: '3600000' } : { KEYFOB_VERIFY_CACHE: 'off' });
  try {
    if (hitMode) await assertAllVerify(container, tokens);
    const rate = await rateMaybeAsync((i) => container.verifier.verify(tokens[i % tokens.length], NEED), args.ms);
    return { which: args.which, perSec: rate };
  } finally {
    await container.close();
  }
}

const args = childArgs();
const modes = { hit, miss, pgGrowth, profileLoop };
writeResult(args, await modes[args.mode](args));
