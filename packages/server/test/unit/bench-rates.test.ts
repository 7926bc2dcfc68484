import { describe, expect, it } from 'vitest';

// The benchmark's own arithmetic (scripts/bench/lib.mjs). Its figures are never asserted on, but
// a rate of 0 or a median of a list holding NaN turns a figure into noise without any error.
interface BenchLib {
  rateAsync(fn: (i: number) => Promise<void>, ms: number, concurrency?: number, prelude?: () => Promise<void>): Promise<number>;
  rateMaybeAsync(fn: (i: number) => unknown, ms: number, prelude?: () => Promise<void>): Promise<number>;
  median(values: readonly number[]): number;
  shown(value: number | null, target?: string): number | null;
}

const libUrl = new URL('../../../../scripts/bench/lib.mjs', import.meta.url).href;
const { rateAsync, rateMaybeAsync, median, shown } = (await import(libUrl)) as BenchLib;

const PRELUDE_MS = 40;
const slowPrelude = () => new Promise<void>((resolve) => setTimeout(resolve, PRELUDE_MS));

describe('benchmark rates with a prelude longer than the slice', () => {
  it('rateAsync still runs the loops after the prelude, and charges the prelude to the slice', async () => {
    let calls = 0;
    const rate = await rateAsync(async () => {
      calls++;
    }, 5, 4, slowPrelude);
    expect(calls).toBeGreaterThan(0);
    expect(Number.isFinite(rate)).toBe(true);
    expect(rate).toBeGreaterThan(0);
    // The slice took at least the prelude (timers may fire a little early: half of it is safe).
    expect(rate).toBeLessThanOrEqual(calls / (PRELUDE_MS / 2 / 1000));
  });

  it('rateMaybeAsync does the same for a synchronous function', async () => {
    let calls = 0;
    const rate = await rateMaybeAsync(() => {
      calls++;
    }, 5, slowPrelude);
    expect(calls).toBeGreaterThan(0);
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThanOrEqual(calls / (PRELUDE_MS / 2 / 1000));
  });
});

describe('benchmark median', () => {
  it('is the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('refuses a list holding NaN (a slice ratio of 0/0) instead of sorting it into any order', () => {
    expect(() => median([0.9, Number.NaN, 0.95])).toThrow(/NaN/);
  });
});

// The HTTP figures' rounds, shared among keyfob processes run one after another (scripts/bench/fig-http.mjs).
interface BenchHttp {
  roundsOfProcess(p: number, n: number, rounds: number): { from: number; to: number };
  perProcess(processes: number, processOf: readonly number[], ratios: readonly number[]): number[];
}
const { roundsOfProcess, perProcess } = (await import(new URL('../../../../scripts/bench/fig-http.mjs', import.meta.url).href)) as BenchHttp;

describe('benchmark rounds shared among processes', () => {
  it('gives every round to exactly one process, in order, and none of them an empty block', () => {
    for (let rounds = 1; rounds <= 12; rounds++) {
      for (let n = 1; n <= rounds; n++) {
        const blocks = Array.from({ length: n }, (_, p) => roundsOfProcess(p, n, rounds));
        const covered = blocks.flatMap(({ from, to }) => Array.from({ length: to - from }, (_, i) => from + i));
        expect(covered).toEqual(Array.from({ length: rounds }, (_, r) => r));
        for (const { from, to } of blocks) expect(to - from).toBeGreaterThanOrEqual(Math.floor(rounds / n));
      }
    }
  });

  it('takes each process’s median over its own rounds only', () => {
    expect(perProcess(3, [0, 0, 0, 1, 1, 1, 2, 2, 2], [0.5, 0.6, 0.7, 0.9, 1, 0.8, 0.1, 0.3, 0.2])).toEqual([0.6, 0.9, 0.2]);
  });
});

describe('the printed figure', () => {
  it('is cut to three decimals toward the missing side of its target, never rounded into a pass', () => {
    expect(shown(0.59996, '≥ 0.6')).toBe(0.599);
    expect(shown(0.6, '≥ 0.6')).toBe(0.6);
    expect(shown(0.57, '≥ 0.5')).toBe(0.57);
    expect(shown(2.0004, '≤ 2')).toBe(2.001);
    expect(shown(49.9996, '< 50')).toBe(50);
    expect(shown(0.29, '≤ 2')).toBe(0.29);
    expect(shown(0.12345, 'measured')).toBe(0.123);
    expect(shown(null, '≥ 0.9')).toBeNull();
  });
});
