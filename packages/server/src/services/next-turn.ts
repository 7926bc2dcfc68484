/**
 * Resolves after the event loop has served what was waiting (I/O callbacks, timers). On SQLite a
 * chain of awaits never does: better-sqlite3 answers synchronously, so every await in between
 * is a microtask, and a job of many statements would hold every request until its last one.
 */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
