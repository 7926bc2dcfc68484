import { ERROR_CODES, type ErrorCode } from '@keyfob/protocol';

export interface KeyfobErrorOptions {
  cause?: unknown;
  /** Extra response headers, such as `Retry-After`. */
  headers?: Record<string, string>;
  /** For insufficient_scope: the scope that was missing, for the WWW-Authenticate challenge. */
  scope?: string;
  /** For field validation: the field the message names. */
  field?: string;
}

/**
 * The one error type of keyfob. `code` is the contract; `message` is shown to the caller only
 * when `expose` is true (every 4xx). Tests assert the code, never the message.
 */
export class KeyfobError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Record<string, string>;
  readonly scope: string | undefined;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: KeyfobErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = this.constructor.name;
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.expose = this.status < 500 || code === 'store_unavailable';
    this.headers = options.headers ?? {};
    this.scope = options.scope;
    this.field = options.field;
  }
}

export class ValidationError extends KeyfobError {
  constructor(field: string, message: string) {
    super('invalid_request', `${field}: ${message}`, { field });
  }
}

export class PolicyViolation extends KeyfobError {
  constructor(field: string, message: string) {
    super('policy_violation', `${field}: ${message}`, { field });
  }
}

export class NotFound extends KeyfobError {
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}

export class Conflict extends KeyfobError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class InsufficientScope extends KeyfobError {
  constructor(scope: string, message = `this request needs the scope "${scope}"`) {
    super('insufficient_scope', message, { scope });
  }
}

/** The store failed or is read-only: callers fail closed and may retry. */
export class StoreUnavailable extends KeyfobError {
  constructor(cause: unknown, retryAfterSeconds = 5) {
    super('store_unavailable', 'the data store is unavailable; retry later', {
      cause,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}
