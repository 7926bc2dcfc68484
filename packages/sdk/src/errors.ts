/**
 * keyfob could not be asked (down, unreachable, too slow, overloaded) or refused this resource
 * server's own credentials. A request must then be refused with 503, never let through.
 */
export class KeyfobUnavailableError extends Error {
  /** Seconds after which asking again makes sense. */
  readonly retryAfterSeconds: number;

  constructor(message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeyfobUnavailableError';
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
  }
}
