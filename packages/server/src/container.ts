import type { Kysely } from 'kysely';
import type { Config } from './config/config.js';
import { assertDurablePostgres } from './db/durability.js';
import { deriveKeys } from './crypto/keys.js';
import { readOrCreateSecretFile } from './crypto/secret-file.js';
import { TokenHasher } from './crypto/token-hasher.js';
import { createDatabase } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import type { DB } from './db/types.js';
import { SYSTEM_ACTOR } from './domain/models.js';
import { Metrics } from './http/metrics.js';
import { Store } from './repositories/store.js';
import { systemClock, type Clock } from './services/clock.js';
import { AuditService } from './services/audit-service.js';
import { ClientService } from './services/client-service.js';
import { ExchangedTokens } from './services/exchanged-tokens.js';
import { Introspection } from './services/introspection.js';
import { SigningKeyService } from './services/signing-key-service.js';
import { TokenExchange } from './services/token-exchange.js';
import { SealedBox } from './crypto/sealed-box.js';
import { VerificationCache } from './cache/verification-cache.js';
import { LocalBus, LocalCaches, PgNotifyBus, type InvalidationBus } from './cache/invalidation-bus.js';
import { ClientAuthCache } from './cache/client-auth-cache.js';
import { PatService } from './services/pat-service.js';
import { PolicyService } from './services/policy-service.js';
import { AuditBatcher } from './services/audit-batcher.js';
import { ScopeService } from './services/scope-service.js';
import { SessionService } from './services/session-service.js';
import { LeakResponse } from './services/leak-response.js';
import { RateLimiter } from './services/rate-limiter.js';
import { RedisCounterStore } from './services/redis-counter-store.js';
import { UsageRecorder } from './services/usage-recorder.js';
import { UsageReports } from './services/usage-reports.js';
import { UserService } from './services/user-service.js';
import { BackgroundJobs } from './services/background-jobs.js';
import { EventFanout } from './services/event-fanout.js';
import { smtpMailer } from './services/mailer.js';
import { NoticeSender } from './services/notice-sender.js';
import { ExpiryReminders } from './services/reminders.js';
import { IdleExpiry } from './services/idle-expiry.js';
import { WebhookSender } from './services/webhook-sender.js';
import { WebhookService } from './services/webhook-service.js';
import { Verifier } from './services/verifier.js';
import { OidcAccounts } from './services/oidc-accounts.js';
import { OidcClients } from './services/oidc-clients.js';
import { OidcSignIn } from './services/oidc-sign-in.js';
import { SignInFlows } from './services/sign-in-flows.js';

export interface Container {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly hasher: TokenHasher;
  readonly usage: UsageRecorder;
  readonly verifier: Verifier;
  readonly users: UserService;
  readonly sessions: SessionService;
  readonly pats: PatService;
  readonly policy: PolicyService;
  readonly scopes: ScopeService;
  readonly audit: AuditService;
  readonly clients: ClientService;
  readonly signingKeys: SigningKeyService;
  readonly exchange: TokenExchange;
  readonly introspection: Introspection;
  readonly cache: VerificationCache | undefined;
  readonly bus: InvalidationBus;
  readonly limiter: RateLimiter;
  readonly leaks: LeakResponse;
  readonly webhooks: WebhookService;
  /** Fans out events to webhooks and email, on the instance holding the lease. */
  readonly jobs: BackgroundJobs;
  readonly oidc: OidcSignIn;
  readonly usageReports: UsageReports;
  /** Flushes pending usage and closes the store. */
  close(): Promise<void>;
}

export interface ContainerOptions {
  readonly clock?: Clock;
  /** Use this database instead of opening one from the config (tests). */
  readonly db?: Kysely<DB>;
  readonly onBackgroundError?: (error: unknown) => void;
  readonly onBusState?: (state: 'listening' | 'lost', detail?: unknown) => void;
  /** false: no timer runs the event jobs (tests call `jobs.runOnce()` on their own clock). */
  readonly startJobs?: boolean;
}

/**
 * The composition root: opens and migrates the store, then builds every service with explicit
 * dependencies. Nothing here listens on a port.
 */
export async function createContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const clock = options.clock ?? systemClock;
  const keys = deriveKeys(config.secret ?? readOrCreateSecretFile(config.dataDir));
  const previousKeys = config.previousSecret ? deriveKeys(config.previousSecret) : undefined;
  const hasher = new TokenHasher(keys, previousKeys);

  const { db, reader, writer, poolStats } = options.db ? { db: options.db, reader: undefined, writer: undefined, poolStats: undefined } : createDatabase(config.database);
  try {
    if (config.database.kind === 'postgres') await assertDurablePostgres(db);
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy().catch(() => {});
    throw error;
  }
  const store = new Store(db, config.database.kind, reader, writer);
  const metrics = new Metrics();
  const usage = new UsageRecorder({
    store, flushIntervalMs: config.usageFlushIntervalMs, retentionMs: config.usageRetentionDays * 86_400_000, now: () => clock.now(),
    ...(options.onBackgroundError ? { onError: options.onBackgroundError } : {}),
  });
  const scopes = new ScopeService({ store, clock });
  const cache = config.verifyCache.enabled ? new VerificationCache(config.verifyCache) : undefined;
  // KEYFOB_VERIFY_CACHE=off means no window at all, for client secrets as for tokens.
  const clientCache = config.verifyCache.enabled ? new ClientAuthCache({ ttlMs: config.verifyCache.ttlMs, maxEntries: 1000 }) : undefined;
  const caches = new LocalCaches(cache, clientCache);
  const bus: InvalidationBus =
    config.database.kind === 'postgres'
      ? new PgNotifyBus({
          url: config.database.url,
          caches,
          heartbeatMs: config.heartbeatMs,
          onStateChange: (state, detail) => {
            metrics.listenerUp.set(state === 'listening' ? 1 : 0);
            options.onBusState?.(state, detail);
          },
        })
      : new LocalBus(caches);
  const policy = new PolicyService({ store, clock, bus, cacheTtlMs: config.verifyCache.enabled ? config.verifyCache.ttlMs : 0 });
  caches.onPolicyChange(() => policy.forget());
  const limiter = await createLimiter(config, clock, () => metrics.rateLimitStoreErrors.inc());
  const users = new UserService({ store, clock, bus });
  const audit = new AuditService({ store });
  const sessions = new SessionService({ store, clock, sessionKey: keys.sessionKey, ttlSeconds: config.sessionTtlSeconds, limiter, passwordLogin: config.signIn.passwordLogin });
  const oidc = new OidcSignIn({
    providers: config.signIn.oidcProviders,
    passwordLogin: config.signIn.passwordLogin,
    baseUrl: config.baseUrl,
    flows: new SignInFlows({ box: new SealedBox(keys, previousKeys, 'signInFlowKey'), clock }),
    clients: new OidcClients({ baseUrl: config.baseUrl, clock }),
    accounts: new OidcAccounts({ store, clock, bus }),
    sessions,
  });
  const pats = new PatService({ store, clock, hasher, policy, scopes, tokenPrefix: config.tokenPrefix, bus, limiter });
  const verifier = new Verifier({
    store,
    cache,
    bus,
    maxPendingLookups: config.maxPendingLookups,
    clock,
    hasher,
    usage,
    acceptedPrefixes: config.acceptedPrefixes,
    onStoreLatency: (seconds) => metrics.verificationDuration.observe(seconds),
  });
  metrics.observeCache(cache);
  metrics.observePool(poolStats);
  metrics.observeVerifications(verifier.stats);

  const sealedBox = new SealedBox(keys, previousKeys);
  const signingKeys = new SigningKeyService({ store, clock, sealedBox, alg: config.jwtAlg, jwksMaxAgeSeconds: config.jwksMaxAgeSeconds });
  const exchangedTokens = new ExchangedTokens({ keys: signingKeys, clock, issuer: config.baseUrl });
  const clients = new ClientService({ store, clock, hasher, scopes, bus, cache: clientCache });
  const exchange = new TokenExchange({ store, clock, verifier, policy, limiter, tokens: exchangedTokens, audit: new AuditBatcher(store), onOutcome: (outcome) => metrics.exchanges.inc(outcome) });
  const introspection = new Introspection({
    store, clock, verifier, pats, tokens: exchangedTokens, issuer: config.baseUrl, acceptedPrefixes: config.acceptedPrefixes,
    onOutcome: (outcome) => metrics.introspections.inc(outcome),
  });

  const leaks = new LeakResponse({ verifier, pats, acceptedPrefixes: config.acceptedPrefixes });
  const usageReports = new UsageReports({ store, clock });

  const mailer = config.mail ? smtpMailer(config.mail.smtpUrl, config.mail.from) : undefined;
  const jobs = new BackgroundJobs({
    store,
    clock,
    intervalMs: config.jobIntervalMs,
    reminders: new ExpiryReminders({ store, clock }),
    idle: new IdleExpiry({ store, clock, policy, pats }),
    fanout: new EventFanout({ store, clock, mailEnabled: mailer !== undefined, consoleUrl: config.baseUrl }),
    webhooks: new WebhookSender({ store, clock, sealedBox, timeoutMs: config.webhookTimeoutMs, userAgent: 'keyfob-webhooks/1', onAttempt: (outcome) => metrics.webhookAttempts.inc({ outcome }) }),
    notices: mailer && new NoticeSender({ store, clock, mailer, onSent: (outcome) => metrics.emails.inc({ outcome }), onUnreachable: () => metrics.emails.inc({ outcome: 'unreachable' }) }),
    ...(options.onBackgroundError ? { onError: options.onBackgroundError } : {}),
  });
  const webhooks = new WebhookService({ store, clock, sealedBox, onQueued: () => jobs.nudge() });

  await scopes.ensureBuiltins();
  await signingKeys.ensureKeys();
  await bus.start();
  if (config.bootstrapAdmin && (await users.setupNeeded())) {
    await users.setup(SYSTEM_ACTOR, { username: config.bootstrapAdmin.username, password: config.bootstrapAdmin.password });
  }
  usage.start();
  if (options.startJobs !== false) jobs.start();

  let closed: Promise<void> | undefined;
  return {
    config, clock, store, metrics, hasher, usage, verifier, users, sessions, pats, policy, scopes, audit,
    clients, signingKeys, exchange, introspection, cache, bus, limiter, leaks, webhooks, jobs, oidc, usageReports,
    close() {
      closed ??= (async () => {
        await usage.stop();
        await jobs.stop();
        mailer?.close();
        await bus.stop();
        await limiter.close();
        await store.destroy();
      })();
      return closed;
    },
  };
}

/** Counts in Redis when REDIS_URL is set (shared by every instance), else in this process. */
async function createLimiter(config: Config, clock: Clock, onStoreError: () => void): Promise<RateLimiter> {
  const { rules, redisUrl, redisPrefix } = config.limits;
  if (redisUrl === undefined) return new RateLimiter({ rules, clock });
  const store = new RedisCounterStore({ url: redisUrl, prefix: redisPrefix });
  // Not fatal when Redis is down at start: counts stay in this process until it answers.
  await store.connect();
  return new RateLimiter({ rules, clock, store, onStoreError });
}
