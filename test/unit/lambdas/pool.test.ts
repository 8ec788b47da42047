import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createPool,
  pgClientConfig,
  poolConfig,
  rdsTokenProvider,
} from '../../../lambdas/shared/db/pool';
import { parsePgEndpointEnv, parsePgEnv, pgPoolEnvironment } from '../../../lambdas/shared/env';
import { pgTimeouts } from '../../../lib/config/function-environment';
import type { StageConfig } from '../../../lib/config/stage-config';
import { configuredEnv, TEST_STAGE_CONFIG } from '../../fixtures/function-env';

/** The local endpoint defaults, the stage config's pool size and timeouts. */
const local = parsePgEnv(configuredEnv());
const iam = parsePgEnv({
  PGHOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
  PGUSER: 'app',
  PG_IAM_AUTH: 'true',
  AWS_REGION: 'eu-west-1',
  PG_POOL_MAX: '3',
  PG_CONNECT_TIMEOUT_MS: '4000',
  PG_IDLE_TIMEOUT_MS: '30000',
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('pgClientConfig', () => {
  it('connects without password or TLS locally', () => {
    const config = pgClientConfig(local, { applicationName: 'test' });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 5432,
      database: 'test',
      user: 'postgres',
      application_name: 'test',
    });
    expect(config.password).toBeUndefined();
    expect(config.ssl).toBeUndefined();
    expect(config.connectionTimeoutMillis).toBe(TEST_STAGE_CONFIG.database.connectTimeoutMs);
  });

  it("takes the connect timeout from the function's environment, nothing of its own", () => {
    expect(pgClientConfig(iam, { tokenProvider: async () => 't' }).connectionTimeoutMillis).toBe(
      4_000,
    );
    // A tool's own client from the endpoint alone: pg's default, no copy of the stage's value.
    expect(pgClientConfig(parsePgEndpointEnv({})).connectionTimeoutMillis).toBeUndefined();
  });

  it('uses a fresh IAM token per connection and verifies TLS', async () => {
    let n = 0;
    const config = pgClientConfig(iam, { tokenProvider: async () => `token-${++n}` });
    expect(config.ssl).toEqual({ rejectUnauthorized: true });
    expect(typeof config.password).toBe('function');
    if (typeof config.password !== 'function') throw new Error('unreachable');
    expect(await config.password()).toBe('token-1');
    expect(await config.password()).toBe('token-2');
  });
});

describe('rdsTokenProvider', () => {
  it('signs a token for the host, port and user offline', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    // Signing is local arithmetic: any non-empty credentials will do.
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-a-real-key-for-offline-signing');
    const token = await rdsTokenProvider(iam)();
    expect(token).toMatch(/^proxy\.proxy-abc\.eu-west-1\.rds\.amazonaws\.com:5432\/\?/);
    expect(token).toContain('Action=connect');
    expect(token).toContain('DBUser=app');
    expect(token).toContain('X-Amz-Signature=');
  });

  it('needs a region', () => {
    expect(() => rdsTokenProvider({ ...iam, region: undefined })).toThrow(/AWS_REGION/);
  });
});

describe('pool', () => {
  it('is small and sized from PG_POOL_MAX', () => {
    expect(poolConfig(local).max).toBe(2);
    expect(poolConfig(iam, { tokenProvider: async () => 't' }).max).toBe(3);
  });

  it('times out connecting and idling as the stage config says, through the environment', () => {
    const changed: StageConfig = {
      ...TEST_STAGE_CONFIG,
      database: { ...TEST_STAGE_CONFIG.database, connectTimeoutMs: 2_500, idleTimeoutMs: 15_000 },
    };
    for (const config of [TEST_STAGE_CONFIG, changed]) {
      const env = parsePgEnv(
        pgPoolEnvironment(config.database.poolMaxPerEnvironment, pgTimeouts(config)),
      );
      expect(poolConfig(env)).toMatchObject({
        max: config.database.poolMaxPerEnvironment,
        connectionTimeoutMillis: config.database.connectTimeoutMs,
        idleTimeoutMillis: config.database.idleTimeoutMs,
      });
    }
    expect(poolConfig(iam, { tokenProvider: async () => 't' }).idleTimeoutMillis).toBe(30_000);
    // A tool's own pool without the stage's timing keeps pg's defaults.
    expect(poolConfig({ ...parsePgEndpointEnv({}), poolMax: 1 }).idleTimeoutMillis).toBeUndefined();
  });

  it('creates a pg Pool with an idle error listener', async () => {
    const pool = createPool(local);
    try {
      expect(pool.options.max).toBe(2);
      expect(pool.options.idleTimeoutMillis).toBe(TEST_STAGE_CONFIG.database.idleTimeoutMs);
      expect(pool.options.connectionTimeoutMillis).toBe(
        TEST_STAGE_CONFIG.database.connectTimeoutMs,
      );
      expect(pool.listenerCount('error')).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
