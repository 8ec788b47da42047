// Each function's settings, typed, derived from the stage config: the service stack writes them
// through the environment writers of lambdas/shared/env.ts, `npm start`, the bench and the
// drills pass the same values to the same code, and the infra tests compare what the deployed
// function would read back with these.
import {
  type ConsumerEnv,
  consumerEnvironment,
  type Environment,
  type KafkaClientEnv,
  type MigrateEnv,
  migrateEnvironment,
  type OrderApiEnv,
  orderApiEnvironment,
  type PgTimeouts,
  pgPoolEnvironment,
  type RelayEnv,
  relayEnvironment,
  type TriageEnv,
  triageEnvironment,
} from '../../lambdas/shared/env';
import type { StageConfig } from './stage-config';

/**
 * Every function's settings as the stacks write them, in one environment (the functions share
 * their variables' values: one topic, one breaker), without the endpoints: for processes
 * outside Lambda that run the handlers or parse a function's environment (tests, local runs).
 */
export function stageFunctionEnvironment(config: StageConfig): Environment {
  return {
    ...pgPoolEnvironment(config.database.poolMaxPerEnvironment, pgTimeouts(config)),
    ...orderApiEnvironment(orderApiSettings(config)),
    ...relayEnvironment(relaySettings(config)),
    ...consumerEnvironment(consumerSettings(config)),
    ...triageEnvironment(triageSettings(config)),
    ...migrateEnvironment(migrateSettings(config)),
  };
}

/** Every PostgreSQL client of a function: connect and idle timeouts. */
export function pgTimeouts(config: StageConfig): PgTimeouts {
  return {
    connectTimeoutMs: config.database.connectTimeoutMs,
    idleTimeoutMs: config.database.idleTimeoutMs,
  };
}

/** Every kafkajs client of a function. */
export function kafkaClientSettings(config: StageConfig): KafkaClientEnv {
  return { connectTimeoutMs: config.kafka.client.connectTimeoutMs };
}

export function migrateSettings(config: StageConfig): MigrateEnv {
  return { lockTimeoutMs: config.migrate.lockTimeoutMs };
}

export function orderApiSettings(config: StageConfig): OrderApiEnv {
  return { maxBodyBytes: config.api.maxBodyBytes, maxArrayItems: config.api.maxArrayItems };
}

export function relaySettings(config: StageConfig): RelayEnv {
  return {
    topic: config.kafka.topics.orderEvents.name,
    batchSize: config.outbox.relayBatchSize,
    pollIntervalMs: config.outbox.relayPollIntervalMs,
    publishedRetentionHours: config.outbox.publishedRetentionHours,
    maxMessageBytes: config.kafka.topics.orderEvents.maxMessageBytes,
    processedEventsRetentionHours: config.outbox.processedEventsRetentionHours,
    stopBeforeTimeoutMs: config.outbox.relayStopBeforeTimeoutMs,
    failureBackoff: config.outbox.relayFailureBackoff,
    sendRetry: config.outbox.relaySendRetry,
    kafkaClient: kafkaClientSettings(config),
    retentionEveryMs: config.outbox.retentionEveryMs,
    retentionBatchSize: config.outbox.retentionBatchSize,
    retentionBudgetMs: config.outbox.retentionBudgetMs,
  };
}

export function consumerSettings(config: StageConfig): ConsumerEnv {
  return {
    deadLetterTopic: config.kafka.topics.deadLetter.name,
    chunkSize: config.consumer.chunkSize,
    retryAttempts: config.consumer.retryAttempts,
    maxDeliveryAttempts: config.consumer.maxDeliveryAttempts,
    idempotencyTtlSeconds: config.consumer.idempotencyTtlSeconds,
    retryBackoff: config.consumer.retryBackoff,
    outageWait: config.consumer.outageWait,
    stopBeforeTimeoutMs: config.consumer.stopBeforeTimeoutMs,
    breaker: config.breaker,
    redisClient: {
      connectTimeoutMs: config.cache.connectTimeoutMs,
      reconnect: config.cache.reconnect,
      handshakeMarginMs: config.cache.handshakeMarginMs,
      errorLogIntervalMs: config.cache.errorLogIntervalMs,
      closeGraceMs: config.cache.closeGraceMs,
      authSecretMaxAgeSeconds: config.cache.authSecretMaxAgeSeconds,
    },
    kafkaClient: kafkaClientSettings(config),
    producerRetry: config.consumer.producerRetry,
    applyAttempts: config.consumer.applyAttempts,
    attemptCountTtlSeconds: config.consumer.attemptCountTtlSeconds,
  };
}

export function triageSettings(config: StageConfig): TriageEnv {
  return {
    maxRedrives: config.triage.maxRedrives,
    maxProcessingFailureRedrives: config.triage.maxProcessingFailureRedrives,
    redriveBaseDelayMs: config.triage.redriveBaseDelayMs,
    redriveMaxDelayMs: config.triage.redriveMaxDelayMs,
    redriveJitterPercent: config.triage.redriveJitterPercent,
    stopBeforeTimeoutMs: config.triage.stopBeforeTimeoutMs,
    outageWait: config.triage.outageWait,
    outageLogEvery: config.triage.outageLogEvery,
    breaker: config.breaker,
    kafkaClient: kafkaClientSettings(config),
    producerRetry: config.triage.producerRetry,
    redriveTopics: [config.kafka.topics.orderEvents.name],
    redriveMaxMessageBytes: config.kafka.topics.orderEvents.maxMessageBytes,
  };
}
