import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The HTTP figures' reference servers (scripts/bench/servers.mjs). The benchmark only counts
// answers; a reference that answered the wrong bytes, or let an unknown token through, would
// still print a ratio.
interface BenchServer {
  readonly port: number;
  stop(): Promise<void>;
}
interface BenchProc {
  startServer(args: Record<string, unknown>, options: Record<string, unknown>): Promise<BenchServer>;
}
interface BenchLib {
  benchToken(i: number): string;
}

const benchDir = new URL('../../../../scripts/bench/', import.meta.url).href;
const { startServer } = (await import(`${benchDir}proc.mjs`)) as BenchProc;
const { benchToken } = (await import(`${benchDir}lib.mjs`)) as BenchLib;

const SELF = '/api/v1/tokens/self';
const INTROSPECT = '/oauth/introspect';
const bodies = { [SELF]: '{"id":"self"}', [INTROSPECT]: '{"active":true}' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };

async function answer(server: BenchServer, path: string, init: RequestInit = {}): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`, init);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

describe('the hashMap reference server', () => {
  let server: BenchServer;
  beforeAll(async () => {
    server = await startServer({ kind: 'hashMap', bodies, tokens: [benchToken(0), benchToken(1)] }, {});
  });
  afterAll(async () => server?.stop());

  it('answers a known bearer token with the fixed bytes of its path', async () => {
    const res = await answer(server, SELF, { headers: { authorization: `Bearer ${benchToken(0)}` } });
    expect(res).toEqual({ status: 200, text: bodies[SELF], type: 'application/json; charset=utf-8' });
  });

  it('finds the token of a form body', async () => {
    const res = await answer(server, INTROSPECT, { method: 'POST', headers: form, body: new URLSearchParams({ token: benchToken(1) }).toString() });
    expect(res.status).toBe(200);
    expect(res.text).toBe(bodies[INTROSPECT]);
  });

  it('refuses a token it does not hold', async () => {
    expect((await answer(server, SELF, { headers: { authorization: `Bearer ${benchToken(7)}` } })).status).toBe(401);
    expect((await answer(server, INTROSPECT, { method: 'POST', headers: form, body: 'token=' })).status).toBe(401);
  });
});

describe('the bare Fastify reference server', () => {
  let server: BenchServer;
  beforeAll(async () => {
    server = await startServer({ kind: 'fastify', bodies }, {});
  });
  afterAll(async () => server?.stop());

  it('answers each path with its fixed bytes, also to a form POST', async () => {
    expect(await answer(server, SELF)).toEqual({ status: 200, text: bodies[SELF], type: 'application/json; charset=utf-8' });
    const res = await answer(server, INTROSPECT, { method: 'POST', headers: form, body: 'token=x' });
    expect(res.text).toBe(bodies[INTROSPECT]);
  });

  it('signs an EdDSA JWT for the audience of the form at /oauth/token', async () => {
    const res = await answer(server, '/oauth/token', { method: 'POST', headers: form, body: new URLSearchParams({ audience: 'https://api.example' }).toString() });
    expect(res.status).toBe(200);
    const { access_token: token, token_type: tokenType } = JSON.parse(res.text) as { access_token: string; token_type: string };
    expect(tokenType).toBe('Bearer');
    const [header, payload, signature] = token.split('.');
    const decode = (part: string | undefined) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(decode(header)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(decode(payload)).toMatchObject({ aud: 'https://api.example', scope: 'tokens:read' });
    // An Ed25519 signature is 64 bytes.
    expect(Buffer.from(signature ?? '', 'base64url')).toHaveLength(64);
  });
});
