import { describe, expect, it } from 'vitest';
import { isStoreUnavailableError } from '../../src/errors/store-errors.js';
import { isAbortedBody } from '../../src/http/aborted-body.js';
import { toKeyfobError } from '../../src/http/plugins/error-handler.js';
import { oauthAnswerOf } from '../../src/http/routes/oauth/oauth-routes.js';

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

describe('a connection reset: the store’s, or a client that hung up mid-body', () => {
  // node's 'aborted', as Fastify's body reader hands it on (status 400), and a database socket's reset.
  const abortedBody = Object.assign(withCode('ECONNRESET', 'aborted'), { statusCode: 400 });
  const storeReset = Object.assign(withCode('ECONNRESET', 'read ECONNRESET'), { syscall: 'read' });

  it('answers the aborted body as the client’s invalid request, on the API and under /oauth', () => {
    expect(isAbortedBody(abortedBody)).toBe(true);
    expect(toKeyfobError(abortedBody)).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(oauthAnswerOf(abortedBody)).toMatchObject({ status: 400, unexpected: false, oauth: { error: 'invalid_request' } });
  });

  it('still answers the store’s reset as the store being unavailable', () => {
    expect(isAbortedBody(storeReset)).toBe(false);
    expect(toKeyfobError(storeReset)).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect(oauthAnswerOf(storeReset)).toMatchObject({ status: 503, oauth: { error: 'temporarily_unavailable' } });
  });
});
