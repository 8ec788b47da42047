import { describe, expect, it } from 'vitest';
import {
  consumerEnvironment,
  FUNCTION_ENV,
  parseConsumerEnv,
  parseRelayEnv,
  parseTriageEnv,
  relayEnvironment,
  triageEnvironment,
} from '../../lambdas/shared/env';
import { METRICS, SERVICES } from '../../lambdas/shared/metrics-catalog';
import {
  consumerSettings,
  relaySettings,
  stageFunctionEnvironment,
  triageSettings,
} from '../../lib/config/function-environment';
import { buildSignals, isMathSpec } from '../../lib/config/signals';
import {
  loadStageConfig,
  longestProducerRetryWaitMs,
  STAGES,
  type StageConfig,
  validateStageConfig,
} from '../../lib/config/stage-config';

describe('stage config', () => {
  it.each(STAGES)('resolves %s to the pinned values', (stage) => {
    // The snapshot is the reviewed table of every size, name and threshold per stage.
    expect(loadStageConfig(stage)).toMatchSnapshot();
  });

  it('defaults to dev and rejects unknown stages by name', () => {
    expect(loadStageConfig(undefined).stage).toBe('dev');
    expect(() => loadStageConfig('staging')).toThrow(
      /Unknown stage "staging".*dev, prod, localstack/,
    );
  });

  it('holds the reference prod shape', () => {
    const prod = loadStageConfig('prod');
    expect(prod.kafka).toMatchObject({
      brokers: 3,
      brokerInstanceType: 'kafka.m5.large',
      minInsyncReplicas: 2,
    });
    expect(prod.kafka.topics.orderEvents).toMatchObject({ partitions: 6, replicationFactor: 3 });
    expect(prod.database).toMatchObject({
      instanceType: 'r6g.large',
      readReplicas: 1,
      engineMajorVersion: '17',
    });
    expect(prod.cache).toMatchObject({ nodeType: 'cache.t4g.micro', multiAz: true });
    expect(prod.availabilityZones).toHaveLength(3);
    expect(loadStageConfig('dev').availabilityZones).toHaveLength(2);
  });

  it('pins the local broker to the MSK major.minor', () => {
    for (const stage of STAGES) {
      const k = loadStageConfig(stage).kafka;
      expect(k.localBrokerVersion.split('.').slice(0, 2)).toEqual(
        k.mskVersion.split('.').slice(0, 2),
      );
    }
  });

  it('rejects configs that would fail at deploy time', () => {
    const dev = loadStageConfig('dev');
    const broken: StageConfig = {
      ...dev,
      kafka: {
        ...dev.kafka,
        brokers: 3,
        localBrokerVersion: '3.9.1',
        topics: {
          ...dev.kafka.topics,
          orderEvents: { ...dev.kafka.topics.orderEvents, replicationFactor: 4 },
        },
      },
      mappings: {
        ...dev.mappings,
        orderConsumer: { ...dev.mappings.orderConsumer, retryAttempts: 11 },
      },
    };
    expect(() => validateStageConfig(broken)).toThrow(
      /multiple of the AZ count[\s\S]*replication factor 4 > brokers 3[\s\S]*not on MSK's 4.0[\s\S]*retryAttempts/,
    );
  });
});

describe('limits and outage tolerance', () => {
  const dev = loadStageConfig('dev');

  it('states every topic size limit and applies it to the topic', () => {
    for (const stage of STAGES) {
      const { orderEvents, deadLetter } = loadStageConfig(stage).kafka.topics;
      expect(orderEvents.maxMessageBytes).toBe(1_048_576);
      expect(deadLetter.maxMessageBytes).toBeGreaterThanOrEqual(
        Math.ceil((orderEvents.maxMessageBytes * 4) / 3),
      );
    }
  });

  it('gives the consumer and triage the breaker numbers of the config, through the environment', () => {
    const changed: StageConfig = {
      ...dev,
      breaker: { failureThreshold: 7, windowMs: 45_000, openMs: 20_000 },
    };
    for (const config of [dev, changed]) {
      expect(parseConsumerEnv(consumerEnvironment(consumerSettings(config))).breaker).toEqual(
        config.breaker,
      );
      expect(parseTriageEnv(triageEnvironment(triageSettings(config))).breaker).toEqual(
        config.breaker,
      );
    }
  });

  it('gives triage its redrive jitter and the consumer its Redis client timing, through the environment', () => {
    const changed: StageConfig = {
      ...dev,
      cache: { ...dev.cache, connectTimeoutMs: 1_500, reconnect: { baseMs: 50, capMs: 2_000 } },
      triage: { ...dev.triage, redriveJitterPercent: 10 },
    };
    for (const config of [dev, changed]) {
      expect(parseConsumerEnv(consumerEnvironment(consumerSettings(config))).redisClient).toEqual({
        connectTimeoutMs: config.cache.connectTimeoutMs,
        reconnect: config.cache.reconnect,
        handshakeMarginMs: config.cache.handshakeMarginMs,
        errorLogIntervalMs: config.cache.errorLogIntervalMs,
        closeGraceMs: config.cache.closeGraceMs,
        authSecretMaxAgeSeconds: config.cache.authSecretMaxAgeSeconds,
      });
      expect(parseTriageEnv(triageEnvironment(triageSettings(config))).redriveJitterPercent).toBe(
        config.triage.redriveJitterPercent,
      );
    }
  });

  it('refuses a backoff base above its cap, jitter over 50 % and a Redis connect timeout too long', () => {
    const broken: StageConfig = {
      ...dev,
      cache: {
        ...dev.cache,
        connectTimeoutMs: 200_000,
        reconnect: { baseMs: 6_000, capMs: 5_000 },
      },
      consumer: { ...dev.consumer, outageWait: { baseMs: 0, capMs: 5_000 } },
      triage: { ...dev.triage, redriveJitterPercent: 60 },
    };
    expect(() => validateStageConfig(broken)).toThrow(
      /redriveJitterPercent must be 0..50[\s\S]*cache.reconnect: need 1 <= baseMs <= capMs[\s\S]*consumer.outageWait: need[\s\S]*cache.connectTimeoutMs plus cache.handshakeMarginMs must fit/,
    );
  });

  it('gives every client its timeouts, retries and throttles from the config, through the environment', () => {
    const changed: StageConfig = {
      ...dev,
      database: { ...dev.database, connectTimeoutMs: 3_000, idleTimeoutMs: 30_000 },
      cache: {
        ...dev.cache,
        handshakeMarginMs: 500,
        errorLogIntervalMs: 10_000,
        closeGraceMs: 1_000,
        authSecretMaxAgeSeconds: 60,
      },
      kafka: { ...dev.kafka, client: { connectTimeoutMs: 8_000 } },
      consumer: {
        ...dev.consumer,
        producerRetry: { retries: 3, initialMs: 100, maxMs: 2_000 },
        applyAttempts: 5,
        attemptCountTtlSeconds: 3_600,
      },
      triage: {
        ...dev.triage,
        outageLogEvery: 5,
        producerRetry: { retries: 4, initialMs: 150, maxMs: 3_000 },
      },
      outbox: {
        ...dev.outbox,
        retentionEveryMs: 30_000,
        retentionBatchSize: 500,
        retentionBudgetMs: 250,
      },
      migrate: { lockTimeoutMs: 20_000 },
    };
    for (const config of [dev, changed]) {
      validateStageConfig(config);
      // What a local run (and the tests) put into process.env: every function reads it back.
      const env = stageFunctionEnvironment(config);
      const consumer = parseConsumerEnv(env);
      const triage = parseTriageEnv(env);
      const relay = parseRelayEnv(env);
      expect(FUNCTION_ENV.orderApi(env).pg.timeouts).toEqual({
        connectTimeoutMs: config.database.connectTimeoutMs,
        idleTimeoutMs: config.database.idleTimeoutMs,
      });
      expect(FUNCTION_ENV.migrate(env).migrate).toEqual(config.migrate);
      expect(FUNCTION_ENV.kafkaTopics(env).kafkaClient).toEqual(config.kafka.client);
      for (const read of [consumer, triage, relay])
        expect(read.kafkaClient).toEqual(config.kafka.client);
      expect(consumer).toMatchObject({
        producerRetry: config.consumer.producerRetry,
        applyAttempts: config.consumer.applyAttempts,
        attemptCountTtlSeconds: config.consumer.attemptCountTtlSeconds,
      });
      expect(consumer.redisClient).toMatchObject({
        handshakeMarginMs: config.cache.handshakeMarginMs,
        errorLogIntervalMs: config.cache.errorLogIntervalMs,
        closeGraceMs: config.cache.closeGraceMs,
        authSecretMaxAgeSeconds: config.cache.authSecretMaxAgeSeconds,
      });
      expect(triage).toMatchObject({
        outageLogEvery: config.triage.outageLogEvery,
        producerRetry: config.triage.producerRetry,
      });
      expect(relay).toMatchObject({
        retentionEveryMs: config.outbox.retentionEveryMs,
        retentionBatchSize: config.outbox.retentionBatchSize,
        retentionBudgetMs: config.outbox.retentionBudgetMs,
      });
      expect(parseRelayEnv(relayEnvironment(relaySettings(config)))).toEqual(relaySettings(config));
    }
  });

  it("bounds the producers' retries: their longest waits fit the invocation", () => {
    // kafkajs: each wait ±20 %, the next twice the previous (as drawn), capped.
    expect(longestProducerRetryWaitMs({ retries: 0, initialMs: 300, maxMs: 30_000 })).toBe(0);
    expect(longestProducerRetryWaitMs({ retries: 3, initialMs: 100, maxMs: 30_000 })).toBe(
      120 + 288 + 692,
    );
    expect(longestProducerRetryWaitMs({ retries: 3, initialMs: 100, maxMs: 250 })).toBe(
      120 + 250 + 250,
    );
    for (const stage of STAGES) {
      const c = loadStageConfig(stage);
      expect(longestProducerRetryWaitMs(c.consumer.producerRetry)).toBeLessThan(
        c.functions.orderConsumer.timeoutSeconds * 1_000,
      );
      expect(longestProducerRetryWaitMs(c.triage.producerRetry)).toBeLessThan(
        c.functions.dlqTriage.timeoutSeconds * 1_000,
      );
    }
    const broken: StageConfig = {
      ...dev,
      consumer: {
        ...dev.consumer,
        producerRetry: { retries: 20, initialMs: 1_000, maxMs: 30_000 },
      },
      triage: { ...dev.triage, producerRetry: { retries: 1, initialMs: 500, maxMs: 100 } },
    };
    expect(() => validateStageConfig(broken)).toThrow(
      /consumer.producerRetry: its longest waits must fit inside the function timeout[\s\S]*triage.producerRetry: need retries >= 0 and 1 <= initialMs <= maxMs/,
    );
  });

  it('refuses client timeouts that outlast a function, and a delivery count that forgets too soon', () => {
    const broken: StageConfig = {
      ...dev,
      // The order API times out after 10 s.
      database: { ...dev.database, connectTimeoutMs: 10_000 },
      kafka: { ...dev.kafka, client: { connectTimeoutMs: 60_000 } },
      consumer: { ...dev.consumer, applyAttempts: 0, attemptCountTtlSeconds: 60 },
      triage: { ...dev.triage, outageLogEvery: 0 },
      outbox: { ...dev.outbox, retentionBudgetMs: 58_000 },
      migrate: { lockTimeoutMs: 300_000 },
    };
    expect(() => validateStageConfig(broken)).toThrow(
      /database.connectTimeoutMs must fit[\s\S]*kafka.client.connectTimeoutMs must fit[\s\S]*consumer.applyAttempts[\s\S]*attemptCountTtlSeconds must outlast[\s\S]*triage.outageLogEvery[\s\S]*migrate.lockTimeoutMs[\s\S]*outbox.retentionBudgetMs/,
    );
  });

  it('refuses a dead-letter topic too small for a dead letter of the largest event', () => {
    const broken: StageConfig = {
      ...dev,
      kafka: {
        ...dev.kafka,
        topics: {
          ...dev.kafka.topics,
          deadLetter: { ...dev.kafka.topics.deadLetter, maxMessageBytes: 1_048_576 },
        },
      },
    };
    expect(() => validateStageConfig(broken)).toThrow(/dead-letter topic must hold/);
  });

  it('refuses consumer invocations that could not outlast a 2-minute outage twice over', () => {
    const tolerated = (c: StageConfig) =>
      (c.mappings.orderConsumer.retryAttempts + 1) *
      (c.functions.orderConsumer.timeoutSeconds * 1_000 - c.consumer.stopBeforeTimeoutMs);
    for (const stage of STAGES) {
      expect(tolerated(loadStageConfig(stage))).toBeGreaterThanOrEqual(240_000);
    }
    const short: StageConfig = {
      ...dev,
      functions: {
        ...dev.functions,
        orderConsumer: { ...dev.functions.orderConsumer, timeoutSeconds: 60 },
      },
    };
    // (3 + 1) × (60 s − 15 s) = 180 s < 240 s.
    expect(() => validateStageConfig(short)).toThrow(/outlast a 120 s dependency outage/);
  });
});

describe('signals', () => {
  const signals = buildSignals(loadStageConfig('dev'));
  const ids = signals.map((s) => s.id);

  it('has one signal per documented alarm, each with a threshold', () => {
    for (const id of [
      'consumer-lag',
      'dead-lettered',
      'circuit-breaker-open',
      'error-rate',
      'end-to-end-latency',
      'outbox-oldest-pending',
    ]) {
      expect(ids).toContain(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of signals) expect(s.thresholds.length).toBeGreaterThan(0);
  });

  it('reads application metrics only under names the Lambda code emits', () => {
    const known = new Set<string>(Object.values(METRICS));
    const services = new Set<string>(Object.values(SERVICES));
    for (const s of signals) {
      const specs = isMathSpec(s.source) ? Object.values(s.source.usingMetrics) : [s.source];
      for (const m of specs) {
        if (!m.namespace.startsWith('OrderPipeline/')) continue;
        expect(known.has(m.metricName), m.metricName).toBe(true);
        expect(services.has(String(m.dimensions.service)), s.id).toBe(true);
      }
    }
  });

  it('uses every math variable it declares', () => {
    for (const s of signals) {
      if (!isMathSpec(s.source)) continue;
      for (const id of Object.keys(s.source.usingMetrics))
        expect(s.source.expression).toContain(id);
    }
  });
});
