import type { LimitRules } from '../domain/rate-limits.js';
import type { ScanningKeys } from '../crypto/github-scanning-keys.js';
import type { SignInConfig } from './sign-in.js';

export type DatabaseConfig =
  | {
      readonly kind: 'sqlite';
      readonly file: string;
      /** SQLite page cache of the connection, in MiB (KEYFOB_SQLITE_CACHE_MB). */
      readonly cacheMb: number;
    }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      readonly poolMax: number;
      readonly connectTimeoutMs: number;
      readonly statementTimeoutMs: number;
    };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Everything keyfob reads from its environment, parsed and checked once, then frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** Issuer and public base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  /** Master secret from KEYFOB_SECRET; undefined means "use or create the data-folder secret file". */
  readonly secret: string | undefined;
  readonly previousSecret: string | undefined;
  readonly tokenPrefix: string;
  /** The current prefix first, then older ones that keep verifying. */
  readonly acceptedPrefixes: readonly string[];
  readonly bootstrapAdmin: { readonly username: string; readonly password: string } | undefined;
  readonly logLevel: LogLevel;
  /** One log line per request (Fastify's request logging); off by default: it costs the hot path. */
  readonly accessLog: boolean;
  /** Whose X-Forwarded-For is believed: nobody, a number of hops, or proxy addresses/CIDRs. */
  readonly trustProxy: false | number | string;
  readonly sessionTtlSeconds: number;
  readonly usageFlushIntervalMs: number;
  /** Per-token use counts (by hour and outcome) are kept this long. */
  readonly usageRetentionDays: number;
  readonly bodyLimitBytes: number;
  /** GitHub's secret-scanning public keys (KEYFOB_GITHUB_SCANNING_KEYS); the partner endpoint answers 404 without them. */
  readonly githubScanningKeys: ScanningKeys | undefined;
  /** Request line and headers; more is answered 431 by node:http. */
  readonly maxHeaderBytes: number;
  /** SMTP server and sender of email notices; undefined: no email is sent (KEYFOB_SMTP_URL unset). */
  readonly mail: { readonly smtpUrl: string; readonly from: string } | undefined;
  /** How often each instance tries to take the event-jobs lease and, holding it, fans out and sends. */
  readonly jobIntervalMs: number;
  /** How long a webhook receiver has to answer one delivery. */
  readonly webhookTimeoutMs: number;
  /** Abuse limits, counted in memory or, with REDIS_URL, in Redis shared by every instance. */
  readonly limits: { readonly rules: LimitRules; readonly redisUrl: string | undefined; readonly redisPrefix: string };
  /** Algorithm of new signing keys for exchanged JWTs. */
  readonly jwtAlg: 'EdDSA' | 'ES256';
  /** How long resource servers may cache the JWKS; a next key must be published this long before it signs. */
  readonly jwksMaxAgeSeconds: number;
  /** Per-instance verification cache; `enabled: false` (KEYFOB_VERIFY_CACHE=off) gives a zero window. */
  readonly verifyCache: { readonly enabled: boolean; readonly ttlMs: number; readonly maxEntries: number; readonly maxBytes: number };
  /** Heartbeat period of the PostgreSQL invalidation listener. */
  readonly heartbeatMs: number;
  readonly maxPendingLookups: number;
  /** Password sign-in switch and OpenID Connect providers. */
  readonly signIn: SignInConfig;
  /** Folder of the built console; undefined: the @keyfob/console package's dist. */
  readonly consoleDir: string | undefined;
}
