// Shared helpers of the benchmark: where the built server is, deterministic bench tokens, timed
// loops, and the child-process protocol (each figure runs in a child that writes one JSON file).
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '../..');
export const DIST = join(ROOT, 'packages/server/dist');

/** Fixed master secret of every bench store, so that seeded hashes match what the server computes. */
export const BENCH_SECRET = 'keyfob-bench-secret-0123456789abcdefghijklmnopqrstuvwxyz';
export const BENCH_AUDIENCE = 'https://api.bench.example';
export const TOKEN_PREFIX = 'kf_pat';

/** Imports a module of the built server (packages/server/dist/...). */
export async function server(path) {
  const file = join(DIST, path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return import(pathToFileURL(file).href);
}

export const protocol = await import('@keyfob/protocol');

const BASE62 = protocol.BASE62_ALPHABET;

/**
 * The i-th bench token: 40 base62 characters derived from a SHA-512 of the index, plus the real
 * CRC-32 checksum, so it is well-formed and any process can regenerate it from its index alone.
 */
export function benchToken(i) {
  const bytes = createHash('sha512').update(`keyfob-bench-token-${i}`).digest();
  let random = '';
  for (let k = 0; k < protocol.RANDOM_LENGTH; k++) random += BASE62[bytes[k] % 62];
  return `${TOKEN_PREFIX}_${random}${protocol.checksumOf(random)}`;
}

/** `count` distinct indexes in [0, n), from a seeded PRNG (same sample in every process). */
export function sampleIndexes(n, count, seed = 42) {
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  const seen = new Set();
  const out = [];
  while (out.length < count) {
    const i = next() % n;
    if (!seen.has(i)) {
      seen.add(i);
      out.push(i);
    }
  }
  return out;
}

/** The environment every bench container is built from (over KEYFOB_* defaults). */
export function benchEnv(db, extra = {}) {
  return {
    KEYFOB_DATA_DIR: db.dir,
    DATABASE_URL: db.url,
    KEYFOB_SECRET: BENCH_SECRET,
    KEYFOB_LOG_LEVEL: 'silent',
    KEYFOB_BASE_URL: 'http://localhost:8080',
    // The exchange figure exchanges one PAT thousands of times a second: the per-PAT abuse limit
    // (120 a minute by default) would refuse nearly all of it. A limit that is never reached
    // keeps the counting itself in the figure.
    KEYFOB_LIMIT_EXCHANGES: '999999999/1m',
    ...extra,
  };
}

/**
 * The options of every in-process figure's container: its event jobs (lease renewals, outbox
 * fan-out, reminders) stay off. They are not what those figures measure, and on a reused store
 * they fanned out events left by earlier runs in the middle of a figure. The HTTP figures' servers
 * (servers.mjs) run them, as a deployed server does.
 */
export const IN_PROCESS = Object.freeze({ startJobs: false });

export const now = () => performance.now();

/**
 * Ops/s of an async function called back to back (`concurrency` loops in flight) for `ms`.
 * `prelude`, when given, is awaited first, inside the timed span (a container's own flush); the
 * loops still run `ms` after it. A flush longer than the slice used to leave a slice with no
 * operations: a rate of 0, and a ratio of 0/0 when both competitors flushed in one cycle, which
 * made the median meaningless (`median` now refuses NaN).
 */
export async function rateAsync(fn, ms, concurrency = 1, prelude = undefined) {
  let n = 0;
  const start = now();
  if (prelude) await prelude();
  const end = now() + ms;
  const loop = async () => {
    while (now() < end) {
      for (let k = 0; k < 64; k++) await fn(n++);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return n / ((now() - start) / 1000);
}

/**
 * Ops/s of a function that answers either at once or with a promise (the verifier: a cache hit
 * is synchronous), awaiting only what is a promise, as its callers do. `prelude` as in rateAsync.
 */
export async function rateMaybeAsync(fn, ms, prelude = undefined) {
  let n = 0;
  const start = now();
  if (prelude) await prelude();
  const end = now() + ms;
  while (now() < end) {
    for (let k = 0; k < 256; k++) {
      const result = fn(n++);
      if (result instanceof Promise) await result;
    }
  }
  return n / ((now() - start) / 1000);
}

/** Ops/s of a synchronous function called in a plain loop for `ms`. */
export function rateSync(fn, ms) {
  let n = 0;
  const start = now();
  const end = start + ms;
  while (now() < end) {
    for (let k = 0; k < 256; k++) fn(n++);
  }
  return n / ((now() - start) / 1000);
}

export function median(values) {
  // A NaN makes the comparator inconsistent, and sort() then leaves any order: refuse it.
  if (values.some(Number.isNaN)) throw new Error(`median of ${values.length} values holding NaN`);
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Child side: the JSON argument and where to write the result. */
export function childArgs() {
  const args = JSON.parse(process.argv[2] ?? '{}');
  return args;
}

export function writeResult(args, result) {
  writeFileSync(args.out, JSON.stringify(result, null, 2));
}

/** Number from an environment variable, or the fallback. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

export const round = (x, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? x : Number(x.toFixed(digits)));

/**
 * Three decimals, cut toward the missing side of a target: 0.5996 against "≥ 0.6" is shown as 0.599,
 * never as a 0.600 that missed.
 */
export function shown(value, target) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return round(value, 3);
  // The epsilon keeps binary fractions such as 0.57 × 1000 = 569.999… on their decimal.
  if (target?.startsWith('≥')) return Math.floor(value * 1000 + 1e-6) / 1000;
  if (target?.startsWith('≤') || target?.startsWith('<')) return Math.ceil(value * 1000 - 1e-6) / 1000;
  return round(value, 3);
}
