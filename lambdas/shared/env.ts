// The environment contract: the one module that names every variable, reads them (pure parsers
// over an env record, so they are unit-testable) and writes them (the CDK stacks and the local
// runs build each function's environment through the *Environment writers below).
//
// Every setting of how the pipeline behaves (sizes, counts, delays, limits, topic names) comes
// from the stage config (lib/config/stage-config.ts) through the writers, and is required
// everywhere, locally too: a reader with its own copy of a value could drift from the config.
// Only where the services are (PostgreSQL host, port, database and user, Redis host and port,
// the broker list) and the observability names have local defaults, matching the local
// services; deployed (STAGE other than local, or inside Lambda) those are required as well.

import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type EnvRecord = Readonly<Record<string, string | undefined>>;

/** Every variable the functions read, by meaning. Lambda itself sets the `lambda*` ones. */
export const ENV = {
  stage: 'STAGE',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  region: 'AWS_REGION',
  lambdaFunctionName: 'AWS_LAMBDA_FUNCTION_NAME',
  lambdaTaskRoot: 'LAMBDA_TASK_ROOT',
  kafkaAuth: 'KAFKA_AUTH',
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaConnectTimeoutMs: 'KAFKA_CONNECT_TIMEOUT_MS',
  orderEventsTopic: 'ORDER_EVENTS_TOPIC',
  deadLetterTopic: 'DLQ_TOPIC',
  pgHost: 'PGHOST',
  pgPort: 'PGPORT',
  pgDatabase: 'PGDATABASE',
  pgUser: 'PGUSER',
  pgIamAuth: 'PG_IAM_AUTH',
  pgPoolMax: 'PG_POOL_MAX',
  pgConnectTimeoutMs: 'PG_CONNECT_TIMEOUT_MS',
  pgIdleTimeoutMs: 'PG_IDLE_TIMEOUT_MS',
  pgSecretArn: 'PG_SECRET_ARN',
  nodeExtraCaCerts: 'NODE_EXTRA_CA_CERTS',
  redisHost: 'REDIS_HOST',
  redisPort: 'REDIS_PORT',
  redisTls: 'REDIS_TLS',
  redisAuthSecretArn: 'REDIS_AUTH_SECRET_ARN',
  redisConnectTimeoutMs: 'REDIS_CONNECT_TIMEOUT_MS',
  redisReconnectBaseMs: 'REDIS_RECONNECT_BASE_MS',
  redisReconnectCapMs: 'REDIS_RECONNECT_CAP_MS',
  redisHandshakeMarginMs: 'REDIS_HANDSHAKE_MARGIN_MS',
  redisErrorLogIntervalMs: 'REDIS_ERROR_LOG_INTERVAL_MS',
  redisCloseGraceMs: 'REDIS_CLOSE_GRACE_MS',
  redisAuthMaxAgeSeconds: 'REDIS_AUTH_MAX_AGE_SECONDS',
  breakerFailureThreshold: 'BREAKER_FAILURE_THRESHOLD',
  breakerWindowMs: 'BREAKER_WINDOW_MS',
  breakerOpenMs: 'BREAKER_OPEN_MS',
  consumerChunkSize: 'CONSUMER_CHUNK_SIZE',
  consumerRetryAttempts: 'CONSUMER_RETRY_ATTEMPTS',
  consumerMaxDeliveryAttempts: 'CONSUMER_MAX_DELIVERY_ATTEMPTS',
  consumerRetryBaseMs: 'CONSUMER_RETRY_BASE_MS',
  consumerRetryCapMs: 'CONSUMER_RETRY_CAP_MS',
  consumerOutageWaitBaseMs: 'CONSUMER_OUTAGE_WAIT_BASE_MS',
  consumerOutageWaitCapMs: 'CONSUMER_OUTAGE_WAIT_CAP_MS',
  consumerStopBeforeTimeoutMs: 'CONSUMER_STOP_BEFORE_TIMEOUT_MS',
  consumerProducerRetries: 'CONSUMER_PRODUCER_RETRIES',
  consumerProducerRetryInitialMs: 'CONSUMER_PRODUCER_RETRY_INITIAL_MS',
  consumerProducerRetryMaxMs: 'CONSUMER_PRODUCER_RETRY_MAX_MS',
  consumerApplyAttempts: 'CONSUMER_APPLY_ATTEMPTS',
  consumerAttemptCountTtlSeconds: 'CONSUMER_ATTEMPT_COUNT_TTL_SECONDS',
  idempotencyTtlSeconds: 'IDEMPOTENCY_TTL_SECONDS',
  outboxBatchSize: 'OUTBOX_BATCH_SIZE',
  outboxPollIntervalMs: 'OUTBOX_POLL_INTERVAL_MS',
  outboxPublishedRetentionHours: 'OUTBOX_PUBLISHED_RETENTION_HOURS',
  orderEventsMaxMessageBytes: 'ORDER_EVENTS_MAX_MESSAGE_BYTES',
  processedEventsRetentionHours: 'PROCESSED_EVENTS_RETENTION_HOURS',
  relayStopBeforeTimeoutMs: 'RELAY_STOP_BEFORE_TIMEOUT_MS',
  relayFailureBaseMs: 'RELAY_FAILURE_BACKOFF_BASE_MS',
  relayFailureCapMs: 'RELAY_FAILURE_BACKOFF_CAP_MS',
  relaySendRetryBaseMs: 'RELAY_SEND_RETRY_BASE_MS',
  relaySendRetryCapMs: 'RELAY_SEND_RETRY_CAP_MS',
  outboxRetentionEveryMs: 'OUTBOX_RETENTION_EVERY_MS',
  outboxRetentionBatchSize: 'OUTBOX_RETENTION_BATCH_SIZE',
  outboxRetentionBudgetMs: 'OUTBOX_RETENTION_BUDGET_MS',
  triageMaxRedrives: 'TRIAGE_MAX_REDRIVES',
  triageMaxProcessingFailureRedrives: 'TRIAGE_MAX_PROCESSING_FAILURE_REDRIVES',
  triageRedriveBaseDelayMs: 'TRIAGE_REDRIVE_BASE_DELAY_MS',
  triageRedriveMaxDelayMs: 'TRIAGE_REDRIVE_MAX_DELAY_MS',
  triageRedriveJitterPercent: 'TRIAGE_REDRIVE_JITTER_PERCENT',
  triageStopBeforeTimeoutMs: 'TRIAGE_STOP_BEFORE_TIMEOUT_MS',
  triageOutageWaitBaseMs: 'TRIAGE_OUTAGE_WAIT_BASE_MS',
  triageOutageWaitCapMs: 'TRIAGE_OUTAGE_WAIT_CAP_MS',
  triageOutageLogEvery: 'TRIAGE_OUTAGE_LOG_EVERY',
  triageProducerRetries: 'TRIAGE_PRODUCER_RETRIES',
  triageProducerRetryInitialMs: 'TRIAGE_PRODUCER_RETRY_INITIAL_MS',
  triageProducerRetryMaxMs: 'TRIAGE_PRODUCER_RETRY_MAX_MS',
  migrationsDir: 'MIGRATIONS_DIR',
  migrateLockTimeoutMs: 'MIGRATE_LOCK_TIMEOUT_MS',
  apiMaxBodyBytes: 'ORDER_API_MAX_BODY_BYTES',
  apiMaxArrayItems: 'ORDER_API_MAX_ARRAY_ITEMS',
} as const;

export const STAGES = ['dev', 'prod', 'localstack', 'local'] as const;
export type Stage = (typeof STAGES)[number];

export const LOG_LEVELS = [
  'TRACE',
  'DEBUG',
  'INFO',
  'WARN',
  'ERROR',
  'SILENT',
  'CRITICAL',
] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export class EnvError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Environment variable ${variable}: ${message}`);
    this.name = 'EnvError';
  }
}

export interface ObservabilityEnv {
  readonly stage: Stage;
  readonly serviceName: string;
  readonly metricsNamespace: string;
  /** Undefined lets Powertools apply its own precedence (e.g. Lambda advanced logging). */
  readonly logLevel: LogLevelName | undefined;
}

/**
 * Where the brokers are and how to sign in. Under IAM the brokers are MSK's SASL/IAM bootstrap
 * brokers, which the streaming stack resolves once per deployment (GetBootstrapBrokers in a
 * custom resource) and writes into KAFKA_BROKERS: nothing looks them up at cold start.
 */
export type KafkaEnv =
  | { readonly auth: 'none'; readonly brokers: readonly string[] }
  | { readonly auth: 'iam'; readonly brokers: readonly string[]; readonly region: string };

/** Where PostgreSQL is and how to sign in: enough for a single client or a tool's own pool. */
export interface PgEndpointEnv {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly iamAuth: boolean;
  /** Needed to sign RDS IAM tokens; undefined when IAM auth is off and AWS_REGION is unset. */
  readonly region: string | undefined;
  /**
   * The secret holding this user's password (the admin's, for migrations only); the password is
   * read from Secrets Manager when connecting, never put in the environment.
   */
  readonly secretArn?: string | undefined;
}

/** How the functions' PostgreSQL clients wait (the stage config's `database`). */
export interface PgTimeouts {
  /** A new connection (TCP, TLS, login) gives up after this long. */
  readonly connectTimeoutMs: number;
  /** A pooled connection idle this long is closed. */
  readonly idleTimeoutMs: number;
}

/**
 * A pool's PostgreSQL settings: the endpoint and its size. Every function's carries the stage
 * config's client timing too (`FunctionPgEnv`, what parsePgEnv reads); a tool that sizes its own
 * pool from the endpoint alone leaves the timing to pg's defaults.
 */
export interface PgEnv extends PgEndpointEnv {
  readonly poolMax: number;
  readonly timeouts?: PgTimeouts;
}

/** A function's PostgreSQL settings: the endpoint, the pool size and the client timing. */
export type FunctionPgEnv = PgEnv & { readonly timeouts: PgTimeouts };

// --- primitive readers -------------------------------------------------------------------

function raw(env: EnvRecord, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function required(env: EnvRecord, name: string, why: string): string {
  const value = raw(env, name);
  if (value === undefined) throw new EnvError(name, `is required ${why}`);
  return value;
}

/**
 * Deployed: STAGE names a deployed stage, or the process runs in Lambda. There a variable the
 * stacks must write has no default: its absence is a deployment fault.
 */
export function isDeployed(env: EnvRecord): boolean {
  const stage = raw(env, ENV.stage);
  return (
    (stage !== undefined && stage !== 'local') || raw(env, ENV.lambdaFunctionName) !== undefined
  );
}

/** The value, or the local default; deployed, a missing value fails naming the variable. */
function setting(env: EnvRecord, name: string): string | undefined {
  const value = raw(env, name);
  if (value === undefined && isDeployed(env)) {
    throw new EnvError(
      name,
      `is required in a deployed function (STAGE=${raw(env, ENV.stage) ?? 'unset'}); the stack did not set it`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  env: EnvRecord,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = setting(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new EnvError(name, `must be one of ${allowed.join('|')}, got "${value}"`);
  }
  return value as T;
}

/** A port of a local service: the local default, or required when deployed. */
function port(env: EnvRecord, name: string, fallback: number): number {
  const value = setting(env, name);
  return value === undefined ? fallback : integer(name, value, 1, 65_535);
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new EnvError(name, `must be an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new EnvError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** A value only the stage config knows (the writers below carry it): required locally too. */
function configured(env: EnvRecord, name: string): string {
  const value = raw(env, name);
  if (value === undefined) {
    throw new EnvError(name, 'is required; it comes from the stage config (lib/config)');
  }
  return value;
}

/** min and max only validate: the value itself always comes from the stage config. */
function configuredInt(env: EnvRecord, name: string, min: number, max: number): number {
  return integer(name, configured(env, name), min, max);
}

/** A backoff read from its two variables; the base may not exceed the cap. */
function configuredBackoff(
  env: EnvRecord,
  names: { readonly base: string; readonly cap: string },
  min: number,
  max: number,
): { readonly baseMs: number; readonly capMs: number } {
  const baseMs = configuredInt(env, names.base, min, max);
  const capMs = configuredInt(env, names.cap, min, max);
  if (capMs < baseMs) {
    throw new EnvError(names.cap, `must not be below ${names.base} (${baseMs}), got ${capMs}`);
  }
  return { baseMs, capMs };
}

function bool(env: EnvRecord, name: string, fallback: boolean): boolean {
  const value = setting(env, name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new EnvError(name, `must be "true" or "false", got "${value}"`);
}

/** A string setting: the local default, or required when deployed. */
function str(env: EnvRecord, name: string, fallback: string): string {
  return setting(env, name) ?? fallback;
}

// --- section parsers (pure) --------------------------------------------------------------

export function parseStage(env: EnvRecord): Stage {
  return oneOf(env, ENV.stage, STAGES, 'local');
}

export function parseObservabilityEnv(env: EnvRecord): ObservabilityEnv {
  const stage = parseStage(env);
  const level = raw(env, ENV.logLevel)?.toUpperCase();
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new EnvError(ENV.logLevel, `must be one of ${LOG_LEVELS.join('|')}, got "${level}"`);
  }
  return {
    stage,
    serviceName: str(env, ENV.serviceName, 'order-pipeline'),
    // Same shape as the CDK stage config (`OrderPipeline/<stage>`), so local runs line up.
    metricsNamespace: str(env, ENV.metricsNamespace, `OrderPipeline/${stage}`),
    logLevel: level as LogLevelName | undefined,
  };
}

export function parseBrokerList(value: string, variable: string = ENV.kafkaBrokers): string[] {
  const brokers = value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new EnvError(variable, 'lists no brokers');
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b)) {
      throw new EnvError(variable, `broker "${b}" is not host:port`);
    }
  }
  return brokers;
}

export function parseKafkaEnv(env: EnvRecord): KafkaEnv {
  const auth = oneOf(env, ENV.kafkaAuth, ['iam', 'none'] as const, 'none');
  if (auth === 'none') {
    return { auth, brokers: parseBrokerList(str(env, ENV.kafkaBrokers, '127.0.0.1:9092')) };
  }
  // No local default under IAM: MSK's brokers are always written by the stack (or the operator).
  const brokers = parseBrokerList(required(env, ENV.kafkaBrokers, 'when KAFKA_AUTH=iam'));
  return { auth, brokers, region: required(env, ENV.region, 'when KAFKA_AUTH=iam') };
}

/** The endpoint alone: for tools and single clients that size no function pool. */
export function parsePgEndpointEnv(env: EnvRecord): PgEndpointEnv {
  const iamAuth = bool(env, ENV.pgIamAuth, false);
  const secretArn = raw(env, ENV.pgSecretArn);
  if (iamAuth && secretArn !== undefined) {
    throw new EnvError(
      ENV.pgSecretArn,
      'must not be set with PG_IAM_AUTH=true (one way to log in)',
    );
  }
  if (!iamAuth && secretArn === undefined && isDeployed(env)) {
    throw new EnvError(
      ENV.pgSecretArn,
      'is required deployed without PG_IAM_AUTH=true: no other login',
    );
  }
  if (secretArn !== undefined && isDeployed(env)) {
    required(
      env,
      ENV.nodeExtraCaCerts,
      'with PG_SECRET_ARN: TLS to the instance needs the RDS CAs',
    );
  }
  return {
    ...(secretArn !== undefined ? { secretArn } : {}),
    host: str(env, ENV.pgHost, '127.0.0.1'),
    port: port(env, ENV.pgPort, 5432),
    database: str(env, ENV.pgDatabase, 'test'),
    user: str(env, ENV.pgUser, 'postgres'),
    iamAuth,
    region: iamAuth ? required(env, ENV.region, 'when PG_IAM_AUTH=true') : raw(env, ENV.region),
  };
}

export function parsePgEnv(env: EnvRecord): FunctionPgEnv {
  return {
    ...parsePgEndpointEnv(env),
    poolMax: configuredInt(env, ENV.pgPoolMax, 1, 100),
    timeouts: {
      connectTimeoutMs: configuredInt(env, ENV.pgConnectTimeoutMs, 100, 60_000),
      idleTimeoutMs: configuredInt(env, ENV.pgIdleTimeoutMs, 1_000, 3_600_000),
    },
  };
}

/** How the functions' kafkajs clients connect (the stage config's `kafka.client`). */
export interface KafkaClientEnv {
  /** A broker connection (TCP, and TLS on MSK) gives up after this long. */
  readonly connectTimeoutMs: number;
}

export function parseKafkaClientEnv(env: EnvRecord): KafkaClientEnv {
  return { connectTimeoutMs: configuredInt(env, ENV.kafkaConnectTimeoutMs, 100, 60_000) };
}

/**
 * A kafkajs producer's retries of a failed send: `retries` more attempts, waiting about
 * `initialMs` before the first and doubling up to `maxMs`.
 */
export interface ProducerRetryEnv {
  readonly retries: number;
  readonly initialMs: number;
  readonly maxMs: number;
}

function configuredProducerRetry(
  env: EnvRecord,
  names: { readonly retries: string; readonly initial: string; readonly max: string },
): ProducerRetryEnv {
  const { baseMs, capMs } = configuredBackoff(
    env,
    { base: names.initial, cap: names.max },
    1,
    600_000,
  );
  return { retries: configuredInt(env, names.retries, 0, 100), initialMs: baseMs, maxMs: capMs };
}

export interface RedisEnv {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** Secrets Manager secret holding the AUTH token (ElastiCache); none locally. */
  readonly authSecretArn: string | undefined;
}

export function parseRedisEnv(env: EnvRecord): RedisEnv {
  const tls = bool(env, ENV.redisTls, false);
  return {
    host: str(env, ENV.redisHost, '127.0.0.1'),
    port: port(env, ENV.redisPort, 6379),
    tls,
    // ElastiCache here always has TLS and AUTH together; the local Redis has neither.
    authSecretArn: tls
      ? required(env, ENV.redisAuthSecretArn, `when ${ENV.redisTls}=true (ElastiCache AUTH)`)
      : raw(env, ENV.redisAuthSecretArn),
  };
}

/** The circuit breakers of a function: failures within a window open one; open this long. */
export interface BreakerEnv {
  readonly failureThreshold: number;
  readonly windowMs: number;
  readonly openMs: number;
}

export function parseBreakerEnv(env: EnvRecord): BreakerEnv {
  return {
    failureThreshold: configuredInt(env, ENV.breakerFailureThreshold, 1, 1_000),
    windowMs: configuredInt(env, ENV.breakerWindowMs, 1_000, 3_600_000),
    openMs: configuredInt(env, ENV.breakerOpenMs, 100, 3_600_000),
  };
}

export function breakerEnvironment(b: BreakerEnv): Environment {
  return {
    [ENV.breakerFailureThreshold]: String(b.failureThreshold),
    [ENV.breakerWindowMs]: String(b.windowMs),
    [ENV.breakerOpenMs]: String(b.openMs),
  };
}

export interface ConsumerEnv {
  readonly deadLetterTopic: string;
  /** Records per PostgreSQL group commit (docs/ARCHITECTURE.md §4: batches of ~100). */
  readonly chunkSize: number;
  readonly retryAttempts: number;
  /** Backoff between in-invocation retries of a TRANSIENT failure. */
  readonly retryBackoff: { readonly baseMs: number; readonly capMs: number };
  readonly maxDeliveryAttempts: number;
  readonly idempotencyTtlSeconds: number;
  /** Backoff between checks while a dependency is down (the batch waits in the invocation). */
  readonly outageWait: { readonly baseMs: number; readonly capMs: number };
  /** The batch is handed back to the mapping this long before the invocation times out. */
  readonly stopBeforeTimeoutMs: number;
  readonly breaker: BreakerEnv;
  /** The Redis client of the idempotency fast path. */
  readonly redisClient: RedisClientEnv;
  readonly kafkaClient: KafkaClientEnv;
  /** The dead-letter producer's retries: bounded, a send must end within the invocation. */
  readonly producerRetry: ProducerRetryEnv;
  /** Runs of a batch's transaction when a concurrent batch created one of its orders first. */
  readonly applyAttempts: number;
  /** How long Redis keeps a record's delivery count. */
  readonly attemptCountTtlSeconds: number;
}

/** How the consumer's Redis client connects (the stage config's `cache`). */
export interface RedisClientEnv {
  /** One connection attempt (TCP, and TLS on ElastiCache) gives up after this long. */
  readonly connectTimeoutMs: number;
  /** Delay before reconnect attempt n: about min(cap, base · 2^n), never giving up. */
  readonly reconnect: { readonly baseMs: number; readonly capMs: number };
  /** Set-up waits for the first attempt this long beyond the connect timeout (AUTH, HELLO). */
  readonly handshakeMarginMs: number;
  /** A persisting connection failure is logged again at most this often. */
  readonly errorLogIntervalMs: number;
  /** Closing, commands in flight get this long to finish before the connection is dropped. */
  readonly closeGraceMs: number;
  /** How long the AUTH token read from Secrets Manager is cached. */
  readonly authSecretMaxAgeSeconds: number;
}

export function parseConsumerEnv(env: EnvRecord): ConsumerEnv {
  return {
    deadLetterTopic: configured(env, ENV.deadLetterTopic),
    chunkSize: configuredInt(env, ENV.consumerChunkSize, 1, 10_000),
    retryAttempts: configuredInt(env, ENV.consumerRetryAttempts, 0, 10),
    retryBackoff: configuredBackoff(
      env,
      { base: ENV.consumerRetryBaseMs, cap: ENV.consumerRetryCapMs },
      1,
      60_000,
    ),
    maxDeliveryAttempts: configuredInt(env, ENV.consumerMaxDeliveryAttempts, 1, 100),
    idempotencyTtlSeconds: configuredInt(env, ENV.idempotencyTtlSeconds, 60, 30 * 86_400),
    outageWait: configuredBackoff(
      env,
      { base: ENV.consumerOutageWaitBaseMs, cap: ENV.consumerOutageWaitCapMs },
      1,
      60_000,
    ),
    stopBeforeTimeoutMs: configuredInt(env, ENV.consumerStopBeforeTimeoutMs, 0, 900_000),
    breaker: parseBreakerEnv(env),
    redisClient: {
      connectTimeoutMs: configuredInt(env, ENV.redisConnectTimeoutMs, 100, 60_000),
      reconnect: configuredBackoff(
        env,
        { base: ENV.redisReconnectBaseMs, cap: ENV.redisReconnectCapMs },
        1,
        60_000,
      ),
      handshakeMarginMs: configuredInt(env, ENV.redisHandshakeMarginMs, 0, 60_000),
      errorLogIntervalMs: configuredInt(env, ENV.redisErrorLogIntervalMs, 1, 3_600_000),
      closeGraceMs: configuredInt(env, ENV.redisCloseGraceMs, 0, 60_000),
      authSecretMaxAgeSeconds: configuredInt(env, ENV.redisAuthMaxAgeSeconds, 1, 86_400),
    },
    kafkaClient: parseKafkaClientEnv(env),
    producerRetry: configuredProducerRetry(env, {
      retries: ENV.consumerProducerRetries,
      initial: ENV.consumerProducerRetryInitialMs,
      max: ENV.consumerProducerRetryMaxMs,
    }),
    applyAttempts: configuredInt(env, ENV.consumerApplyAttempts, 1, 10),
    attemptCountTtlSeconds: configuredInt(env, ENV.consumerAttemptCountTtlSeconds, 60, 30 * 86_400),
  };
}

export interface RelayEnv {
  readonly topic: string;
  /** Rows claimed, published and marked per transaction (docs/ARCHITECTURE.md §4: batches of ~1,000). */
  readonly batchSize: number;
  /** Polling fallback: NOTIFY wakes the relay at once, a missed notification waits this long. */
  readonly pollIntervalMs: number;
  readonly publishedRetentionHours: number;
  /** The topic's max.message.bytes: sends are cut to stay within it. */
  readonly maxMessageBytes: number;
  /** The relay also purges the consumer's processed_events rows older than this. */
  readonly processedEventsRetentionHours: number;
  /** Stop looping when less than this remains of the Lambda invocation. */
  readonly stopBeforeTimeoutMs: number;
  /** Between relay iterations after a failed one (broker or database unavailable). */
  readonly failureBackoff: { readonly baseMs: number; readonly capMs: number };
  /** kafkajs's own retries of an idempotent send (unbounded), backing off within these. */
  readonly sendRetry: { readonly baseMs: number; readonly capMs: number };
  readonly kafkaClient: KafkaClientEnv;
  /** Old outbox and processed_events rows are deleted at most this often... */
  readonly retentionEveryMs: number;
  /** ...this many per statement... */
  readonly retentionBatchSize: number;
  /** ...for at most this long per table and pass. */
  readonly retentionBudgetMs: number;
}

export function parseRelayEnv(env: EnvRecord): RelayEnv {
  return {
    topic: configured(env, ENV.orderEventsTopic),
    batchSize: configuredInt(env, ENV.outboxBatchSize, 1, 10_000),
    pollIntervalMs: configuredInt(env, ENV.outboxPollIntervalMs, 10, 600_000),
    publishedRetentionHours: configuredInt(env, ENV.outboxPublishedRetentionHours, 1, 24 * 365),
    // Up to the broker's default socket.request.max.bytes: no larger request gets through.
    maxMessageBytes: configuredInt(env, ENV.orderEventsMaxMessageBytes, 1_024, 104_857_600),
    processedEventsRetentionHours: configuredInt(
      env,
      ENV.processedEventsRetentionHours,
      1,
      24 * 3_650,
    ),
    stopBeforeTimeoutMs: configuredInt(env, ENV.relayStopBeforeTimeoutMs, 0, 600_000),
    failureBackoff: configuredBackoff(
      env,
      { base: ENV.relayFailureBaseMs, cap: ENV.relayFailureCapMs },
      1,
      60_000,
    ),
    sendRetry: configuredBackoff(
      env,
      { base: ENV.relaySendRetryBaseMs, cap: ENV.relaySendRetryCapMs },
      1,
      60_000,
    ),
    kafkaClient: parseKafkaClientEnv(env),
    retentionEveryMs: configuredInt(env, ENV.outboxRetentionEveryMs, 1_000, 86_400_000),
    retentionBatchSize: configuredInt(env, ENV.outboxRetentionBatchSize, 1, 100_000),
    retentionBudgetMs: configuredInt(env, ENV.outboxRetentionBudgetMs, 1, 600_000),
  };
}

export interface OrderApiEnv {
  readonly maxBodyBytes: number;
  readonly maxArrayItems: number;
}

export function parseOrderApiEnv(env: EnvRecord): OrderApiEnv {
  return {
    // Lambda takes at most 6 MB synchronously; the stage config keeps it under Kafka's 1 MiB.
    maxBodyBytes: configuredInt(env, ENV.apiMaxBodyBytes, 1, 6_000_000),
    maxArrayItems: configuredInt(env, ENV.apiMaxArrayItems, 1, 100_000),
  };
}

export interface TriageEnv {
  /** Redrives of a TRANSIENT message before it is parked. */
  readonly maxRedrives: number;
  /**
   * Redrives of a PROCESSING_FAILURE message. Fewer: an unclassified error is usually a bug
   * that fails the same way every time; a few redrives still cover a cause the taxonomy does
   * not recognise yet.
   */
  readonly maxProcessingFailureRedrives: number;
  readonly redriveBaseDelayMs: number;
  readonly redriveMaxDelayMs: number;
  /** Up to this share (%) of a redrive delay is removed at random. */
  readonly redriveJitterPercent: number;
  /** Kept free at the end of an invocation for the last produce/insert and the response. */
  readonly stopBeforeTimeoutMs: number;
  /** Topics triage may produce to; a dead letter naming another source topic is parked. */
  readonly redriveTopics: readonly string[];
  /** The redrive topic's `max.message.bytes`: a larger original record is parked instead. */
  readonly redriveMaxMessageBytes: number;
  /** Backoff while PostgreSQL or the broker cannot be reached (waited out in the invocation). */
  readonly outageWait: { readonly baseMs: number; readonly capMs: number };
  /** While waiting out an outage, the first check and every this-many-th are logged. */
  readonly outageLogEvery: number;
  readonly breaker: BreakerEnv;
  readonly kafkaClient: KafkaClientEnv;
  /** The redrive producer's retries: bounded, a send must end within the invocation. */
  readonly producerRetry: ProducerRetryEnv;
}

export function parseTriageEnv(env: EnvRecord): TriageEnv {
  const delays = configuredBackoff(
    env,
    { base: ENV.triageRedriveBaseDelayMs, cap: ENV.triageRedriveMaxDelayMs },
    0,
    3_600_000,
  );
  return {
    maxRedrives: configuredInt(env, ENV.triageMaxRedrives, 0, 100),
    maxProcessingFailureRedrives: configuredInt(
      env,
      ENV.triageMaxProcessingFailureRedrives,
      0,
      100,
    ),
    redriveBaseDelayMs: delays.baseMs,
    redriveMaxDelayMs: delays.capMs,
    // Up to 50 %: a later redrive then never comes sooner than an earlier one.
    redriveJitterPercent: configuredInt(env, ENV.triageRedriveJitterPercent, 0, 50),
    stopBeforeTimeoutMs: configuredInt(env, ENV.triageStopBeforeTimeoutMs, 0, 600_000),
    outageWait: configuredBackoff(
      env,
      { base: ENV.triageOutageWaitBaseMs, cap: ENV.triageOutageWaitCapMs },
      1,
      60_000,
    ),
    outageLogEvery: configuredInt(env, ENV.triageOutageLogEvery, 1, 1_000),
    breaker: parseBreakerEnv(env),
    kafkaClient: parseKafkaClientEnv(env),
    producerRetry: configuredProducerRetry(env, {
      retries: ENV.triageProducerRetries,
      initial: ENV.triageProducerRetryInitialMs,
      max: ENV.triageProducerRetryMaxMs,
    }),
    // Same variable the relay publishes to: the only topic the consumer dead-letters from.
    redriveTopics: [configured(env, ENV.orderEventsTopic)],
    // The relay's variable: the stage config's order-events limit.
    redriveMaxMessageBytes: configuredInt(env, ENV.orderEventsMaxMessageBytes, 1_024, 104_857_600),
  };
}

/** The repo's migrations folder, resolved from this file (tsx/vitest run the sources). */
export function repoMigrationsDir(): string {
  const here: string | undefined = import.meta.url;
  // Loaded as CommonJS there is no import.meta.url; scripts run from the repo root.
  return here !== undefined
    ? fileURLToPath(new URL('../migrate/migrations', here))
    : resolve('lambdas/migrate/migrations');
}

export interface MigrateEnv {
  /** PostgreSQL's lock_timeout while migrating: the migration lock and DDL's table locks. */
  readonly lockTimeoutMs: number;
}

export function parseMigrateEnv(env: EnvRecord): MigrateEnv {
  return { lockTimeoutMs: configuredInt(env, ENV.migrateLockTimeoutMs, 100, 3_600_000) };
}

export function parseMigrationsDir(env: EnvRecord): string {
  const explicit = raw(env, ENV.migrationsDir);
  if (explicit !== undefined) return explicit;
  // In Lambda the CDK copies the folder next to the bundle.
  const taskRoot = raw(env, ENV.lambdaTaskRoot);
  return taskRoot !== undefined ? join(taskRoot, 'migrations') : repoMigrationsDir();
}

// --- each function's environment -------------------------------------------------------

/** What each function reads: parsing its whole environment at cold start fails fast. */
export const FUNCTION_ENV = {
  orderApi: (env: EnvRecord) => ({
    observability: parseObservabilityEnv(env),
    pg: parsePgEnv(env),
    api: parseOrderApiEnv(env),
  }),
  outboxRelay: (env: EnvRecord) => ({
    observability: parseObservabilityEnv(env),
    pg: parsePgEnv(env),
    kafka: parseKafkaEnv(env),
    relay: parseRelayEnv(env),
  }),
  orderConsumer: (env: EnvRecord) => ({
    observability: parseObservabilityEnv(env),
    pg: parsePgEnv(env),
    kafka: parseKafkaEnv(env),
    redis: parseRedisEnv(env),
    consumer: parseConsumerEnv(env),
  }),
  dlqTriage: (env: EnvRecord) => ({
    observability: parseObservabilityEnv(env),
    pg: parsePgEnv(env),
    kafka: parseKafkaEnv(env),
    triage: parseTriageEnv(env),
  }),
  migrate: (env: EnvRecord) => ({
    observability: parseObservabilityEnv(env),
    pg: parsePgEnv(env),
    migrate: parseMigrateEnv(env),
    migrationsDir: parseMigrationsDir(env),
  }),
  kafkaTopics: (env: EnvRecord) => ({
    observability: parseObservabilityEnv(env),
    kafka: parseKafkaEnv(env),
    kafkaClient: parseKafkaClientEnv(env),
  }),
} as const;

export type FunctionName = keyof typeof FUNCTION_ENV;
export type FunctionEnv<F extends FunctionName> = ReturnType<(typeof FUNCTION_ENV)[F]>;

// --- writers: what the stacks (and local runs) set ---------------------------------------
// Values may be CDK tokens (strings that resolve at deploy time); numbers are written as
// decimal strings the readers above parse back.

export type Environment = Record<string, string>;

export function observabilityEnvironment(o: {
  readonly stage: Stage;
  readonly serviceName: string;
  readonly metricsNamespace: string;
  readonly logLevel?: LogLevelName;
}): Environment {
  return {
    [ENV.stage]: o.stage,
    [ENV.serviceName]: o.serviceName,
    [ENV.metricsNamespace]: o.metricsNamespace,
    ...(o.logLevel !== undefined ? { [ENV.logLevel]: o.logLevel } : {}),
  };
}

/**
 * Lambda sets AWS_REGION itself, so the IAM variant needs only the brokers: MSK's
 * BootstrapBrokerStringSaslIam as GetBootstrapBrokers returns it (comma-separated host:port),
 * in the stacks a deploy-time token.
 */
export function kafkaEnvironment(
  k:
    | { readonly auth: 'iam'; readonly bootstrapBrokers: string }
    | { readonly auth: 'none'; readonly brokers: readonly string[] },
): Environment {
  return k.auth === 'iam'
    ? { [ENV.kafkaAuth]: 'iam', [ENV.kafkaBrokers]: k.bootstrapBrokers }
    : { [ENV.kafkaAuth]: 'none', [ENV.kafkaBrokers]: k.brokers.join(',') };
}

export function pgEnvironment(p: Omit<FunctionPgEnv, 'region'>): Environment {
  return {
    [ENV.pgHost]: p.host,
    [ENV.pgPort]: String(p.port),
    [ENV.pgDatabase]: p.database,
    [ENV.pgUser]: p.user,
    [ENV.pgIamAuth]: String(p.iamAuth),
    ...(p.secretArn !== undefined
      ? { [ENV.pgSecretArn]: p.secretArn, [ENV.nodeExtraCaCerts]: LAMBDA_CA_BUNDLE }
      : {}),
    ...pgPoolEnvironment(p.poolMax, p.timeouts),
  };
}

/**
 * Node.js 20+ on Lambda trusts the RDS CAs only when pointed at this bundle (AWS Lambda
 * Developer Guide, "Building Lambda functions with Node.js"); RDS Proxy's certificate needs none.
 */
export const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/** The pool's settings alone: local runs add them to the local services' endpoint variables. */
export function pgPoolEnvironment(poolMax: number, timeouts: PgTimeouts): Environment {
  return {
    [ENV.pgPoolMax]: String(poolMax),
    [ENV.pgConnectTimeoutMs]: String(timeouts.connectTimeoutMs),
    [ENV.pgIdleTimeoutMs]: String(timeouts.idleTimeoutMs),
  };
}

export function kafkaClientEnvironment(k: KafkaClientEnv): Environment {
  return { [ENV.kafkaConnectTimeoutMs]: String(k.connectTimeoutMs) };
}

function producerRetryEnvironment(
  r: ProducerRetryEnv,
  names: { readonly retries: string; readonly initial: string; readonly max: string },
): Environment {
  return {
    [names.retries]: String(r.retries),
    [names.initial]: String(r.initialMs),
    [names.max]: String(r.maxMs),
  };
}

export function redisEnvironment(
  r: Omit<RedisEnv, 'authSecretArn'> & { readonly authSecretArn?: string | undefined },
): Environment {
  return {
    [ENV.redisHost]: r.host,
    [ENV.redisPort]: String(r.port),
    [ENV.redisTls]: String(r.tls),
    // The AUTH token itself is read from Secrets Manager at cold start, never put in env.
    ...(r.authSecretArn !== undefined ? { [ENV.redisAuthSecretArn]: r.authSecretArn } : {}),
  };
}

export function consumerEnvironment(c: ConsumerEnv): Environment {
  return {
    [ENV.deadLetterTopic]: c.deadLetterTopic,
    [ENV.consumerChunkSize]: String(c.chunkSize),
    [ENV.consumerRetryAttempts]: String(c.retryAttempts),
    [ENV.consumerMaxDeliveryAttempts]: String(c.maxDeliveryAttempts),
    [ENV.idempotencyTtlSeconds]: String(c.idempotencyTtlSeconds),
    [ENV.consumerRetryBaseMs]: String(c.retryBackoff.baseMs),
    [ENV.consumerRetryCapMs]: String(c.retryBackoff.capMs),
    [ENV.consumerOutageWaitBaseMs]: String(c.outageWait.baseMs),
    [ENV.consumerOutageWaitCapMs]: String(c.outageWait.capMs),
    [ENV.consumerStopBeforeTimeoutMs]: String(c.stopBeforeTimeoutMs),
    ...breakerEnvironment(c.breaker),
    [ENV.redisConnectTimeoutMs]: String(c.redisClient.connectTimeoutMs),
    [ENV.redisReconnectBaseMs]: String(c.redisClient.reconnect.baseMs),
    [ENV.redisReconnectCapMs]: String(c.redisClient.reconnect.capMs),
    [ENV.redisHandshakeMarginMs]: String(c.redisClient.handshakeMarginMs),
    [ENV.redisErrorLogIntervalMs]: String(c.redisClient.errorLogIntervalMs),
    [ENV.redisCloseGraceMs]: String(c.redisClient.closeGraceMs),
    [ENV.redisAuthMaxAgeSeconds]: String(c.redisClient.authSecretMaxAgeSeconds),
    ...kafkaClientEnvironment(c.kafkaClient),
    ...producerRetryEnvironment(c.producerRetry, {
      retries: ENV.consumerProducerRetries,
      initial: ENV.consumerProducerRetryInitialMs,
      max: ENV.consumerProducerRetryMaxMs,
    }),
    [ENV.consumerApplyAttempts]: String(c.applyAttempts),
    [ENV.consumerAttemptCountTtlSeconds]: String(c.attemptCountTtlSeconds),
  };
}

export function relayEnvironment(r: RelayEnv): Environment {
  return {
    [ENV.orderEventsTopic]: r.topic,
    [ENV.outboxBatchSize]: String(r.batchSize),
    [ENV.outboxPollIntervalMs]: String(r.pollIntervalMs),
    [ENV.outboxPublishedRetentionHours]: String(r.publishedRetentionHours),
    [ENV.orderEventsMaxMessageBytes]: String(r.maxMessageBytes),
    [ENV.processedEventsRetentionHours]: String(r.processedEventsRetentionHours),
    [ENV.relayStopBeforeTimeoutMs]: String(r.stopBeforeTimeoutMs),
    [ENV.relayFailureBaseMs]: String(r.failureBackoff.baseMs),
    [ENV.relayFailureCapMs]: String(r.failureBackoff.capMs),
    [ENV.relaySendRetryBaseMs]: String(r.sendRetry.baseMs),
    [ENV.relaySendRetryCapMs]: String(r.sendRetry.capMs),
    ...kafkaClientEnvironment(r.kafkaClient),
    [ENV.outboxRetentionEveryMs]: String(r.retentionEveryMs),
    [ENV.outboxRetentionBatchSize]: String(r.retentionBatchSize),
    [ENV.outboxRetentionBudgetMs]: String(r.retentionBudgetMs),
  };
}

export function orderApiEnvironment(a: OrderApiEnv): Environment {
  return {
    [ENV.apiMaxBodyBytes]: String(a.maxBodyBytes),
    [ENV.apiMaxArrayItems]: String(a.maxArrayItems),
  };
}

export function triageEnvironment(t: TriageEnv): Environment {
  const [topic, ...more] = t.redriveTopics;
  if (topic === undefined || more.length > 0) {
    throw new Error(`triage redrives to exactly one topic, got ${t.redriveTopics.length}`);
  }
  return {
    [ENV.orderEventsTopic]: topic,
    [ENV.triageMaxRedrives]: String(t.maxRedrives),
    [ENV.triageMaxProcessingFailureRedrives]: String(t.maxProcessingFailureRedrives),
    [ENV.triageRedriveBaseDelayMs]: String(t.redriveBaseDelayMs),
    [ENV.triageRedriveMaxDelayMs]: String(t.redriveMaxDelayMs),
    [ENV.triageRedriveJitterPercent]: String(t.redriveJitterPercent),
    [ENV.triageStopBeforeTimeoutMs]: String(t.stopBeforeTimeoutMs),
    [ENV.triageOutageWaitBaseMs]: String(t.outageWait.baseMs),
    [ENV.triageOutageWaitCapMs]: String(t.outageWait.capMs),
    [ENV.triageOutageLogEvery]: String(t.outageLogEvery),
    ...breakerEnvironment(t.breaker),
    ...kafkaClientEnvironment(t.kafkaClient),
    ...producerRetryEnvironment(t.producerRetry, {
      retries: ENV.triageProducerRetries,
      initial: ENV.triageProducerRetryInitialMs,
      max: ENV.triageProducerRetryMaxMs,
    }),
    [ENV.orderEventsMaxMessageBytes]: String(t.redriveMaxMessageBytes),
  };
}

export function migrateEnvironment(m: MigrateEnv): Environment {
  return { [ENV.migrateLockTimeoutMs]: String(m.lockTimeoutMs) };
}

// --- cached accessors for process.env ----------------------------------------------------

const cache = new Map<string, unknown>();

function cached<T>(key: string, parse: (env: EnvRecord) => T): T {
  if (!cache.has(key)) cache.set(key, parse(process.env));
  return cache.get(key) as T;
}

export const getObservabilityEnv = (): ObservabilityEnv =>
  cached('observability', parseObservabilityEnv);
export const getPgEnv = (): FunctionPgEnv => cached('pg', parsePgEnv);
export const getMigrationsDir = (): string => cached('migrationsDir', parseMigrationsDir);
/** A function's whole environment from process.env, parsed once per execution environment. */
export const getFunctionEnv = <F extends FunctionName>(name: F): FunctionEnv<F> =>
  cached(`function:${name}`, FUNCTION_ENV[name] as (env: EnvRecord) => FunctionEnv<F>);

/** Tests only: forget parsed values so a changed process.env is read again. */
export function resetEnvCache(): void {
  cache.clear();
}
