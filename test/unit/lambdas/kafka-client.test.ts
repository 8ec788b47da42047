import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import {
  consumerEnvironment,
  parseConsumerEnv,
  parseRelayEnv,
  parseTriageEnv,
  relayEnvironment,
  triageEnvironment,
} from '../../../lambdas/shared/env';
import {
  createKafka,
  kafkaConfig,
  kafkaLogCreator,
  producerRetry,
} from '../../../lambdas/shared/kafka/client';
import type { LogSink } from '../../../lambdas/shared/log-sink';
import {
  consumerSettings,
  relaySettings,
  triageSettings,
} from '../../../lib/config/function-environment';
import { loadStageConfig, type StageConfig } from '../../../lib/config/stage-config';

// MSK's BootstrapBrokerStringSaslIam as the streaming stack writes it into KAFKA_BROKERS.
const IAM_BROKERS = [
  'b-1.orders.kafka.eu-west-1.amazonaws.com:9098',
  'b-2.orders.kafka.eu-west-1.amazonaws.com:9098',
];
const IAM = { auth: 'iam', brokers: IAM_BROKERS, region: 'eu-west-1' } as const;

function fakeSink() {
  return { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn() } satisfies LogSink;
}

describe('kafkaConfig', () => {
  it('uses plain brokers without TLS or SASL locally', () => {
    const config = kafkaConfig({
      clientId: 'relay',
      connection: { auth: 'none', brokers: ['127.0.0.1:19092'] },
      logger: fakeSink(),
    });
    expect(config.clientId).toBe('relay');
    expect(config.brokers).toEqual(['127.0.0.1:19092']);
    expect(config.ssl).toBeUndefined();
    expect(config.sasl).toBeUndefined();
    expect(config.logCreator).toBeTypeOf('function');
  });

  it("uses TLS, OAUTHBEARER and the environment's IAM brokers on MSK, with no lookup", () => {
    const config = kafkaConfig({ clientId: 'relay', connection: IAM, logger: fakeSink() });
    expect(config.ssl).toBe(true);
    expect(config.sasl?.mechanism).toBe('oauthbearer');
    expect(config.sasl && 'oauthBearerProvider' in config.sasl).toBe(true);
    // A plain list, not a resolver: no MSK control-plane call (GetBootstrapBrokers) at cold start.
    expect(config.brokers).toEqual(IAM_BROKERS);
    // A copy: kafkajs cannot change the parsed environment.
    expect(config.brokers).not.toBe(IAM.brokers);
  });

  it("connects within the function's connect timeout, locally and on MSK alike", () => {
    for (const connection of [{ auth: 'none', brokers: ['127.0.0.1:19092'] }, IAM] as const) {
      const config = kafkaConfig({
        clientId: 'relay',
        connection,
        client: { connectTimeoutMs: 4_321 },
        logger: fakeSink(),
      });
      expect(config.connectionTimeout).toBe(4_321);
      // Without the function's settings (a tool's own client) nothing of ours: kafkajs's own.
      const tool = kafkaConfig({ clientId: 'x', connection, logger: fakeSink() });
      expect(tool.connectionTimeout).toBeUndefined();
    }
  });

  it("takes the stage config's kafka.client through the functions' environments", () => {
    const config = loadStageConfig('dev');
    const changed: StageConfig = {
      ...config,
      kafka: { ...config.kafka, client: { connectTimeoutMs: 7_000 } },
    };
    for (const c of [config, changed]) {
      for (const settings of [
        parseRelayEnv(relayEnvironment(relaySettings(c))).kafkaClient,
        parseConsumerEnv(consumerEnvironment(consumerSettings(c))).kafkaClient,
        parseTriageEnv(triageEnvironment(triageSettings(c))).kafkaClient,
      ]) {
        const built = kafkaConfig({
          clientId: 'x',
          connection: { auth: 'none', brokers: ['127.0.0.1:1'] },
          client: settings,
          logger: fakeSink(),
        });
        expect(built.connectionTimeout).toBe(c.kafka.client.connectTimeoutMs);
      }
    }
  });

  it('applies overrides but keeps identity and security settings', () => {
    const config = kafkaConfig({
      clientId: 'relay',
      connection: IAM,
      logger: fakeSink(),
      overrides: { connectionTimeout: 9000, retry: { retries: 3 } },
    });
    expect(config.connectionTimeout).toBe(9000);
    expect(config.retry).toEqual({ retries: 3 });
    expect(config.clientId).toBe('relay');
    expect(config.ssl).toBe(true);
    expect(config.brokers).toEqual(IAM_BROKERS);
  });

  it('builds a kafkajs client', () => {
    const kafka = createKafka({
      clientId: 'x',
      connection: { auth: 'none', brokers: ['127.0.0.1:1'] },
      logger: fakeSink(),
    });
    expect(kafka).toBeInstanceOf(Kafka);
  });
});

describe('producerRetry', () => {
  it("hands kafkajs the stage config's bounded producer retries", () => {
    const config = loadStageConfig('dev');
    expect(producerRetry(consumerSettings(config).producerRetry)).toEqual({
      retries: config.consumer.producerRetry.retries,
      initialRetryTime: config.consumer.producerRetry.initialMs,
      maxRetryTime: config.consumer.producerRetry.maxMs,
    });
    expect(producerRetry({ retries: 2, initialMs: 50, maxMs: 400 })).toEqual({
      retries: 2,
      initialRetryTime: 50,
      maxRetryTime: 400,
    });
  });
});

describe('kafkaLogCreator', () => {
  const entry = (level: number) => ({
    namespace: 'Connection',
    level,
    label: 'x',
    log: { timestamp: 't', logger: 'kafkajs', message: 'hello', broker: 'b:1' },
  });

  it.each([
    [logLevel.ERROR, 'error'],
    [logLevel.WARN, 'warn'],
    [logLevel.INFO, 'info'],
    [logLevel.DEBUG, 'debug'],
  ] as const)('routes level %i to %s with the extra fields', (level, method) => {
    const sink = fakeSink();
    kafkaLogCreator(sink)(logLevel.DEBUG)(entry(level));
    expect(sink[method]).toHaveBeenCalledWith('hello', {
      kafkaNamespace: 'Connection',
      broker: 'b:1',
    });
    const others = (['error', 'warn', 'info', 'debug'] as const).filter((m) => m !== method);
    for (const m of others) expect(sink[m]).not.toHaveBeenCalled();
  });
});
