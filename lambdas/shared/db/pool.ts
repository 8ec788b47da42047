// PostgreSQL connections: one small pool per execution environment (docs/ARCHITECTURE.md §3).
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { Signer } from '@aws-sdk/rds-signer';
import type { ClientConfig, PoolConfig } from 'pg';
import pg from 'pg';
import type { PgEndpointEnv, PgEnv, PgTimeouts } from '../env';
import { getObservabilityEnv, getPgEnv } from '../env';
import { logger } from '../powertools';

export type TokenProvider = () => Promise<string>;

/** RDS IAM auth token (valid 15 min); signed locally, no network call. */
export function rdsTokenProvider(env: PgEndpointEnv): TokenProvider {
  if (env.region === undefined) throw new Error('RDS IAM auth needs AWS_REGION');
  const signer = new Signer({
    hostname: env.host,
    port: env.port,
    username: env.user,
    region: env.region,
  });
  return () => signer.getAuthToken();
}

export interface ClientOptions {
  /** Shown in pg_stat_activity; defaults to the Powertools service name. */
  applicationName?: string;
  /** Replaces the RDS signer (tests). Only used when IAM auth is on. */
  tokenProvider?: TokenProvider;
}

/**
 * Connection settings shared by the pool and by single clients (e.g. migrations). A function's
 * endpoint carries the stage config's timing (`database.connectTimeoutMs`): a cold start then
 * fails quickly instead of hanging until the Lambda timeout. A tool passing the endpoint alone
 * keeps pg's own (no connect timeout) or sets its own.
 */
export function pgClientConfig(
  env: PgEndpointEnv & { readonly timeouts?: PgTimeouts },
  options: ClientOptions = {},
): ClientConfig {
  const config: ClientConfig = {
    host: env.host,
    port: env.port,
    database: env.database,
    user: env.user,
    application_name: options.applicationName ?? getObservabilityEnv().serviceName,
    ...(env.timeouts ? { connectionTimeoutMillis: env.timeouts.connectTimeoutMs } : {}),
  };
  if (env.secretArn !== undefined) return { ...config, ...secretPassword(env.secretArn) };
  if (!env.iamAuth) return config;
  const token = options.tokenProvider ?? rdsTokenProvider(env);
  return {
    ...config,
    // pg calls this for every new connection, so tokens never go stale in a long-lived pool.
    password: token,
    // IAM auth requires TLS; verify the server certificate (RDS Proxy uses a public ACM cert;
    // direct RDS needs NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem on Lambda).
    ssl: { rejectUnauthorized: true },
  };
}

/**
 * The password from a Secrets Manager secret (RDS's `{username, password, ...}` JSON), read for
 * each new connection through the Powertools cache, so a rotated password is picked up. Only
 * the migration function logs in this way, directly to the instance, which forces TLS.
 */
function secretPassword(secretArn: string): Pick<ClientConfig, 'password' | 'ssl'> {
  return {
    password: async () => {
      const secret = await getSecret<{ password?: unknown }>(secretArn, { transform: 'json' });
      if (typeof secret?.password !== 'string') {
        throw new Error('the database secret holds no password');
      }
      return secret.password;
    },
    ssl: { rejectUnauthorized: true },
  };
}

export function poolConfig(env: PgEnv, options: ClientOptions = {}): PoolConfig {
  return {
    ...pgClientConfig(env, options),
    max: env.poolMax,
    // RDS Proxy closes idle client connections itself; the stage config's idle timeout keeps
    // ours from outliving them (`database.idleTimeoutMs`).
    ...(env.timeouts ? { idleTimeoutMillis: env.timeouts.idleTimeoutMs } : {}),
  };
}

export function createPool(env: PgEnv, options: ClientOptions = {}): pg.Pool {
  const pool = new pg.Pool(poolConfig(env, options));
  // An idle client losing its connection emits here; without a listener the process crashes.
  pool.on('error', (error) => logger.warn('idle PostgreSQL client failed', { error }));
  // The pool stops listening while a client is checked out (e.g. the relay holding its
  // transaction across the broker's acknowledgement); a server crash then would be uncaught.
  // The caller's next query fails and it releases the client with the error.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn('PostgreSQL connection lost', { error }));
  });
  return pool;
}

let shared: pg.Pool | undefined;

/** The execution environment's pool, created on first use from PG* variables. */
export function getPool(): pg.Pool {
  shared ??= createPool(getPgEnv());
  return shared;
}

/** Ends the shared pool (CLI tools and tests; Lambda environments just freeze). */
export async function closePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.end();
}
