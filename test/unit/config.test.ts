import { describe, expect, it } from 'vitest';
import {
  consumerEnvironment,
  parseConsumerEnv,
  parseTriageEnv,
  triageEnvironment,
} from '../../lambdas/shared/env';
import { METRICS, SERVICES } from '../../lambdas/shared/metrics-catalog';
import { consumerSettings, triageSettings } from '../../lib/config/function-environment';
import { buildSignals, isMathSpec } from '../../lib/config/signals';
import {
  loadStageConfig,
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
      /redriveJitterPercent must be 0..50[\s\S]*cache.reconnect: need 1 <= baseMs <= capMs[\s\S]*consumer.outageWait: need[\s\S]*cache.connectTimeoutMs must fit/,
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
