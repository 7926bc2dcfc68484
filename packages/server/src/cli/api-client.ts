/** A refusal or failure of the keyfob server, as one line that says what to do. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const HINTS: Record<string, string> = {
  invalid_token: 'run keyfob login, or set KEYFOB_TOKEN to a valid token',
  unauthorized: 'run keyfob login, or set KEYFOB_TOKEN',
  insufficient_scope: 'use a token with that scope',
  invalid_client: 'check --client-id and --client-secret',
  rate_limited: 'wait and try again',
  too_many_requests: 'wait and try again',
  store_unavailable: 'the server cannot reach its database; try again shortly',
  temporarily_unavailable: 'the server cannot reach its database; try again shortly',
};

/** The keyfob REST and OAuth API, with a PAT. */
export class KeyfobApi {
  readonly server: string;

  constructor(server: string, private readonly token: string | undefined) {
    this.server = server.replace(/\/+$/, '');
  }

  /** The token this client acts with (the subject of a token exchange), if any. */
  get subjectToken(): string | undefined {
    return this.token;
  }

  get<T>(path: string): Promise<T> {
    return this.#json<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.#json<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('PATCH', path, body);
  }

  delete(path: string, body?: unknown): Promise<void> {
    return this.#json<void>('DELETE', path, body);
  }

  /** An OAuth form POST with client credentials (token exchange). */
  async form<T>(path: string, params: Record<string, string>, client: { id: string; secret: string }): Promise<T> {
    const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
    return this.#send<T>(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${enc(client.id)}:${enc(client.secret)}`).toString('base64')}` },
      body: new URLSearchParams(params).toString(),
    });
  }

  #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (this.token === undefined) throw new ApiError('no token: run keyfob login, or set KEYFOB_TOKEN', 0, 'no_token');
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.#send<T>(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  }

  async #send<T>(path: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      // No redirects: one would carry the token (in a header or the body) somewhere else.
      res = await fetch(`${this.server}${path}`, { ...init, redirect: 'error', signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      throw new ApiError(`cannot reach ${this.server} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}); check --server or KEYFOB_URL`, 0, 'unreachable');
    }
    const text = await res.text();
    const body = text === '' ? undefined : safeJson(text);
    if (res.ok) return body as T;
    const { error, message } = (body ?? {}) as { error?: string; message?: string; error_description?: string };
    const detail = message ?? (body as { error_description?: string } | undefined)?.error_description ?? res.statusText;
    const code = error ?? `http_${res.status}`;
    const hint = HINTS[code];
    throw new ApiError(`${res.status} ${code}: ${detail}${hint ? `; ${hint}` : ''}`, res.status, code);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
