// Builds the consumer's dependencies once per execution environment: PostgreSQL pool, Redis
// client behind the Powertools idempotency cache layer, the dead-letter producer, and one
// circuit breaker per dependency. The Lambda handler and local runs share it.
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import { createClient } from '@redis/client';
import type { Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { createPool } from '../shared/db/pool';
import { encodeDeadLetter } from '../shared/dead-letter/message';
import type { ConsumerEnv, KafkaEnv, PgEnv, RedisEnv } from '../shared/env';
import { IdempotencyConflictError } from '../shared/errors/taxonomy';
import { createKafka } from '../shared/kafka/client';
import { KAFKA_CLIENTS, producerFor } from '../shared/kafka/clients';
import type { LogSink } from '../shared/log-sink';
import { METRICS } from '../shared/metrics-catalog';
import { logger as defaultLogger, metrics } from '../shared/powertools';
import {
  type BreakerMetricsSink,
  breakers,
  breakerTelemetry,
  type CircuitBreaker,
} from '../shared/resilience/circuit-breaker';
import { applyBatch } from './apply-batch';
import type {
  AttemptTracker,
  ConsumerDeps,
  ConsumerOptions,
  ConsumerTelemetry,
  GateResult,
  IdempotencyGate,
} from './consumer';
import { payloadHash } from './idempotency-key';

function connectRedis(env: RedisEnv, password: string | undefined) {
  const socket = { host: env.host, port: env.port, connectTimeout: 2_000 };
  return createClient({
    // ElastiCache requires TLS in transit; the local Redis speaks plain TCP.
    socket: env.tls ? { ...socket, tls: true as const } : socket,
    ...(password ? { password } : {}),
  });
}

type Redis = ReturnType<typeof connectRedis>;

export interface ConsumerRuntime {
  readonly deps: ConsumerDeps;
  readonly options: ConsumerOptions;
  readonly idempotencyConfig: IdempotencyConfig;
  readonly breakers: Readonly<Record<'postgres' | 'redis' | 'kafka', CircuitBreaker>>;
  close(): Promise<void>;
}

/** Redis calls through the breaker, in the shape the Powertools cache layer expects. */
function guardedCacheClient(redis: Redis, breaker: CircuitBreaker): CacheClient {
  return {
    get: (name) => breaker.execute(() => redis.get(name)),
    set: (name, value, options) =>
      // biome-ignore lint/suspicious/noExplicitAny: Powertools passes @redis/client's own SET options through
      breaker.execute(() => redis.set(name as string, value as string, options as any)),
    del: (keys) => breaker.execute(() => redis.del(keys)),
  };
}

interface StoredResult {
  readonly result: GateResult;
  readonly payloadHash: string;
}

/**
 * The Redis fast path on Powertools idempotency (cache layer, @redis/client). Payload
 * validation is done here rather than with `payloadValidationJmesPath`: in Powertools 2.35 the
 * cache layer drops the validation hash when it marks a record COMPLETED, so every repeat would
 * fail validation. The hash travels in the stored result instead.
 */
export function powertoolsGate(
  client: CacheClient,
  ttlSeconds: number,
): { gate: IdempotencyGate; config: IdempotencyConfig } {
  const config = new IdempotencyConfig({
    // The input is only { key }, our SHA-256 over business fields (DESIGN §2), so Powertools
    // hashes it whole: no eventKeyJmesPath, whose JMESPath search cost 5 % of the consumer's
    // CPU in the bench profile.
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: ttlSeconds,
  });
  const persistenceStore = new CachePersistenceLayer({ client });
  const run = makeIdempotent(
    async (_input: { key: string }, work: () => Promise<StoredResult>) => work(),
    { persistenceStore, config },
  );
  return {
    config,
    gate: {
      async run(key, payload, work) {
        const hash = payloadHash(payload);
        let invoked = false;
        const stored = await run({ key }, async () => {
          invoked = true;
          return { result: await work(), payloadHash: hash };
        });
        if (!invoked && stored.payloadHash !== hash) {
          throw new IdempotencyConflictError(
            `idempotency key ${key} was first used with a different payload`,
          );
        }
        return { result: stored.result, cached: !invoked };
      },
    },
  };
}

/** Attempts per offset in Redis (INCR + TTL); uncountable when Redis is unavailable. */
export function redisAttemptTracker(
  redis: Redis,
  logger: LogSink,
  ttlSeconds = 86_400,
): AttemptTracker {
  return {
    async increment(record) {
      const key = `consumer-attempts:${record.topic}:${record.partition}:${record.offset}`;
      try {
        const [count] = (await redis
          .multi()
          .incr(key)
          .expire(key, ttlSeconds)
          .exec()) as unknown as [number];
        return Number(count);
      } catch (error) {
        logger.warn('cannot count delivery attempts; leaving the record to the mapping', { error });
        return undefined;
      }
    },
  };
}

export const powertoolsConsumerTelemetry: ConsumerTelemetry = {
  applied(_event, endToEndMs) {
    metrics.addMetric(METRICS.eventsProcessed, 'Count', 1);
    metrics.addMetric(METRICS.endToEndLatency, 'Milliseconds', Math.max(0, endToEndMs));
  },
  duplicate() {
    metrics.addMetric(METRICS.duplicatesSkipped, 'Count', 1);
  },
  deadLettered() {
    metrics.addMetric(METRICS.eventsFailed, 'Count', 1);
    metrics.addMetric(METRICS.deadLettered, 'Count', 1);
  },
  cacheBypassed() {
    metrics.addMetric(METRICS.idempotencyCacheBypassed, 'Count', 1);
  },
  chunkDuration(ms) {
    metrics.addMetric(METRICS.eventProcessingDuration, 'Milliseconds', ms);
  },
};

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
  /** Overrides of the DESIGN breaker numbers (tests shorten the open period). */
  readonly breakerOptions?: { readonly failureThreshold?: number; readonly openMs?: number };
  /** Where breaker transitions are counted (default: the Powertools metrics). */
  readonly breakerMetrics?: BreakerMetricsSink;
}): Promise<ConsumerRuntime> {
  const logger = options.logger ?? defaultLogger;
  const { consumerEnv, redisEnv } = options;
  const deps3 = breakers(['postgres', 'redis', 'kafka'] as const, {
    ...options.breakerOptions,
    onStateChange: breakerTelemetry(logger, options.breakerMetrics ?? metrics),
  });
  const pool = options.pool ?? createPool(options.pgEnv, { applicationName: 'order-consumer' });
  const redis = connectRedis(redisEnv, options.redisPassword);
  redis.on('error', (error: unknown) => logger.warn('redis connection error', { error }));
  const client = KAFKA_CLIENTS.orderConsumer;
  const producer: Producer = producerFor(
    createKafka({ clientId: client.clientId, connection: options.kafkaEnv, logger }),
    client,
    { retry: { retries: 5 } },
  );
  await Promise.all([redis.connect(), producer.connect()]);

  const { gate, config } = powertoolsGate(
    guardedCacheClient(redis, deps3.redis),
    consumerEnv.idempotencyTtlSeconds,
  );
  const deps: ConsumerDeps = {
    gate,
    apply: (events) =>
      deps3.postgres.execute(async () => {
        const client = await pool.connect();
        let failed: Error | undefined;
        try {
          return await applyBatch(client, events);
        } catch (error) {
          failed = error instanceof Error ? error : new Error(String(error));
          throw error;
        } finally {
          client.release(failed);
        }
      }),
    deadLetter: async (messages) => {
      await deps3.kafka.execute(() =>
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
    attempts: redisAttemptTracker(redis, logger),
    logger,
    telemetry: options.telemetry ?? powertoolsConsumerTelemetry,
  };
  return {
    deps,
    idempotencyConfig: config,
    breakers: deps3,
    options: {
      chunkSize: consumerEnv.chunkSize,
      retryAttempts: consumerEnv.retryAttempts,
      retryBackoff: { baseMs: 50, capMs: 1_000 },
      maxDeliveryAttempts: consumerEnv.maxDeliveryAttempts,
    },
    async close() {
      await Promise.allSettled([
        producer.disconnect(),
        redis.quit(),
        options.pool ? Promise.resolve() : pool.end(),
      ]);
    },
  };
}
