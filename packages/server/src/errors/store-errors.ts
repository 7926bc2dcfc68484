/**
 * Recognises errors that mean "the store cannot serve now" (connection lost, read-only, disk full,
 * locked) as opposed to a bug. Those become 503 + Retry-After; everything else stays a 500.
 */
const PG_UNAVAILABLE_CLASSES = ['08', '53', '57', '58'];
const PG_UNAVAILABLE_CODES = new Set(['25006', '40001', '40P01', '55000', '55P03']);
const NODE_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);
/** From keyfob's own flush of SQLite's log (db/connect.ts): what SQLITE_IOERR or SQLITE_FULL would say. */
const NODE_DISK_CODES = new Set(['EIO', 'ENOSPC', 'EDQUOT', 'EROFS']);
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'The database connection is not open',
  'driver has already been destroyed',
  'Cannot use a pool after calling end',
  'Query read timeout',
];

export function isStoreUnavailableError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NODE_NET_CODES.has(code) || NODE_DISK_CODES.has(code) || SQLITE_UNAVAILABLE.test(code) || PG_UNAVAILABLE_CODES.has(code)) return true;
      if (code.length === 5 && PG_UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) return true;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && MESSAGES.some((m) => message.includes(m))) return true;
  }
  return false;
}
