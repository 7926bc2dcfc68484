/**
 * A value now, or a promise of it. The hot paths (a cached client, a cached token) answer from
 * memory; wrapping such an answer in a promise would cost every request a microtask turn for
 * nothing, so they hand back the value itself and only the store's answers arrive later.
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)` now when the value is here, after it settles when it is a promise. */
export function whenReady<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
