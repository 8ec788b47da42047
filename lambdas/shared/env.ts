// The one place that reads environment variables. Parsers are pure (take an env record) so
// they are unit-testable; the get* accessors parse process.env once per execution environment.
// Each section is parsed on first use, so a function only fails on the variables it needs.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type EnvRecord = Readonly<Record<string, string | undefined>>;

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

export type KafkaEnv =
  | { readonly auth: 'none'; readonly brokers: readonly string[] }
  | { readonly auth: 'iam'; readonly clusterArn: string; readonly region: string };

export interface PgEnv {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly iamAuth: boolean;
  /** Needed to sign RDS IAM tokens; undefined when IAM auth is off and AWS_REGION is unset. */
  readonly region: string | undefined;
  readonly poolMax: number;
}

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

function oneOf<T extends string>(
  env: EnvRecord,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new EnvError(name, `must be one of ${allowed.join('|')}, got "${value}"`);
  }
  return value as T;
}

function int(env: EnvRecord, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new EnvError(name, `must be an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new EnvError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: EnvRecord, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new EnvError(name, `must be "true" or "false", got "${value}"`);
}

/** Primitive readers for function-specific settings parsed next to their function. */
export { int as envInt, raw as envString };

// --- section parsers (pure) --------------------------------------------------------------

export function parseStage(env: EnvRecord): Stage {
  return oneOf(env, 'STAGE', STAGES, 'local');
}

export function parseObservabilityEnv(env: EnvRecord): ObservabilityEnv {
  const stage = parseStage(env);
  const level = raw(env, 'POWERTOOLS_LOG_LEVEL')?.toUpperCase();
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new EnvError(
      'POWERTOOLS_LOG_LEVEL',
      `must be one of ${LOG_LEVELS.join('|')}, got "${level}"`,
    );
  }
  return {
    stage,
    serviceName: raw(env, 'POWERTOOLS_SERVICE_NAME') ?? 'order-pipeline',
    // Same shape as the CDK stage config (`OrderPipeline/<stage>`), so local runs line up.
    metricsNamespace: raw(env, 'POWERTOOLS_METRICS_NAMESPACE') ?? `OrderPipeline/${stage}`,
    logLevel: level as LogLevelName | undefined,
  };
}

export function parseBrokerList(value: string, variable = 'KAFKA_BROKERS'): string[] {
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
  const auth = oneOf(env, 'KAFKA_AUTH', ['iam', 'none'] as const, 'none');
  if (auth === 'none') {
    return { auth, brokers: parseBrokerList(raw(env, 'KAFKA_BROKERS') ?? '127.0.0.1:9092') };
  }
  const clusterArn = required(env, 'KAFKA_CLUSTER_ARN', 'when KAFKA_AUTH=iam');
  if (!/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+/.test(clusterArn)) {
    throw new EnvError('KAFKA_CLUSTER_ARN', `is not an MSK cluster ARN: "${clusterArn}"`);
  }
  return { auth, clusterArn, region: required(env, 'AWS_REGION', 'when KAFKA_AUTH=iam') };
}

export function parsePgEnv(env: EnvRecord): PgEnv {
  const iamAuth = bool(env, 'PG_IAM_AUTH', false);
  return {
    host: raw(env, 'PGHOST') ?? '127.0.0.1',
    port: int(env, 'PGPORT', 5432, 1, 65535),
    database: raw(env, 'PGDATABASE') ?? 'test',
    user: raw(env, 'PGUSER') ?? 'postgres',
    iamAuth,
    region: iamAuth ? required(env, 'AWS_REGION', 'when PG_IAM_AUTH=true') : raw(env, 'AWS_REGION'),
    // Small on purpose: one Lambda environment handles one event at a time, behind RDS Proxy.
    poolMax: int(env, 'PG_POOL_MAX', 2, 1, 100),
  };
}

export interface RedisEnv {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** Secrets Manager secret holding the AUTH token (ElastiCache); none locally. */
  readonly authSecretArn: string | undefined;
}

export function parseRedisEnv(env: EnvRecord): RedisEnv {
  return {
    host: raw(env, 'REDIS_HOST') ?? '127.0.0.1',
    port: int(env, 'REDIS_PORT', 6379, 1, 65535),
    tls: bool(env, 'REDIS_TLS', false),
    authSecretArn: raw(env, 'REDIS_AUTH_SECRET_ARN'),
  };
}

export interface ConsumerEnv {
  readonly deadLetterTopic: string;
  /** Records per PostgreSQL group commit (DESIGN §3: batches of ~100). */
  readonly chunkSize: number;
  readonly retryAttempts: number;
  readonly maxDeliveryAttempts: number;
  readonly idempotencyTtlSeconds: number;
}

export function parseConsumerEnv(env: EnvRecord): ConsumerEnv {
  return {
    deadLetterTopic: raw(env, 'DLQ_TOPIC') ?? 'order-events-dlq',
    chunkSize: int(env, 'CONSUMER_CHUNK_SIZE', 100, 1, 10_000),
    retryAttempts: int(env, 'CONSUMER_RETRY_ATTEMPTS', 2, 0, 10),
    maxDeliveryAttempts: int(env, 'CONSUMER_MAX_DELIVERY_ATTEMPTS', 3, 1, 100),
    idempotencyTtlSeconds: int(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 60, 30 * 86_400),
  };
}

export interface RelayEnv {
  readonly topic: string;
  /** Rows claimed, published and marked per transaction (DESIGN §3: batches of ~1,000). */
  readonly batchSize: number;
  /** Polling fallback: NOTIFY wakes the relay at once, a missed notification waits this long. */
  readonly pollIntervalMs: number;
  readonly publishedRetentionHours: number;
  /** Stop looping when less than this remains of the Lambda invocation. */
  readonly stopBeforeTimeoutMs: number;
}

export function parseRelayEnv(env: EnvRecord): RelayEnv {
  return {
    topic: raw(env, 'ORDER_EVENTS_TOPIC') ?? 'order-events',
    batchSize: int(env, 'OUTBOX_BATCH_SIZE', 1_000, 1, 10_000),
    pollIntervalMs: int(env, 'OUTBOX_POLL_INTERVAL_MS', 1_000, 10, 600_000),
    publishedRetentionHours: int(env, 'OUTBOX_PUBLISHED_RETENTION_HOURS', 72, 1, 24 * 365),
    stopBeforeTimeoutMs: int(env, 'RELAY_STOP_BEFORE_TIMEOUT_MS', 5_000, 0, 600_000),
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

export function parseMigrationsDir(env: EnvRecord): string {
  const explicit = raw(env, 'MIGRATIONS_DIR');
  if (explicit !== undefined) return explicit;
  // In Lambda the CDK copies the folder next to the bundle.
  const taskRoot = raw(env, 'LAMBDA_TASK_ROOT');
  return taskRoot !== undefined ? join(taskRoot, 'migrations') : repoMigrationsDir();
}

// --- cached accessors for process.env ----------------------------------------------------

const cache = new Map<string, unknown>();

function cached<T>(key: string, parse: (env: EnvRecord) => T): T {
  if (!cache.has(key)) cache.set(key, parse(process.env));
  return cache.get(key) as T;
}

export const getObservabilityEnv = (): ObservabilityEnv =>
  cached('observability', parseObservabilityEnv);
export const getKafkaEnv = (): KafkaEnv => cached('kafka', parseKafkaEnv);
export const getPgEnv = (): PgEnv => cached('pg', parsePgEnv);
export const getMigrationsDir = (): string => cached('migrationsDir', parseMigrationsDir);
export const getRelayEnv = (): RelayEnv => cached('relay', parseRelayEnv);

/** Tests only: forget parsed values so a changed process.env is read again. */
export function resetEnvCache(): void {
  cache.clear();
}
