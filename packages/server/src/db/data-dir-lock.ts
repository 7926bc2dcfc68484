import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export class DataDirLocked extends Error {
  constructor(readonly path: string, readonly pid: number | undefined) {
    super(
      `another keyfob process${pid ? ` (pid ${pid})` : ''} is using ${path}; SQLite serves a single instance — stop it first or use PostgreSQL to scale out`,
    );
    this.name = 'DataDirLocked';
  }
}

const isBusy = (error: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((error as { code?: unknown }).code ?? ''));

/**
 * D12: one process per SQLite data folder. The lock is an exclusive SQLite transaction held on
 * `keyfob.lock.db` for the life of the process: the operating system drops it when the process
 * dies, however it dies, so there is no stale lock to judge and no pid-reuse race. `keyfob.lock`
 * only records the holder's pid for the message a second process prints.
 * Returns the release function.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lockDb = new Database(join(dataDir, 'keyfob.lock.db'), { timeout: 0 });
  const pidFile = join(dataDir, 'keyfob.lock');
  try {
    lockDb.pragma('locking_mode = EXCLUSIVE');
    lockDb.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lockDb.close();
    if (!isBusy(error)) throw error;
    let pid: number | undefined;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
    } catch {
      pid = undefined;
    }
    throw new DataDirLocked(dataDir, pid);
  }
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    rmSync(pidFile, { force: true });
    try {
      lockDb.exec('ROLLBACK');
    } finally {
      lockDb.close();
    }
  };
}
