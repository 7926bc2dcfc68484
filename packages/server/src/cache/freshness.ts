/**
 * Whether a cache entry stored at `storedAt` may still answer at `now`. A clock that went
 * backwards makes an entry stale too: its age is then unknown.
 */
export function isFresh(storedAt: number, now: number, ttlMs: number): boolean {
  return now >= storedAt && now - storedAt < ttlMs;
}
