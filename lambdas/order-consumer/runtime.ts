// Builds the consumer's dependencies once per execution environment: PostgreSQL pool, Redis
// client behind the Powertools idempotency cache layer, the dead-letter producer, and one
// circuit breaker per dependency. The Lambda handler and local runs share it.
import type { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { createClient } from '@redis/client';
import type { Producer } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { createPool } from '../shared/db/pool';
import { withClient } from '../shared/db/transaction';
import { encodeDeadLetter } from '../shared/dead-letter/message';
import type { ConsumerEnv, KafkaEnv, PgEnv, RedisClientEnv, RedisEnv } from '../shared/env';
import { createKafka, producerRetry } from '../shared/kafka/client';
import { KAFKA_CLIENTS, producerFor } from '../shared/kafka/clients';
import type { LogSink } from '../shared/log-sink';
import { METRICS, type MetricEmitter } from '../shared/metrics-catalog';
import { logger as defaultLogger, metrics } from '../shared/powertools';
import {
  type BreakerMetricsSink,
  breakers,
  breakerTelemetry,
  type CircuitBreaker,
} from '../shared/resilience/circuit-breaker';
import { applyBatch } from './apply-batch';
import type { ConsumerDeps, ConsumerOptions, ConsumerTelemetry } from './consumer';
import { guardedCacheClient, powertoolsGate, redisAttemptTracker } from './idempotency-gate';

/**
 * Delay before reconnect attempt `retries` (0 = first retry, as @redis/client counts): base
 * doubling per failed attempt up to cap (the stage config's `cache.reconnect`), with jitter
 * over the upper half of that ceiling so that many execution environments do not retry in
 * lockstep. It never gives up: the client keeps trying in the background while the consumer
 * runs with PostgreSQL alone, and is used again as soon as Redis answers.
 */
export function redisReconnectDelayMs(
  retries: number,
  reconnect: RedisClientEnv['reconnect'],
  random: () => number = Math.random,
): number {
  const n = Number.isSafeInteger(retries) && retries > 0 ? Math.min(retries, 30) : 0;
  const ceiling = Math.min(reconnect.capMs, reconnect.baseMs * 2 ** n);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function createRedis(env: RedisEnv, client: RedisClientEnv, password: string | undefined) {
  const socket = {
    host: env.host,
    port: env.port,
    // One connection attempt (TCP, and TLS on ElastiCache) gives up after this long.
    connectTimeout: client.connectTimeoutMs,
    // Called after every failed attempt and after a lost connection; a number is the delay
    // before the next attempt (false or an Error would stop reconnecting for good).
    reconnectStrategy: (retries: number) => redisReconnectDelayMs(retries, client.reconnect),
  };
  return createClient({
    // ElastiCache requires TLS in transit; the local Redis speaks plain TCP.
    socket: env.tls ? { ...socket, tls: true as const } : socket,
    // A command issued while the client is not connected is rejected at once ("The client is
    // offline", TRANSIENT) instead of waiting in the offline queue for a connection: the gate
    // then fails through the Redis breaker and PostgreSQL decides alone.
    disableOfflineQueue: true,
    ...(password ? { password } : {}),
  });
}

type Redis = ReturnType<typeof createRedis>;

/**
 * A warning that may repeat many times a second (a reconnect loop): the first is logged at
 * once, then at most one per `intervalMs`, carrying how many were suppressed in between.
 * `reset()` (the condition cleared) makes the next one log at once again.
 */
export function throttledWarning(
  logger: Pick<LogSink, 'warn'>,
  message: string,
  intervalMs: number,
  now: () => number = Date.now,
): { (fields: Record<string, unknown>): void; reset(): void } {
  let lastAt: number | undefined;
  let suppressed = 0;
  const warn = (fields: Record<string, unknown>) => {
    const at = now();
    if (lastAt !== undefined && at - lastAt < intervalMs) {
      suppressed++;
      return;
    }
    lastAt = at;
    logger.warn(message, suppressed > 0 ? { ...fields, suppressed } : fields);
    suppressed = 0;
  };
  warn.reset = () => {
    lastAt = undefined;
    suppressed = 0;
  };
  return warn;
}

/**
 * Starts connecting in the background; nothing waits for a connection. Until Redis answers,
 * every command fails fast (disableOfflineQueue) and the gate bypasses the cache; the client
 * reconnects with its reconnect backoff for as long as the runtime lives. Connection errors
 * are logged, throttled; none becomes an unhandled rejection.
 *
 * `firstAttempt` settles (never rejects) when the first attempt connected or failed, or after
 * the connect timeout plus the handshake margin (AUTH, HELLO): set-up waits for it so that a
 * healthy Redis serves the first batch (otherwise its records would fail "offline" during the
 * handshake and could open the Redis breaker, which alarms), while a Redis that refuses or does
 * not answer costs set-up at most that bound. Failures are logged at most once per
 * `errorLogIntervalMs`; close() lets commands in flight finish for `closeGraceMs`.
 */
function connectInBackground(
  redis: Redis,
  logger: LogSink,
  client: RedisClientEnv,
): { readonly firstAttempt: Promise<void>; close(): Promise<void> } {
  const firstAttemptBoundMs = client.connectTimeoutMs + client.handshakeMarginMs;
  let closing = false;
  let settleFirst: () => void = () => undefined;
  const firstAttempt = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, firstAttemptBoundMs);
    settleFirst = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const connectionError = throttledWarning(
    logger,
    'redis connection error; the idempotency cache is bypassed until redis answers',
    client.errorLogIntervalMs,
  );
  redis.on('error', (error: unknown) => {
    settleFirst();
    if (!closing) connectionError({ error });
  });
  redis.on('ready', () => {
    settleFirst();
    // A connection completing after close() (an attempt already in flight) is dropped.
    if (closing) {
      redis.destroy();
      return;
    }
    connectionError.reset();
    logger.info('redis connected; the idempotency cache is in use');
  });
  // Resolves once Redis first answers; rejects only when the client is closed while connecting
  // (the strategy never gives up).
  redis.connect().catch((error: unknown) => {
    if (!closing) logger.warn('redis stopped connecting', { error });
  });
  return {
    firstAttempt,
    async close() {
      closing = true;
      settleFirst();
      if (!redis.isReady) {
        // Never connected, or reconnecting: nothing to drain; stops the reconnect loop.
        redis.destroy();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        redis.close().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), client.closeGraceMs);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) redis.destroy();
    },
  };
}

export interface ConsumerRuntime {
  readonly deps: ConsumerDeps;
  readonly options: ConsumerOptions;
  readonly idempotencyConfig: IdempotencyConfig;
  readonly breakers: Readonly<Record<'postgres' | 'redis' | 'kafka', CircuitBreaker>>;
  close(): Promise<void>;
}

/** The consumer's events as metrics: the one mapping, for Lambda and local runs alike. */
export function consumerTelemetry(emit: MetricEmitter): Required<ConsumerTelemetry> {
  return {
    applied(_event, endToEndMs) {
      emit(METRICS.eventsProcessed, 'Count', 1);
      emit(METRICS.endToEndLatency, 'Milliseconds', Math.max(0, endToEndMs));
    },
    duplicate: () => emit(METRICS.duplicatesSkipped, 'Count', 1),
    deadLettered() {
      emit(METRICS.eventsFailed, 'Count', 1);
      emit(METRICS.deadLettered, 'Count', 1);
    },
    cacheBypassed: () => emit(METRICS.idempotencyCacheBypassed, 'Count', 1),
    chunkDuration: (ms) => emit(METRICS.eventProcessingDuration, 'Milliseconds', ms),
    outageWait: (ms) => emit(METRICS.dependencyOutageWait, 'Milliseconds', ms),
  };
}

export const powertoolsConsumerTelemetry: ConsumerTelemetry = consumerTelemetry(
  (name, unit, value) => metrics.addMetric(name, unit, value),
);

export async function createConsumerRuntime(options: {
  readonly pgEnv: PgEnv;
  readonly kafkaEnv: KafkaEnv;
  readonly redisEnv: RedisEnv;
  readonly consumerEnv: ConsumerEnv;
  /** The ElastiCache AUTH token (read from Secrets Manager by the caller), if any. */
  readonly redisPassword?: string;
  readonly logger?: LogSink;
  readonly telemetry?: ConsumerTelemetry;
  readonly pool?: Pool;
  /** Overrides of the breaker numbers (tests shorten the open period). */
  readonly breakerOptions?: { readonly failureThreshold?: number; readonly openMs?: number };
  /** Where breaker transitions are counted (default: the Powertools metrics). */
  readonly breakerMetrics?: BreakerMetricsSink;
}): Promise<ConsumerRuntime> {
  const logger = options.logger ?? defaultLogger;
  const { consumerEnv, redisEnv } = options;
  const breakersOf = breakers(['postgres', 'redis', 'kafka'] as const, {
    ...consumerEnv.breaker,
    ...options.breakerOptions,
    onStateChange: breakerTelemetry(logger, options.breakerMetrics ?? metrics),
  });
  const pool = options.pool ?? createPool(options.pgEnv, { applicationName: 'order-consumer' });
  const client = KAFKA_CLIENTS.orderConsumer;
  const producer: Producer = producerFor(
    createKafka({
      clientId: client.clientId,
      connection: options.kafkaEnv,
      client: consumerEnv.kafkaClient,
      logger,
    }),
    client,
    // Bounded: a dead-letter send must end within the invocation (validateStageConfig).
    { retry: producerRetry(consumerEnv.producerRetry) },
  );
  // Redis down at cold start must not hold the consumer: set-up waits only for the outcome of
  // the first attempt (bounded); PostgreSQL decides alone until Redis answers.
  const redis = createRedis(redisEnv, consumerEnv.redisClient, options.redisPassword);
  const redisConnection = connectInBackground(redis, logger, consumerEnv.redisClient);
  try {
    await Promise.all([producer.connect(), redisConnection.firstAttempt]);
  } catch (error) {
    // The next invocation sets up anew: this client must not reconnect in the background.
    await redisConnection.close();
    throw error;
  }

  const { gate, config } = powertoolsGate(
    guardedCacheClient(redis, breakersOf.redis),
    consumerEnv.idempotencyTtlSeconds,
  );
  // Through the breaker: a failing probe counts towards opening it like a failed apply.
  const withPostgres = <T>(work: (client: PoolClient) => Promise<T>): Promise<T> =>
    breakersOf.postgres.execute(() => withClient(pool, work));
  const deps: ConsumerDeps = {
    gate,
    apply: (events) =>
      withPostgres((client) =>
        applyBatch(client, events, { maxAttempts: consumerEnv.applyAttempts }),
      ),
    probe: async () => {
      await withPostgres((client) => client.query('SELECT 1'));
    },
    deadLetter: async (messages) => {
      await breakersOf.kafka.execute(() =>
        producer.send({
          topic: consumerEnv.deadLetterTopic,
          acks: -1,
          messages: messages.map((m) => {
            const encoded = encodeDeadLetter(m);
            return { key: encoded.key, value: encoded.value, headers: encoded.headers };
          }),
        }),
      );
    },
    attempts: redisAttemptTracker(redis, logger, consumerEnv.attemptCountTtlSeconds),
    logger,
    telemetry: options.telemetry ?? powertoolsConsumerTelemetry,
  };
  return {
    deps,
    idempotencyConfig: config,
    breakers: breakersOf,
    options: {
      chunkSize: consumerEnv.chunkSize,
      retryAttempts: consumerEnv.retryAttempts,
      retryBackoff: consumerEnv.retryBackoff,
      maxDeliveryAttempts: consumerEnv.maxDeliveryAttempts,
      outageWait: consumerEnv.outageWait,
      stopBeforeTimeoutMs: consumerEnv.stopBeforeTimeoutMs,
    },
    async close() {
      await Promise.allSettled([
        producer.disconnect(),
        redisConnection.close(),
        options.pool ? Promise.resolve() : pool.end(),
      ]);
    },
  };
}
