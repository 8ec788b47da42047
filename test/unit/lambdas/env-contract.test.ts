// The environment contract: what the writers put in a function's environment, that function's
// reader gets back; deployed, a variable the reader needs cannot be missing.
import { describe, expect, it } from 'vitest';
import {
  consumerEnvironment,
  ENV,
  EnvError,
  type Environment,
  FUNCTION_ENV,
  type FunctionName,
  isDeployed,
  kafkaClientEnvironment,
  kafkaEnvironment,
  migrateEnvironment,
  observabilityEnvironment,
  orderApiEnvironment,
  parseRelayEnv,
  pgEnvironment,
  pgPoolEnvironment,
  redisEnvironment,
  relayEnvironment,
  triageEnvironment,
} from '../../../lambdas/shared/env';
import {
  consumerSettings,
  kafkaClientSettings,
  migrateSettings,
  orderApiSettings,
  pgTimeouts,
  relaySettings,
  triageSettings,
} from '../../../lib/config/function-environment';
import { loadStageConfig } from '../../../lib/config/stage-config';
import { configuredEnv } from '../../fixtures/function-env';

const config = loadStageConfig('dev');
// MSK's BootstrapBrokerStringSaslIam, as the streaming stack resolves it at deploy time.
const IAM_BROKERS =
  'b-1.orders.kafka.eu-west-1.amazonaws.com:9098,b-2.orders.kafka.eu-west-1.amazonaws.com:9098';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cache-auth-AbCdEf';

/** The consumer's environment as the service stack writes it, plus what Lambda sets. */
function consumerEnv(): Record<string, string> {
  return {
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: config.functions.orderConsumer.name,
    ...observabilityEnvironment({
      stage: 'dev',
      serviceName: 'order-consumer',
      metricsNamespace: config.observability.metricsNamespace,
      logLevel: 'INFO',
    }),
    ...pgEnvironment({
      host: 'proxy.example',
      port: 5432,
      database: 'orders',
      user: 'pipeline_admin',
      iamAuth: true,
      poolMax: 2,
      timeouts: pgTimeouts(config),
    }),
    ...kafkaEnvironment({ auth: 'iam', bootstrapBrokers: IAM_BROKERS }),
    ...redisEnvironment({ host: 'cache.example', port: 6379, tls: true, authSecretArn: SECRET }),
    ...consumerEnvironment(consumerSettings(config)),
  };
}

describe('the environment contract', () => {
  it('reads back what the writers wrote, equal to the stage config', () => {
    const env = FUNCTION_ENV.orderConsumer(consumerEnv());
    expect(env.consumer).toEqual(consumerSettings(config));
    expect(env.redis).toEqual({
      host: 'cache.example',
      port: 6379,
      tls: true,
      authSecretArn: SECRET,
    });
    expect(env.pg).toMatchObject({
      iamAuth: true,
      poolMax: 2,
      region: 'eu-west-1',
      timeouts: pgTimeouts(config),
    });
    expect(env.kafka).toEqual({
      auth: 'iam',
      brokers: IAM_BROKERS.split(','),
      region: 'eu-west-1',
    });
  });

  it('round-trips the relay and triage settings of every stage', () => {
    for (const stage of ['dev', 'prod', 'localstack'] as const) {
      const c = loadStageConfig(stage);
      const base = {
        STAGE: stage,
        POWERTOOLS_SERVICE_NAME: 'x',
        POWERTOOLS_METRICS_NAMESPACE: 'y',
      };
      expect(parseRelayEnv({ ...base, ...relayEnvironment(relaySettings(c)) })).toEqual(
        relaySettings(c),
      );
      expect(
        FUNCTION_ENV.dlqTriage({
          ...base,
          AWS_REGION: 'eu-west-1',
          ...pgEnvironment({
            host: 'h',
            port: 5432,
            database: 'd',
            user: 'u',
            iamAuth: true,
            poolMax: 2,
            timeouts: pgTimeouts(c),
          }),
          ...kafkaEnvironment({ auth: 'iam', bootstrapBrokers: IAM_BROKERS }),
          ...triageEnvironment(triageSettings(c)),
        }).triage,
      ).toEqual(triageSettings(c));
    }
  });

  it.each(
    Object.keys(consumerEnv()).filter(
      (name) =>
        name !== 'AWS_REGION' && name !== 'AWS_LAMBDA_FUNCTION_NAME' && name !== ENV.logLevel,
    ),
  )('deployed, a missing %s fails naming it instead of defaulting', (name) => {
    const env: Record<string, string> = consumerEnv();
    delete env[name];
    expect(() => FUNCTION_ENV.orderConsumer(env)).toThrow(EnvError);
    expect(() => FUNCTION_ENV.orderConsumer(env)).toThrow(name);
  });

  it('inside Lambda without STAGE counts as deployed', () => {
    expect(isDeployed({ AWS_LAMBDA_FUNCTION_NAME: 'f' })).toBe(true);
    expect(() => FUNCTION_ENV.orderApi({ AWS_LAMBDA_FUNCTION_NAME: 'f' })).toThrow(/STAGE/);
  });

  it('locally, only the endpoints fall back to the local services', () => {
    expect(isDeployed({})).toBe(false);
    const env = FUNCTION_ENV.dlqTriage(configuredEnv());
    expect(env.pg).toMatchObject({
      host: '127.0.0.1',
      port: 5432,
      database: 'test',
      poolMax: config.database.poolMaxPerEnvironment,
    });
    expect(env.kafka).toEqual({ auth: 'none', brokers: ['127.0.0.1:9092'] });
    expect(env.triage).toEqual(triageSettings(config));
  });

  it("the relay's size limit and processed_events retention come from the stage config only", () => {
    const written = relayEnvironment(relaySettings(config));
    expect(written[ENV.orderEventsMaxMessageBytes]).toBe(
      String(config.kafka.topics.orderEvents.maxMessageBytes),
    );
    expect(written[ENV.processedEventsRetentionHours]).toBe(
      String(config.outbox.processedEventsRetentionHours),
    );
    // No local default: a second copy of the value could drift from the topic's.
    for (const name of [ENV.orderEventsMaxMessageBytes, ENV.processedEventsRetentionHours]) {
      const env: Record<string, string> = { ...written };
      delete env[name];
      expect(() => parseRelayEnv(env)).toThrow(EnvError);
      expect(() => parseRelayEnv(env)).toThrow(name);
    }
    expect(() => parseRelayEnv({ ...written, [ENV.orderEventsMaxMessageBytes]: '100' })).toThrow(
      /between 1024 and/,
    );
    expect(() => parseRelayEnv({ ...written, [ENV.processedEventsRetentionHours]: '0' })).toThrow(
      /between 1 and/,
    );
  });

  it('writes triage settings with exactly one redrive topic', () => {
    expect(() => triageEnvironment({ ...triageSettings(config), redriveTopics: [] })).toThrow(
      /exactly one topic/,
    );
    const written = triageEnvironment(triageSettings(config));
    expect(written[ENV.orderEventsTopic]).toBe(config.kafka.topics.orderEvents.name);
  });
});

/** The PostgreSQL pool settings every function shares: size and client timeouts. */
const POOL = pgPoolEnvironment(config.database.poolMaxPerEnvironment, pgTimeouts(config));

/** What the stacks write for each function's settings (endpoints aside), from the config. */
const SETTINGS: Record<FunctionName, Environment> = {
  orderApi: { ...POOL, ...orderApiEnvironment(orderApiSettings(config)) },
  outboxRelay: { ...POOL, ...relayEnvironment(relaySettings(config)) },
  orderConsumer: { ...POOL, ...consumerEnvironment(consumerSettings(config)) },
  dlqTriage: { ...POOL, ...triageEnvironment(triageSettings(config)) },
  migrate: { ...POOL, ...migrateEnvironment(migrateSettings(config)) },
  kafkaTopics: kafkaClientEnvironment(kafkaClientSettings(config)),
};

describe.each(Object.entries(SETTINGS))('locally (no STAGE), %s', (name, written) => {
  const read = FUNCTION_ENV[name as FunctionName];

  it('reads its settings with the local endpoints', () => {
    expect(() => read(written)).not.toThrow();
  });

  it.each(Object.keys(written))('without %s fails naming it: the reader has no default', (v) => {
    const env: Record<string, string> = { ...written };
    delete env[v];
    expect(isDeployed(env)).toBe(false);
    expect(() => read(env)).toThrow(EnvError);
    expect(() => read(env)).toThrow(`${v}: is required; it comes from the stage config`);
  });
});
