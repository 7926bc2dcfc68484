import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { DEFAULT_TOKEN_PREFIX, isValidPrefix } from '@keyfob/protocol';
import type { Config, DatabaseConfig, LogLevel } from './config.js';
import { ConfigError } from './config-error.js';
import { parseServiceUrl } from './urls.js';
import { parseSignIn } from './sign-in.js';
import { parseScanningKeys, type ScanningKeys } from '../crypto/github-scanning-keys.js';
import { LIMIT_NAMES, parseLimitRule, type LimitName, type LimitRule, type LimitRules } from '../domain/rate-limits.js';

export { ConfigError };

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads the configuration from the environment, optionally merged over a JSON file named by
 * KEYFOB_CONFIG whose keys are the same variable names. Throws ConfigError naming the variable.
 * The only module that reads process.env (through its default argument).
 */
/**
 * How often recorded use is written. Each flush writes a row per distinct token used since the
 * last one, so a longer interval divides the writes of busy tokens; five seconds is still far
 * finer than anything shown (last use to the minute, counts by the hour).
 */
export const DEFAULT_USAGE_FLUSH_MS = 5000;

export function loadConfig(env: Env = process.env): Config {
  const get = settingsOf(env);

  const port = integer(get, 'KEYFOB_PORT', 8080, 0, 65535);
  const host = get('KEYFOB_HOST') ?? 'localhost';
  const baseUrl = parseBaseUrl(get('KEYFOB_BASE_URL') ?? `http://localhost:${port}`);
  const dataDir = resolve(get('KEYFOB_DATA_DIR') ?? './data');
  const database = parseDatabase(get, dataDir);

  const { tokenPrefix, acceptedPrefixes } = tokenPrefixes(get);

  const secret = get('KEYFOB_SECRET');
  if (secret !== undefined && secret.length < 32) throw new ConfigError('KEYFOB_SECRET', 'must be at least 32 characters');
  if (secret === undefined && database.kind === 'postgres') {
    throw new ConfigError('KEYFOB_SECRET', 'is required with PostgreSQL: every instance must share the same secret');
  }
  const previousSecret = get('KEYFOB_SECRET_PREVIOUS');
  if (previousSecret !== undefined && previousSecret.length < 32) {
    throw new ConfigError('KEYFOB_SECRET_PREVIOUS', 'must be at least 32 characters');
  }

  const adminUser = get('KEYFOB_ADMIN_USERNAME');
  const adminPassword = get('KEYFOB_ADMIN_PASSWORD');
  if ((adminUser === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(adminUser === undefined ? 'KEYFOB_ADMIN_USERNAME' : 'KEYFOB_ADMIN_PASSWORD', 'set both KEYFOB_ADMIN_USERNAME and KEYFOB_ADMIN_PASSWORD, or neither');
  }

  const logLevel = (get('KEYFOB_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('KEYFOB_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  const accessLog = get('KEYFOB_ACCESS_LOG') ?? 'off';
  if (accessLog !== 'on' && accessLog !== 'off') throw new ConfigError('KEYFOB_ACCESS_LOG', 'must be on or off');

  const trustProxy = parseTrustProxy(get('KEYFOB_TRUST_PROXY'));

  const cacheSwitch = get('KEYFOB_VERIFY_CACHE') ?? 'on';
  if (cacheSwitch !== 'on' && cacheSwitch !== 'off') throw new ConfigError('KEYFOB_VERIFY_CACHE', 'must be on or off');

  const jwtAlg = get('KEYFOB_JWT_ALG') ?? 'EdDSA';
  if (jwtAlg !== 'EdDSA' && jwtAlg !== 'ES256') throw new ConfigError('KEYFOB_JWT_ALG', 'must be EdDSA or ES256');

  return Object.freeze({
    jwtAlg,
    verifyCache: Object.freeze({
      enabled: cacheSwitch === 'on',
      ttlMs: integer(get, 'KEYFOB_VERIFY_CACHE_TTL_MS', 10_000, 100, 3_600_000),
      maxEntries: integer(get, 'KEYFOB_VERIFY_CACHE_MAX_ENTRIES', 100_000, 1, 100_000_000),
      maxBytes: integer(get, 'KEYFOB_VERIFY_CACHE_MAX_MB', 64, 1, 65_536) * 1024 * 1024,
    }),
    heartbeatMs: integer(get, 'KEYFOB_HEARTBEAT_MS', 500, 50, 60_000),
    maxPendingLookups: integer(get, 'KEYFOB_MAX_PENDING_LOOKUPS', 256, 1, 100_000),
    jwksMaxAgeSeconds: integer(get, 'KEYFOB_JWKS_MAX_AGE_SECONDS', 60, 0, 86_400),
    signIn: parseSignIn(get),
    consoleDir: get('KEYFOB_CONSOLE_DIR') === undefined ? undefined : resolve(get('KEYFOB_CONSOLE_DIR')!),
    port,
    host,
    baseUrl,
    dataDir,
    database,
    secret,
    previousSecret,
    tokenPrefix,
    acceptedPrefixes,
    bootstrapAdmin: adminUser !== undefined && adminPassword !== undefined ? Object.freeze({ username: adminUser, password: adminPassword }) : undefined,
    logLevel,
    accessLog: accessLog === 'on',
    trustProxy,
    sessionTtlSeconds: integer(get, 'KEYFOB_SESSION_TTL_HOURS', 12, 1, 24 * 90) * 3600,
    usageFlushIntervalMs: integer(get, 'KEYFOB_USAGE_FLUSH_MS', DEFAULT_USAGE_FLUSH_MS, 10, 600_000),
    usageRetentionDays: integer(get, 'KEYFOB_USAGE_RETENTION_DAYS', 90, 1, 3650),
    bodyLimitBytes: integer(get, 'KEYFOB_BODY_LIMIT_BYTES', 65536, 1024, 10 * 1024 * 1024),
    githubScanningKeys: scanningKeys(get('KEYFOB_GITHUB_SCANNING_KEYS')),
    maxHeaderBytes: integer(get, 'KEYFOB_MAX_HEADER_BYTES', 16_384, 1024, 1024 * 1024),
    mail: parseMail(get, baseUrl),
    jobIntervalMs: integer(get, 'KEYFOB_JOB_INTERVAL_MS', 5000, 50, 600_000),
    webhookTimeoutMs: integer(get, 'KEYFOB_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    limits: Object.freeze({
      rules: limitRules(get),
      redisUrl: get('REDIS_URL') || undefined,
      redisPrefix: get('KEYFOB_REDIS_PREFIX') ?? 'keyfob:limit:',
    }),
  });
}

/**
 * Whose X-Forwarded-For to believe: `false`, a number of proxy hops, or a comma list of proxy
 * addresses/CIDRs. `true` (every peer) is refused: any client could then name its own address
 * and walk past the abuse limits and IP allow-lists.
 */
function parseTrustProxy(raw: string | undefined): false | number | string {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') throw new ConfigError('KEYFOB_TRUST_PROXY', 'true would trust X-Forwarded-For from every client; name the proxies (addresses or CIDRs, comma-separated) or the number of proxy hops');
  if (/^\d{1,2}$/.test(raw)) return Number(raw);
  for (const part of raw.split(',').map((p) => p.trim())) {
    if (!/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(part) && !['loopback', 'linklocal', 'uniquelocal'].includes(part)) {
      throw new ConfigError('KEYFOB_TRUST_PROXY', `"${part}" is not an address or CIDR (or loopback, linklocal, uniquelocal)`);
    }
  }
  return raw;
}

/** Email notices are sent only when an SMTP server is named. */
function parseMail(get: (n: string) => string | undefined, baseUrl: string): Config['mail'] {
  const raw = get('KEYFOB_SMTP_URL');
  const from = get('KEYFOB_MAIL_FROM');
  if (raw === undefined || raw === '') {
    if (from !== undefined) throw new ConfigError('KEYFOB_MAIL_FROM', 'has no effect without KEYFOB_SMTP_URL');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the value: it may hold the SMTP password.
    throw new ConfigError('KEYFOB_SMTP_URL', 'is not a URL; use smtp://user:pass@host:587 or smtps://…');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError('KEYFOB_SMTP_URL', 'must start with smtp:// or smtps://');
  const sender = from ?? `keyfob <keyfob@${new URL(baseUrl).hostname}>`;
  if (!/^[^\r\n]*@[^\r\n]+$/.test(sender)) throw new ConfigError('KEYFOB_MAIL_FROM', 'must be an email address, optionally with a name: keyfob <keyfob@example.com>');
  return Object.freeze({ smtpUrl: raw, from: sender });
}

/** GitHub's secret-scanning keys: a path to the JSON GitHub publishes, or that JSON itself. */
function scanningKeys(raw: string | undefined): ScanningKeys | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let text = raw;
  if (!raw.trim().startsWith('{')) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (error) {
      throw new ConfigError('KEYFOB_GITHUB_SCANNING_KEYS', `cannot read ${raw}: ${(error as Error).message}`);
    }
  }
  try {
    return parseScanningKeys(text);
  } catch (error) {
    throw new ConfigError('KEYFOB_GITHUB_SCANNING_KEYS', (error as Error).message);
  }
}

/** The environment variable and default of each abuse limit (README's configuration table). */
export const LIMIT_SETTINGS: Readonly<Record<LimitName, { readonly env: string; readonly fallback: string }>> = Object.freeze({
  authFailures: { env: 'KEYFOB_LIMIT_AUTH_FAILURES', fallback: '60/1m' },
  loginFailuresPerUser: { env: 'KEYFOB_LIMIT_LOGIN_PER_USER', fallback: '10/15m' },
  loginFailuresPerIp: { env: 'KEYFOB_LIMIT_LOGIN_PER_IP', fallback: '50/15m' },
  tokenCreations: { env: 'KEYFOB_LIMIT_TOKEN_CREATIONS', fallback: '60/1h' },
  exchanges: { env: 'KEYFOB_LIMIT_EXCHANGES', fallback: '120/1m' },
  credentialReports: { env: 'KEYFOB_LIMIT_CREDENTIAL_REPORTS', fallback: '1000/1h' },
});

function limitRules(get: (n: string) => string | undefined): LimitRules {
  const rules = {} as Record<LimitName, LimitRule | null>;
  for (const name of LIMIT_NAMES) {
    const { env, fallback } = LIMIT_SETTINGS[name];
    const rule = parseLimitRule(get(env) ?? fallback);
    if (rule === undefined) throw new ConfigError(env, `must be "<count>/<window>" such as 60/1m, 10/15m or 100/1h, or off; got "${get(env)}"`);
    rules[name] = rule;
  }
  return Object.freeze(rules);
}

/** The prefix of new tokens and every prefix that verifies (the current one first). */
function tokenPrefixes(get: (n: string) => string | undefined): { tokenPrefix: string; acceptedPrefixes: readonly string[] } {
  const tokenPrefix = get('KEYFOB_TOKEN_PREFIX') ?? DEFAULT_TOKEN_PREFIX;
  if (!isValidPrefix(tokenPrefix)) throw new ConfigError('KEYFOB_TOKEN_PREFIX', 'must match [a-z][a-z0-9_]{1,15}');
  const legacy = (get('KEYFOB_LEGACY_TOKEN_PREFIXES') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of legacy) {
    if (!isValidPrefix(p)) throw new ConfigError('KEYFOB_LEGACY_TOKEN_PREFIXES', `"${p}" must match [a-z][a-z0-9_]{1,15}`);
  }
  return { tokenPrefix, acceptedPrefixes: Object.freeze([tokenPrefix, ...legacy.filter((p) => p !== tokenPrefix)]) };
}

/** The accepted token prefixes alone, for tools that need nothing else (`keyfob scan`). */
export function loadAcceptedPrefixes(env: Env = process.env): readonly string[] {
  return tokenPrefixes(settingsOf(env)).acceptedPrefixes;
}

/** A reader of settings: the environment over the KEYFOB_CONFIG file; empty counts as unset. */
function settingsOf(env: Env): (name: string) => string | undefined {
  const merged = { ...readConfigFile(env['KEYFOB_CONFIG']), ...definedOnly(env) };
  return (name) => {
    const v = merged[name];
    return v === undefined || v === '' ? undefined : v;
  };
}

function definedOnly(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function readConfigFile(path: string | undefined): Record<string, string> {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('KEYFOB_CONFIG', `cannot read ${path}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('KEYFOB_CONFIG', 'must be a JSON object of variable names to values');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v !== null && v !== undefined) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

function integer(get: (n: string) => string | undefined, name: string, fallback: number, min: number, max: number): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** D11: an http:// issuer is allowed for loopback hosts only. */
function parseBaseUrl(raw: string): string {
  return parseServiceUrl('KEYFOB_BASE_URL', raw).toString().replace(/\/+$/, '');
}

function parseDatabase(get: (n: string) => string | undefined, dataDir: string): DatabaseConfig {
  const url = get('DATABASE_URL');
  if (url === undefined || url.startsWith('sqlite:') || url.startsWith('file:')) {
    const file = url === undefined ? join(dataDir, 'keyfob.db') : resolve(url.replace(/^(sqlite|file):(\/\/)?/, ''));
    return { kind: 'sqlite', file, cacheMb: integer(get, 'KEYFOB_SQLITE_CACHE_MB', 32, 1, 65_536) };
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError('DATABASE_URL', 'must be postgres://… or sqlite:<path>');
  return {
    kind: 'postgres',
    url,
    poolMax: integer(get, 'KEYFOB_DB_POOL_MAX', 10, 1, 500),
    connectTimeoutMs: integer(get, 'KEYFOB_DB_CONNECT_TIMEOUT_MS', 3000, 100, 120_000),
    statementTimeoutMs: integer(get, 'KEYFOB_DB_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000),
  };
}
