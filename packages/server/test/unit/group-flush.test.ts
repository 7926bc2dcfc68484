import { describe, expect, it } from 'vitest';
import { GroupFlush } from '../../src/db/group-flush.js';

/** A flush whose end the test decides, one per call of flushOnce. */
function controlledFlushes() {
  const runs: { finish(): void; fail(error: Error): void }[] = [];
  const group = new GroupFlush(
    () =>
      new Promise<void>((resolve, reject) => {
        runs.push({ finish: resolve, fail: reject });
      }),
  );
  return { group, runs };
}

/** Lets every settled promise's callbacks run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function tracked(promise: Promise<void>) {
  const state = { done: false, error: undefined as unknown };
  promise.then(
    () => (state.done = true),
    (error: unknown) => (state.error = error),
  );
  return state;
}

describe('GroupFlush', () => {
  it('starts a flush at once when none is running, and resolves when it ends', async () => {
    const { group, runs } = controlledFlushes();
    const first = tracked(group.flush());
    expect(runs).toHaveLength(1);
    await turn();
    expect(first.done).toBe(false);
    runs[0]!.finish();
    await turn();
    expect(first.done).toBe(true);
  });

  it('makes callers that arrive during a flush wait for one more, begun after it, which they share', async () => {
    const { group, runs } = controlledFlushes();
    const first = tracked(group.flush());
    const second = tracked(group.flush());
    const third = tracked(group.flush());
    // The running flush may have begun before the later callers wrote: not theirs to share.
    expect(runs).toHaveLength(1);
    runs[0]!.finish();
    await turn();
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
    expect(runs).toHaveLength(2);
    // A caller arriving now waits for a third flush, not for the second already under way.
    const fourth = tracked(group.flush());
    runs[1]!.finish();
    await turn();
    expect(second.done && third.done).toBe(true);
    expect(fourth.done).toBe(false);
    expect(runs).toHaveLength(3);
    runs[2]!.finish();
    await turn();
    expect(fourth.done).toBe(true);
    expect(runs).toHaveLength(3);
  });

  it('rejects the callers of a failed flush only; the next flush still runs for those who wait for it', async () => {
    const { group, runs } = controlledFlushes();
    const first = tracked(group.flush());
    const second = tracked(group.flush());
    runs[0]!.fail(new Error('EIO'));
    await turn();
    expect(first.error).toBeInstanceOf(Error);
    expect(runs).toHaveLength(2);
    runs[1]!.finish();
    await turn();
    expect(second.done).toBe(true);
    expect(second.error).toBeUndefined();
    // Nothing running or waiting: a new caller starts a flush of its own at once.
    tracked(group.flush());
    expect(runs).toHaveLength(3);
  });

  it('settles once no flush is running or waiting, failed ones included', async () => {
    const { group, runs } = controlledFlushes();
    void group.flush().catch(() => undefined);
    void group.flush();
    const settled = tracked(group.settled());
    runs[0]!.fail(new Error('EIO'));
    await turn();
    expect(settled.done).toBe(false);
    runs[1]!.finish();
    await turn();
    await turn();
    expect(settled.done).toBe(true);
  });
});
