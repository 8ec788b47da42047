// The consumer's idempotency gate: the Redis fast path on Powertools idempotency (cache layer,
// @redis/client) behind the Redis breaker, and the per-offset delivery-attempt counter the
// poison guard reads. PostgreSQL stays the ground truth (apply-batch.ts); runtime.ts wires this.
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { RedisClientType } from '@redis/client';
import { IdempotencyConflictError, TransientError } from '../shared/errors/taxonomy';
import type { LogSink } from '../shared/log-sink';
import type { CircuitBreaker } from '../shared/resilience/circuit-breaker';
import type { AttemptTracker, GateResult, IdempotencyGate } from './consumer';
import { payloadHash } from './idempotency-key';

/** Redis calls through the breaker, in the shape the Powertools cache layer expects. */
export function guardedCacheClient(
  redis: Pick<RedisClientType, 'get' | 'set' | 'del'>,
  breaker: CircuitBreaker,
): CacheClient {
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
    // The input is only { key }, our SHA-256 over business fields (docs/ARCHITECTURE.md §3), so Powertools
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

/**
 * Attempts per offset in Redis (INCR + TTL, the stage config's `consumer.attemptCountTtlSeconds`);
 * uncountable when Redis is unavailable.
 */
export function redisAttemptTracker(
  redis: Pick<RedisClientType, 'isReady' | 'multi'>,
  logger: LogSink,
  ttlSeconds: number,
): AttemptTracker {
  return {
    async increment(record) {
      const key = `consumer-attempts:${record.topic}:${record.partition}:${record.offset}`;
      try {
        // MULTI is not covered by disableOfflineQueue: it would wait for a connection.
        if (!redis.isReady) throw new TransientError('redis is not connected');
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
