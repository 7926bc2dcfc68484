import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from '@keyfob/protocol';
import { verifyScanningSignature, type ScanningKeys } from '../../../crypto/github-scanning-keys.js';
import { addressSubject } from '../../../domain/rate-limits.js';
import { tokenPatternRules } from '../../../domain/token-pattern.js';
import { KeyfobError, NotFound, ValidationError } from '../../../errors/keyfob-error.js';
import type { LeakResponse, LeakVerdict } from '../../../services/leak-response.js';
import type { RateLimiter } from '../../../services/rate-limiter.js';
import { requestMeta } from '../api/common.js';
import { headerValue } from '../../plugins/authenticate.js';

export interface LeakRouteDeps {
  readonly issuer: string;
  readonly acceptedPrefixes: readonly string[];
  readonly leaks: LeakResponse;
  readonly limiter: RateLimiter;
  readonly githubKeys: ScanningKeys | undefined;
}

/** As many as GitHub's own public credential-revocation endpoint takes in one request. */
const MAX_CREDENTIALS = 1000;
const MAX_CREDENTIAL_LENGTH = 256;

const CredentialReport = Type.Object(
  {
    credentials: Type.Array(Type.String({ minLength: 1, maxLength: MAX_CREDENTIAL_LENGTH }), { minItems: 1, maxItems: MAX_CREDENTIALS }),
  },
  { additionalProperties: false },
);

const PatternFormat = Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('regex'), Type.Literal('gitleaks')])) });

/** One item of a GitHub secret-scanning partner report. */
interface GithubMatch {
  readonly token: string;
  readonly type?: string;
  readonly url?: string;
  readonly source?: string;
}

export async function leakRoutes(app: FastifyInstance, deps: LeakRouteDeps): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const rules = tokenPatternRules(deps.acceptedPrefixes, deps.issuer);

  api.get(
    '/.well-known/keyfob-token-pattern',
    {
      schema: {
        tags: ['leaks'],
        summary: "Secret-scanning rules for this instance's tokens: JSON, a plain regex (?format=regex) or a gitleaks config (?format=gitleaks)",
        querystring: PatternFormat,
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      if (request.query.format === 'regex') return reply.type('text/plain; charset=utf-8').send(`${rules.regex}\n`);
      if (request.query.format === 'gitleaks') return reply.type('application/toml; charset=utf-8').send(rules.gitleaksToml);
      return {
        issuer: deps.issuer,
        prefixes: rules.prefixes,
        regex: rules.regex,
        checksum: 'the last 6 characters are the CRC32 of the 40 before them, in base62',
        gitleaks: rules.gitleaksToml,
        revocationEndpoint: `${deps.issuer}/credentials/revoke`,
      };
    },
  );

  api.post(
    '/credentials/revoke',
    {
      schema: {
        tags: ['leaks'],
        summary: 'Report leaked tokens (no authentication; shaped like GitHub’s credential revocation): each active one is revoked and its owner told',
        body: CredentialReport,
        response: { 202: Type.Object({}), 400: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const meta = requestMeta(request);
      // Charged per token to look up, so that one request of 1,000 costs what 1,000 requests do.
      const cost = Math.max(1, deps.leaks.wellFormedCount(request.body.credentials));
      await deps.limiter.consume('credentialReports', addressSubject(meta.ip), cost);
      await deps.leaks.report(request.body.credentials, () => ({ reporter: 'public report (POST /credentials/revoke)' }), meta);
      // The same answer whatever was found: a report never tells which tokens exist.
      return reply.code(202).send({});
    },
  );

  await app.register(async (scoped) => {
    // The signature covers the exact bytes GitHub sent: keep them.
    scoped.removeContentTypeParser('application/json');
    scoped.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) => done(null, body));
    scoped.post(
      '/credentials/github-secret-scanning',
      { schema: { tags: ['leaks'], summary: 'GitHub secret-scanning partner endpoint: ECDSA-signed reports of keyfob tokens found on GitHub' } },
      async (request, reply) => {
        const keys = deps.githubKeys;
        if (keys === undefined) throw new NotFound('GitHub secret scanning (set KEYFOB_GITHUB_SCANNING_KEYS)');
        const raw = rawBody(request);
        if (!verifyScanningSignature(keys, headerValue(request.headers['github-public-key-identifier']), headerValue(request.headers['github-public-key-signature']), raw)) {
          throw new KeyfobError('unauthorized', 'the GitHub-Public-Key-Signature does not verify against a configured key');
        }
        const matches = githubMatches(raw);
        const verdicts = await deps.leaks.report(
          matches.map((m) => m.token),
          (token) => {
            const match = matches.find((m) => m.token === token)!;
            return { reporter: 'GitHub secret scanning', ...(match.url ? { url: match.url.slice(0, 500) } : {}), ...(match.source ? { where: match.source.slice(0, 50) } : {}) };
          },
          requestMeta(request),
        );
        return reply.code(200).send(
          matches.map((m) => ({ token_raw: m.token, token_type: m.type ?? 'keyfob_pat', label: isOurs(verdicts.get(m.token)!) ? 'true_positive' : 'false_positive' })),
        );
      },
    );
  });
}

function isOurs(verdict: LeakVerdict): boolean {
  return verdict === 'revoked' || verdict === 'inactive';
}

function rawBody(request: FastifyRequest): Buffer {
  if (!Buffer.isBuffer(request.body)) throw new KeyfobError('unsupported_media_type', 'send the report as application/json');
  return request.body;
}

/** GitHub's body: a JSON array of `{ token, type, url, source }`. */
function githubMatches(raw: Buffer): GithubMatch[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ValidationError('body', 'must be a JSON array of { token, type, url, source }');
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > MAX_CREDENTIALS) {
    throw new ValidationError('body', `must be a JSON array of 1 to ${MAX_CREDENTIALS} matches`);
  }
  return parsed.map((item: unknown, i) => {
    const m = item as Partial<Record<keyof GithubMatch, unknown>> | null;
    if (typeof m?.token !== 'string' || m.token.length === 0 || m.token.length > MAX_CREDENTIAL_LENGTH) {
      throw new ValidationError(`body/${i}/token`, `must be a string of 1 to ${MAX_CREDENTIAL_LENGTH} characters`);
    }
    return {
      token: m.token,
      ...(typeof m.type === 'string' ? { type: m.type.slice(0, 100) } : {}),
      ...(typeof m.url === 'string' ? { url: m.url } : {}),
      ...(typeof m.source === 'string' ? { source: m.source } : {}),
    };
  });
}
