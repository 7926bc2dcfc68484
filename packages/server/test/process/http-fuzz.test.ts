import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlite, type TestDatabase } from '../helpers/dialects.js';
import { NO_LIMITS } from '../helpers/test-app.js';
import { killAllServers, readJson, sessionHeaders, setupAdmin, startServer, storeEnv, type HttpSession, type ServerProcess } from '../helpers/server-process.js';

/**
 * An HTTP fuzzer driven by the server's own OpenAPI document (plus the OAuth endpoints, which the
 * document hides): every route gets malformed, oversized, unicode and wrong-typed path
 * parameters, query parameters and bodies, under every kind of credentials. Whatever is sent:
 * no 5xx, every error in the one shape (RFC 6749's on /oauth), the process stays up and its
 * memory stays bounded. Inputs come from fixed fast-check seeds, so a failure replays.
 */

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly params: readonly { in: 'path' | 'query'; name: string; schema?: JsonSchema }[];
  readonly body?: JsonSchema;
  readonly form?: boolean;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  minLength?: number;
  anyOf?: JsonSchema[];
  nullable?: boolean;
}

/** Lone surrogates replaced: encodeURIComponent refuses them (and so would any real client). */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function deepNest(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Values that are wrong for almost any field. */
const NASTY: readonly unknown[] = [
  null, true, false, 0, -1, 2 ** 53 + 1, 1e308, -1e308, 1.5, '', ' ', '\u0000', '\ud800', '💥'.repeat(40), 'é'.normalize('NFD'),
  'x'.repeat(100_000), '../../../etc/passwd', '%00%ff', '<script>alert(1)</script>', "' OR 1=1 --", '${jndi:ldap://x}',
  'kf_pat_' + 'A'.repeat(46), '2026-02-30T25:61:00Z', '-0', 'NaN', 'Infinity', [], [null], ['a', 1, {}], {}, { __proto__: { polluted: 1 } },
  JSON.parse('{"__proto__":{"polluted":1}}'), { constructor: { prototype: { polluted: 1 } } }, Array.from({ length: 5000 }, () => 'a'), deepNest(500),
];

const PATH_VALUES: readonly string[] = [
  '0', '-1', 'null', 'undefined', '%00', '%zz', '%2e%2e%2f%2e%2e', 'a'.repeat(300), '💥', encodeURIComponent('💥'), '00000000-0000-7000-8000-000000000000',
  "'", '%20', 'admin', 'tokens:read', '..', 'x%2Fy',
];

const RAW_BODIES: readonly { type: string; body: string | Uint8Array }[] = [
  { type: 'application/json', body: '{' },
  { type: 'application/json', body: 'null' },
  { type: 'application/json', body: '"just a string"' },
  { type: 'application/json', body: '[1,2,3]' },
  { type: 'application/json', body: '{"a":'.repeat(5000) },
  { type: 'application/json', body: new Uint8Array([0x7b, 0xff, 0xfe, 0x22, 0x7d]) },
  { type: 'application/json; charset=utf-16', body: '{}' },
  { type: 'text/plain', body: 'hello' },
  { type: 'application/x-www-form-urlencoded', body: 'a=1&token=kf_pat_x' },
  { type: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--' },
  { type: 'application/xml', body: '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' },
];

/** A plausible valid value for a schema, so that a single wrong field is what the server sees. */
function plausible(schema: JsonSchema | undefined, n: number): unknown {
  if (!schema) return 'fuzz';
  if (schema.enum?.length) return schema.enum[0];
  if (schema.anyOf?.length) return plausible(schema.anyOf[0], n);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return `fuzz-${n}`.padEnd(schema.minLength ?? 0, 'x');
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [plausible(schema.items, n)];
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = plausible(v, n);
      return out;
    }
    default:
      return null;
  }
}

function operationsOf(doc: { paths: Record<string, Record<string, { parameters?: Operation['params']; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op.requestBody?.content?.['application/json']?.schema;
      ops.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], ...(body ? { body } : {}) });
    }
  }
  for (const path of ['/oauth/token', '/oauth/introspect', '/oauth/revoke']) {
    ops.push({ method: 'POST', path, params: [], form: true, body: { type: 'object', properties: { grant_type: { type: 'string' }, token: { type: 'string' }, subject_token: { type: 'string' }, subject_token_type: { type: 'string' }, client_id: { type: 'string' }, client_secret: { type: 'string' }, scope: { type: 'string' }, resource: { type: 'string' } } } });
  }
  // Routes that are not in the document at all.
  ops.push({ method: 'GET', path: '/api/v1/no-such-route', params: [] }, { method: 'PUT', path: '/api/v1/me/tokens', params: [] }, { method: 'GET', path: '/oauth/token', params: [] });
  return ops;
}

interface Sent {
  readonly op: Operation;
  readonly url: string;
  readonly init: RequestInit;
  readonly label: string;
}

describe('HTTP fuzzer from the OpenAPI document', () => {
  let db: TestDatabase;
  let limitedDb: TestDatabase;
  let server: ServerProcess;
  let limited: ServerProcess;
  let admin: HttpSession;
  let adminPat: string;

  beforeAll(async () => {
    db = await sqlite.create();
    limitedDb = await sqlite.create();
    // The GitHub partner endpoint enabled (the fuzzer cannot sign, so it meets the 401 path).
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const github = { KEYFOB_GITHUB_SCANNING_KEYS: JSON.stringify({ public_keys: [{ key_identifier: 'fuzz', key: publicKey.export({ type: 'spki', format: 'pem' }) }] }) };
    // Abuse limits off on the main server: they would turn most of the run into 429s and hide the
    // routes behind them. A second server keeps the default limits and gets every fourth request.
    server = await startServer({ ...storeEnv('sqlite', db), ...NO_LIMITS, ...github });
    limited = await startServer({ ...storeEnv('sqlite', limitedDb), ...github });
    await setupAdmin(limited, 'admin', 'admin-password-1');
    admin = await setupAdmin(server, 'admin', 'admin-password-1');
    const res = await server.fetch('/api/v1/me/tokens', {
      method: 'POST',
      headers: sessionHeaders(admin, { 'content-type': 'application/json' }),
      body: JSON.stringify({ name: 'fuzz-admin', scopes: ['tokens:read', 'tokens:write', 'admin:read', 'admin:write'] }),
    });
    adminPat = (await readJson(res)).token;
  }, 60_000);
  afterAll(async () => {
    await killAllServers();
    await db?.drop();
    await limitedDb?.drop();
  });

  function describeFetchError(error: unknown): string {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `${(error as Error).message}${cause ? `: ${cause.code ?? ''} ${cause.message ?? ''}` : ''}`;
  }
  function isSocketClosed(error: unknown): boolean {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
  }

  function rssOf(pid: number): number {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
    return Number(/(\d+)/.exec(line)![1]) * 1024;
  }

  it('never answers 5xx, always answers errors in the one shape (429s included), stays up and bounded', { timeout: 240_000 }, async () => {
    const doc = await readJson(await server.fetch('/openapi.json'));
    const ops = operationsOf(doc);
    expect(ops.length).toBeGreaterThan(30);

    const auths: readonly [string, Record<string, string>][] = [
      ['none', {}],
      ['session', sessionHeaders(admin)],
      ['admin PAT', { authorization: `Bearer ${adminPat}` }],
      // fetch sends header bytes 0-255 only: Latin-1 stands in for any non-ASCII.
      ['garbage bearer', { authorization: 'Bearer \u00ff\u00e9' }],
      ['basic', { authorization: 'Basic ' + Buffer.from('kfc_x:kf_cs_y').toString('base64') }],
      ['bare scheme', { authorization: 'Bearer' }],
    ];
    const jsonSamples = fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: 400, seed: 20261123 });
    const stringSamples = fc.sample(fc.string({ unit: 'binary', maxLength: 300 }), { numRuns: 200, seed: 20261124 });

    const requests: Sent[] = [];
    let n = 0;
    const add = (op: Operation, pathValues: Record<string, string>, query: string, body: { type: string; body: string | Uint8Array } | undefined, label: string) => {
      const [authName, authHeaders] = auths[n++ % auths.length]!;
      const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => pathValues[name] ?? '00000000-0000-7000-8000-000000000000');
      const headers: Record<string, string> = { ...authHeaders, ...(body ? { 'content-type': body.type } : {}) };
      requests.push({ op, url: `${path}${query}`, init: { method: op.method, headers, ...(body ? { body: body.body } : {}) }, label: `${label} as ${authName}` });
    };
    const encode = (op: Operation, value: unknown): { type: string; body: string } =>
      op.form
        ? { type: 'application/x-www-form-urlencoded', body: new URLSearchParams(Object.entries((value ?? {}) as Record<string, unknown>).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')])).toString() }
        : { type: 'application/json', body: JSON.stringify(value) ?? 'null' };

    for (const op of ops) {
      const pathParams = op.params.filter((p) => p.in === 'path');
      const queryParams = op.params.filter((p) => p.in === 'query');
      const validBody = op.body ? plausible(op.body, n) : undefined;
      add(op, {}, '', op.body ? encode(op, validBody) : undefined, `${op.method} ${op.path} plausible`);
      for (const value of PATH_VALUES) if (pathParams.length > 0) add(op, Object.fromEntries(pathParams.map((p) => [p.name, value])), '', op.body ? encode(op, validBody) : undefined, `path=${value.slice(0, 20)}`);
      for (const p of queryParams) {
        for (const value of [...NASTY.filter((v) => typeof v !== 'object' || v === null), ...stringSamples.slice(0, 10)]) {
          add(op, {}, `?${encodeURIComponent(p.name)}=${encodeURIComponent(wellFormed(String(value)))}`, undefined, `query ${p.name}`);
        }
        add(op, {}, `?${p.name}=1&${p.name}=2&${p.name}[]=3`, undefined, `query ${p.name} repeated`);
        add(op, {}, `?${p.name}=%ff%fe%zz%`, undefined, `query ${p.name} bad percent-encoding`);
      }
      if (op.method === 'GET' || op.method === 'DELETE') {
        // (fetch cannot send a body with GET.)
        if (op.method === 'DELETE') add(op, {}, '', { type: 'application/json', body: '{"unexpected":"body"}' }, 'body on DELETE');
        continue;
      }
      // Each property of the body wrong in turn, the rest plausible.
      for (const prop of Object.keys(op.body?.properties ?? {})) {
        for (const value of NASTY) add(op, {}, '', encode(op, { ...(validBody as object), [prop]: value }), `${op.path} ${prop}=${String(JSON.stringify(value)).slice(0, 30)}`);
      }
      for (const value of [...NASTY, ...jsonSamples.slice(0, 40)]) add(op, {}, '', encode(op, value), `${op.path} whole body`);
      for (const raw of RAW_BODIES) add(op, {}, '', raw, `${op.path} raw ${raw.type}`);
    }
    expect(requests.length).toBeGreaterThan(2000);

    // A client may send an idempotent request again when a reused keep-alive connection closes before
    // any answer (RFC 9112 §9.3.1); fetch does not, so under a loaded CI machine one such race in
    // thousands of requests would fail the run without saying anything about keyfob. Retried once,
    // counted, and bounded below: a server that dropped connections for real still fails.
    // A body over a route's limit (16 KiB for the OAuth forms) is refused with 413 from its
    // Content-Length, before it is read, and Fastify closes the connection rather than read it all:
    // fetch, still writing the body, may meet the closed socket (EPIPE) before it reads the answer.
    // Such a request is sent again on the same terms.
    const socketRetries: string[] = [];
    const bodyBytes = ({ body }: RequestInit) => (typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : 0);
    const answeredUnread = (sent: Sent) => bodyBytes(sent.init) > 16 * 1024;
    const fetchRetryingReusedSocket = async (target: ServerProcess, sent: Sent): Promise<Response> => {
      try {
        return await target.fetch(sent.url, sent.init);
      } catch (error) {
        if (!(['GET', 'HEAD', 'DELETE'].includes(sent.op.method) || answeredUnread(sent)) || !isSocketClosed(error)) throw error;
        socketRetries.push(`${sent.label}: ${describeFetchError(error)}`);
        return target.fetch(sent.url, sent.init);
      }
    };

    const rssBefore = rssOf(server.pid);
    const failures: string[] = [];
    let next = 0;
    let limitedAnswers = 0;
    const worker = async () => {
      while (next < requests.length) {
        const index = next++;
        const sent = requests[index]!;
        const target = index % 4 === 3 ? limited : server;
        let res: Response;
        try {
          res = await fetchRetryingReusedSocket(target, sent);
          if (res.status === 429) limitedAnswers++;
        } catch (error) {
          failures.push(`${sent.label}: no answer (${describeFetchError(error)})`);
          continue;
        }
        const text = await res.text();
        if (res.status >= 500) failures.push(`${sent.label}: ${res.status} ${text.slice(0, 200)}`);
        if (res.status >= 400 && res.status !== 431) {
          let body: Record<string, unknown> | undefined;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            failures.push(`${sent.label}: ${res.status} answered a body that is not JSON: ${text.slice(0, 100)}`);
            continue;
          }
          // The OAuth endpoints answer RFC 6749's shape; anything else (an unknown route under /oauth too) keyfob's own.
          const oauth = sent.op.form === true;
          const shapeOk = oauth
            ? typeof body['error'] === 'string' && typeof body['error_description'] === 'string'
            : typeof body['error'] === 'string' && typeof body['message'] === 'string';
          if (!shapeOk) failures.push(`${sent.label}: ${res.status} error shape ${text.slice(0, 120)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    if (process.env["FUZZ_DUMP"]) (await import("node:fs")).writeFileSync(process.env["FUZZ_DUMP"], failures.join("\n"));
    expect(failures.slice(0, 20), `${failures.length} of ${requests.length} requests failed`).toEqual([]);
    expect(socketRetries.length, `requests sent again after a closed connection: ${socketRetries.slice(0, 5).join('; ')}`).toBeLessThanOrEqual(3);
    expect(limitedAnswers, 'the server with default limits answered some requests with 429').toBeGreaterThan(0);
    for (const s of [server, limited]) {
      expect(s.child.exitCode).toBeNull();
      expect((await s.fetch('/healthz')).status).toBe(200);
    }
    // Bounded: the whole run (some bodies of 100 KB, thousands of requests) moves RSS by far less than this.
    expect(rssOf(server.pid) - rssBefore).toBeLessThan(200 * 1024 * 1024);
  });
});
