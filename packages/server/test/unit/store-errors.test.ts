import { describe, expect, it } from 'vitest';
import { isStoreUnavailableError } from '../../src/errors/store-errors.js';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isStoreUnavailableError', () => {
  it('counts a failed flush of SQLite’s log as the store being unavailable, like SQLite’s own I/O errors', () => {
    // keyfob flushes the log itself after an audit batch (db/connect.ts): its errors are Node's.
    for (const code of ['EIO', 'ENOSPC', 'EDQUOT', 'EROFS', 'SQLITE_IOERR_FSYNC', 'SQLITE_FULL']) expect(isStoreUnavailableError(withCode(code))).toBe(true);
    expect(isStoreUnavailableError(new Error('wrapped', { cause: withCode('EIO') }))).toBe(true);
  });

  it('leaves bugs and refused writes alone', () => {
    for (const code of ['SQLITE_CONSTRAINT_PRIMARYKEY', 'ENOENT', 'EACCES', 'ERR_INVALID_ARG_TYPE', '23505']) expect(isStoreUnavailableError(withCode(code))).toBe(false);
    expect(isStoreUnavailableError(new TypeError('x is undefined'))).toBe(false);
  });
});
