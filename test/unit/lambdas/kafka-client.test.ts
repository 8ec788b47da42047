import type { GetBootstrapBrokersCommandOutput } from '@aws-sdk/client-kafka';
import { GetBootstrapBrokersCommand } from '@aws-sdk/client-kafka';
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
import type { BootstrapBrokersApi } from '../../../lambdas/shared/kafka/client';
import {
  createBootstrapResolver,
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

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abcd-1234';
const IAM_BROKERS =
  'b-1.orders.kafka.eu-west-1.amazonaws.com:9098,b-2.orders.kafka.eu-west-1.amazonaws.com:9098';

function fakeApi(...replies: Array<string | undefined | Error>) {
  const send = vi.fn(async (command: GetBootstrapBrokersCommand) => {
    expect(command).toBeInstanceOf(GetBootstrapBrokersCommand);
    const reply = replies.shift();
    if (reply instanceof Error) throw reply;
    return {
      BootstrapBrokerStringSaslIam: reply,
      $metadata: {},
    } as GetBootstrapBrokersCommandOutput;
  });
  return { api: { send } satisfies BootstrapBrokersApi, send };
}

function fakeSink() {
  return { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn() } satisfies LogSink;
}

describe('createBootstrapResolver', () => {
  it('asks MSK for the cluster and parses the IAM broker string', async () => {
    const { api, send } = fakeApi(IAM_BROKERS);
    const brokers = await createBootstrapResolver(ARN, api)();
    expect(brokers).toEqual([
      'b-1.orders.kafka.eu-west-1.amazonaws.com:9098',
      'b-2.orders.kafka.eu-west-1.amazonaws.com:9098',
    ]);
    expect(send.mock.calls[0]?.[0].input).toEqual({ ClusterArn: ARN });
  });

  it('calls MSK once for repeated and concurrent lookups', async () => {
    const { api, send } = fakeApi(IAM_BROKERS, 'other:1');
    const resolve = createBootstrapResolver(ARN, api);
    const [a, b] = await Promise.all([resolve(), resolve()]);
    const c = await resolve();
    expect(send).toHaveBeenCalledTimes(1);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('forgets a failure so the next call retries', async () => {
    const { api, send } = fakeApi(new Error('throttled'), IAM_BROKERS);
    const resolve = createBootstrapResolver(ARN, api);
    await expect(resolve()).rejects.toThrow('throttled');
    await expect(resolve()).resolves.toHaveLength(2);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('fails clearly when the cluster has no IAM listener', async () => {
    const { api } = fakeApi(undefined);
    await expect(createBootstrapResolver(ARN, api)()).rejects.toThrow(/no IAM bootstrap brokers/);
  });
});

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

  it('uses TLS, OAUTHBEARER and the resolved brokers on MSK', async () => {
    const resolveBrokers = vi.fn(async () => ['b-1:9098']);
    const config = kafkaConfig({
      clientId: 'relay',
      connection: { auth: 'iam', clusterArn: ARN, region: 'eu-west-1' },
      resolveBrokers,
      logger: fakeSink(),
    });
    expect(config.ssl).toBe(true);
    expect(config.sasl?.mechanism).toBe('oauthbearer');
    expect(config.sasl && 'oauthBearerProvider' in config.sasl).toBe(true);
    expect(typeof config.brokers).toBe('function');
    if (typeof config.brokers !== 'function') throw new Error('unreachable');
    await expect(config.brokers()).resolves.toEqual(['b-1:9098']);
    expect(resolveBrokers).toHaveBeenCalledTimes(1);
  });

  it("connects within the function's connect timeout, locally and on MSK alike", () => {
    for (const connection of [
      { auth: 'none', brokers: ['127.0.0.1:19092'] },
      { auth: 'iam', clusterArn: ARN, region: 'eu-west-1' },
    ] as const) {
      const config = kafkaConfig({
        clientId: 'relay',
        connection,
        client: { connectTimeoutMs: 4_321 },
        resolveBrokers: async () => [],
        logger: fakeSink(),
      });
      expect(config.connectionTimeout).toBe(4_321);
      // Without the function's settings (a tool's own client) nothing of ours: kafkajs's own.
      const tool = kafkaConfig({
        clientId: 'x',
        connection,
        resolveBrokers: async () => [],
        logger: fakeSink(),
      });
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
      connection: { auth: 'iam', clusterArn: ARN, region: 'eu-west-1' },
      resolveBrokers: async () => [],
      logger: fakeSink(),
      overrides: { connectionTimeout: 9000, retry: { retries: 3 } },
    });
    expect(config.connectionTimeout).toBe(9000);
    expect(config.retry).toEqual({ retries: 3 });
    expect(config.clientId).toBe('relay');
    expect(config.ssl).toBe(true);
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
