// Figure 6 (memory): heap bytes per cached verification, and RSS growth while verifying random
// well-formed unknown tokens. Runs as a pinned child with --expose-gc.
import { IN_PROCESS, benchEnv, benchToken, childArgs, protocol, server, writeResult } from './lib.mjs';

const { loadConfig } = await server('config/load.js');
const { createContainer } = await server('container.js');

if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

function settledHeap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Heap delta per entry after caching `cached` distinct tokens (and the same for a bare Map). */
async function perToken(args) {
  const n = Math.min(args.cached, args.store.count - 1);
  const container = await createContainer(
    loadConfig(benchEnv(args.store, { KEYFOB_VERIFY_CACHE_TTL_MS: '3600000', KEYFOB_VERIFY_CACHE_MAX_ENTRIES: String(n + 10), KEYFOB_VERIFY_CACHE_MAX_MB: '4096' })),
    IN_PROCESS,
  );
  try {
    const cache = container.cache;
    if (!cache) throw new Error('the verification cache is off');
    // Warm every code path once (the last token index), then flush pending usage.
    await container.verifier.verify(benchToken(args.store.count - 1));
    await container.usage.flush();
    const size0 = cache.size;
    const heap0 = settledHeap();
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const outcome = await container.verifier.verify(benchToken(i));
      if (!outcome.ok) throw new Error(`token ${i} did not verify: ${outcome.reason}`);
    }
    const fillSeconds = (performance.now() - started) / 1000;
    await container.usage.flush(); // usage pending is not cache memory
    const heap1 = settledHeap();
    const entries = cache.size - size0;
    const bytesPerEntry = (heap1 - heap0) / entries;

    // Reference: a bare Map of the same digests to a one-field object.
    const { hash } = await import('node:crypto');
    const mapHeap0 = settledHeap();
    const bare = new Map();
    for (let i = 0; i < n; i++) bare.set(hash('sha256', benchToken(i), 'base64url'), { expiresAt: Date.now() });
    const mapHeap1 = settledHeap();
    const bareBytesPerEntry = (mapHeap1 - mapHeap0) / bare.size;
    bare.clear();
    return { entries, bytesPerEntry, cacheEstimateBytesPerEntry: cache.bytes / cache.size, bareMapBytesPerEntry: bareBytesPerEntry, fillSeconds };
  } finally {
    await container.close();
  }
}

/** RSS while verifying random well-formed unknown tokens for `seconds` (cache on, defaults). */
async function unknownTokens(args) {
  const container = await createContainer(loadConfig(benchEnv(args.store)), IN_PROCESS);
  try {
    const verify = container.verifier;
    for (let i = 0; i < 2000; i++) await verify.verify(protocol.generateToken().token);
    await container.usage.flush();
    globalThis.gc();
    const rss0 = process.memoryUsage().rss;
    const heap0 = process.memoryUsage().heapUsed;
    let maxRss = rss0;
    let count = 0;
    let unexpected = 0;
    const samples = [];
    const started = performance.now();
    const end = started + args.seconds * 1000;
    let nextSample = started + 1000;
    while (performance.now() < end) {
      for (let k = 0; k < 64; k++) {
        const outcome = await verify.verify(protocol.generateToken().token);
        if (outcome.ok || outcome.reason !== 'unknown') unexpected++;
        count++;
      }
      if (performance.now() >= nextSample) {
        const rss = process.memoryUsage().rss;
        maxRss = Math.max(maxRss, rss);
        samples.push(Math.round((rss - rss0) / 1024 / 1024));
        nextSample += 1000;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const rss1 = process.memoryUsage().rss;
    maxRss = Math.max(maxRss, rss1);
    return {
      seconds,
      verifications: count,
      perSec: count / seconds,
      unexpectedOutcomes: unexpected,
      rssStartMB: rss0 / 1024 / 1024,
      rssEndMB: rss1 / 1024 / 1024,
      rssGrowthMB: (maxRss - rss0) / 1024 / 1024,
      heapGrowthMB: (process.memoryUsage().heapUsed - heap0) / 1024 / 1024,
      cacheEntries: container.cache?.size ?? 0,
      rssGrowthBySecondMB: samples,
    };
  } finally {
    await container.close();
  }
}

const args = childArgs();
writeResult(args, args.mode === 'perToken' ? await perToken(args) : await unknownTokens(args));
