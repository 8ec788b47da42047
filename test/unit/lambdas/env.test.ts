import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  EnvError,
  getPgEnv,
  parseBrokerList,
  parseKafkaEnv,
  parseMigrationsDir,
  parseObservabilityEnv,
  parsePgEndpointEnv,
  parsePgEnv,
  parseStage,
  resetEnvCache,
} from '../../../lambdas/shared/env';

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abcd-1234';
const IAM_BROKERS =
  'b-1.orders.kafka.eu-west-1.amazonaws.com:9098,b-2.orders.kafka.eu-west-1.amazonaws.com:9098';

describe('parseStage', () => {
  it('defaults to local', () => {
    expect(parseStage({})).toBe('local');
  });
  it('accepts every known stage', () => {
    for (const stage of ['dev', 'prod', 'localstack', 'local']) {
      expect(parseStage({ STAGE: stage })).toBe(stage);
    }
  });
  it('rejects an unknown stage naming the variable', () => {
    expect(() => parseStage({ STAGE: 'staging' })).toThrow(/STAGE: must be one of/);
  });
});

describe('parseObservabilityEnv', () => {
  it('has local defaults shaped like the CDK config', () => {
    expect(parseObservabilityEnv({})).toEqual({
      stage: 'local',
      serviceName: 'order-pipeline',
      metricsNamespace: 'OrderPipeline/local',
      logLevel: undefined,
    });
  });
  it('deployed, requires the service name and namespace instead of defaulting', () => {
    expect(() => parseObservabilityEnv({ STAGE: 'dev' })).toThrow(
      /POWERTOOLS_SERVICE_NAME: is required in a deployed function/,
    );
  });
  it('reads the Powertools variables and normalises the level', () => {
    const env = parseObservabilityEnv({
      POWERTOOLS_SERVICE_NAME: 'outbox-relay',
      POWERTOOLS_METRICS_NAMESPACE: 'OrderPipeline/prod',
      POWERTOOLS_LOG_LEVEL: 'debug',
    });
    expect(env.serviceName).toBe('outbox-relay');
    expect(env.metricsNamespace).toBe('OrderPipeline/prod');
    expect(env.logLevel).toBe('DEBUG');
  });
  it('rejects an unknown log level', () => {
    expect(() => parseObservabilityEnv({ POWERTOOLS_LOG_LEVEL: 'LOUD' })).toThrow(EnvError);
  });
});

describe('parseKafkaEnv', () => {
  it('defaults to unauthenticated local brokers', () => {
    expect(parseKafkaEnv({})).toEqual({ auth: 'none', brokers: ['127.0.0.1:9092'] });
  });
  it('splits and trims KAFKA_BROKERS', () => {
    expect(parseKafkaEnv({ KAFKA_BROKERS: ' a:1 , b.example:19092,' })).toEqual({
      auth: 'none',
      brokers: ['a:1', 'b.example:19092'],
    });
  });
  it('rejects a broker without a port', () => {
    expect(() => parseKafkaEnv({ KAFKA_BROKERS: 'localhost' })).toThrow(/not host:port/);
  });
  it('rejects an empty list', () => {
    expect(() => parseBrokerList(' , ')).toThrow(/lists no brokers/);
  });
  it('rejects an unknown auth mode', () => {
    expect(() => parseKafkaEnv({ KAFKA_AUTH: 'scram' })).toThrow(/KAFKA_AUTH/);
  });
  it('requires the brokers and the region for IAM: no local default, no lookup', () => {
    expect(() => parseKafkaEnv({ KAFKA_AUTH: 'iam', AWS_REGION: 'eu-west-1' })).toThrow(
      /KAFKA_BROKERS: is required when KAFKA_AUTH=iam/,
    );
    expect(() => parseKafkaEnv({ KAFKA_AUTH: 'iam', KAFKA_BROKERS: IAM_BROKERS })).toThrow(
      /AWS_REGION: is required/,
    );
  });
  it("reads MSK's IAM broker string under IAM", () => {
    expect(
      parseKafkaEnv({ KAFKA_AUTH: 'iam', KAFKA_BROKERS: IAM_BROKERS, AWS_REGION: 'eu-west-1' }),
    ).toEqual({
      auth: 'iam',
      brokers: [
        'b-1.orders.kafka.eu-west-1.amazonaws.com:9098',
        'b-2.orders.kafka.eu-west-1.amazonaws.com:9098',
      ],
      region: 'eu-west-1',
    });
  });
  it('rejects a malformed IAM broker string', () => {
    expect(() =>
      parseKafkaEnv({ KAFKA_AUTH: 'iam', KAFKA_BROKERS: 'b-1.orders', AWS_REGION: 'eu-west-1' }),
    ).toThrow(/not host:port/);
  });
  it('no longer reads KAFKA_CLUSTER_ARN: the cluster ARN alone does not configure IAM', () => {
    expect(() =>
      parseKafkaEnv({ KAFKA_AUTH: 'iam', KAFKA_CLUSTER_ARN: ARN, AWS_REGION: 'eu-west-1' }),
    ).toThrow(/KAFKA_BROKERS/);
  });
});

describe('parsePgEnv', () => {
  it('defaults to the local test database', () => {
    expect(parsePgEndpointEnv({})).toEqual({
      host: '127.0.0.1',
      port: 5432,
      database: 'test',
      user: 'postgres',
      iamAuth: false,
      region: undefined,
    });
  });
  it("has no default pool size or timeouts, locally either: they are the stage config's", () => {
    expect(() => parsePgEnv({})).toThrow(
      /PG_POOL_MAX: is required; it comes from the stage config/,
    );
    const pool = { PG_POOL_MAX: '2', PG_CONNECT_TIMEOUT_MS: '5000', PG_IDLE_TIMEOUT_MS: '60000' };
    expect(parsePgEnv(pool)).toEqual({
      ...parsePgEndpointEnv({}),
      poolMax: 2,
      timeouts: { connectTimeoutMs: 5_000, idleTimeoutMs: 60_000 },
    });
    for (const name of ['PG_CONNECT_TIMEOUT_MS', 'PG_IDLE_TIMEOUT_MS']) {
      const without: Record<string, string> = { ...pool };
      delete without[name];
      expect(() => parsePgEnv(without)).toThrow(
        `Environment variable ${name}: is required; it comes from the stage config`,
      );
    }
  });
  it('reads every variable', () => {
    expect(
      parsePgEnv({
        PGHOST: 'proxy.example',
        PGPORT: '6432',
        PGDATABASE: 'orders',
        PGUSER: 'app',
        PG_IAM_AUTH: 'true',
        AWS_REGION: 'eu-west-1',
        PG_POOL_MAX: '4',
        PG_CONNECT_TIMEOUT_MS: '3000',
        PG_IDLE_TIMEOUT_MS: '20000',
      }),
    ).toEqual({
      host: 'proxy.example',
      port: 6432,
      database: 'orders',
      user: 'app',
      iamAuth: true,
      region: 'eu-west-1',
      poolMax: 4,
      timeouts: { connectTimeoutMs: 3_000, idleTimeoutMs: 20_000 },
    });
  });
  it('requires AWS_REGION for IAM auth', () => {
    expect(() => parsePgEnv({ PG_IAM_AUTH: 'true' })).toThrow(/AWS_REGION/);
  });
  it.each([
    ['PGPORT', 'abc'],
    ['PGPORT', '70000'],
    ['PG_POOL_MAX', '0'],
    ['PG_POOL_MAX', '1.5'],
    ['PG_IAM_AUTH', 'yes'],
    ['PG_CONNECT_TIMEOUT_MS', '99'],
    ['PG_CONNECT_TIMEOUT_MS', '60001'],
    ['PG_IDLE_TIMEOUT_MS', '999'],
  ])('rejects %s=%s', (name, value) => {
    const pool = { PG_POOL_MAX: '2', PG_CONNECT_TIMEOUT_MS: '5000', PG_IDLE_TIMEOUT_MS: '60000' };
    expect(() => parsePgEnv({ ...pool, [name]: value })).toThrow(
      new RegExp(`^Environment variable ${name}`),
    );
  });
  it('treats empty strings as unset', () => {
    expect(parsePgEndpointEnv({ PGHOST: '', PGPORT: ' ' }).host).toBe('127.0.0.1');
  });
});

describe('parseMigrationsDir', () => {
  it('prefers MIGRATIONS_DIR', () => {
    expect(parseMigrationsDir({ MIGRATIONS_DIR: '/var/task/migrations' })).toBe(
      '/var/task/migrations',
    );
  });
  it('uses the folder next to the bundle inside Lambda', () => {
    expect(parseMigrationsDir({ LAMBDA_TASK_ROOT: '/var/task' })).toBe('/var/task/migrations');
  });
  it('defaults to the repo folder that holds the first migration', () => {
    const dir = parseMigrationsDir({});
    expect(dir.endsWith(join('lambdas', 'migrate', 'migrations'))).toBe(true);
    expect(existsSync(join(dir, '0001_initial-schema.sql'))).toBe(true);
  });
});

describe('cached accessors', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    resetEnvCache();
  });
  it('parse process.env once until reset', () => {
    resetEnvCache();
    vi.stubEnv('PG_POOL_MAX', '2');
    vi.stubEnv('PG_CONNECT_TIMEOUT_MS', '5000');
    vi.stubEnv('PG_IDLE_TIMEOUT_MS', '60000');
    vi.stubEnv('PGDATABASE', 'first');
    expect(getPgEnv().database).toBe('first');
    vi.stubEnv('PGDATABASE', 'second');
    expect(getPgEnv().database).toBe('first');
    resetEnvCache();
    expect(getPgEnv().database).toBe('second');
  });
});
