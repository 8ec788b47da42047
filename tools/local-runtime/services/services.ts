// The three local services behind one call: `ensureServices()` for scripts (test global setup,
// `npm start`), `servicesStatus()` for `status`, `stopKafka()` for `down`.
import type { KafkaResult } from './kafka-broker';
import { ensureKafka, kafkaStatus } from './kafka-broker';
import type { PostgresEndpoint } from './postgres';
import {
  describePostgres,
  ensurePostgres,
  postgresEndpoint,
  postgresEnv,
  probePostgres,
} from './postgres';
import type { RedisEndpoint } from './redis';
import { describeRedis, ensureRedis, parseRedisEnv, probeRedis } from './redis';
import type { Progress } from './report';
import { stderrProgress } from './report';

export type ServiceName = 'kafka' | 'postgres' | 'redis';

export interface ServiceEndpoints {
  readonly kafka: KafkaResult;
  readonly postgres: PostgresEndpoint;
  readonly redis: RedisEndpoint;
  /** What this call had to start; empty when everything already answered (a no-op). */
  readonly started: readonly ServiceName[];
}

export interface EnsureServicesOptions {
  /** Progress lines; default `services: ...` on stderr. Pass `silentProgress` to mute. */
  readonly progress?: Progress;
  /** Bound on "broker started -> produce and group fetch succeed"; default 90 s. */
  readonly kafkaHealthTimeoutMs?: number;
  /** Where endpoints are read from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Makes PostgreSQL, Redis and Kafka answer, starting what is local and down. Idempotent: when
 * everything already answers it changes nothing (the returned `started` is empty).
 */
export async function ensureServices(
  options: EnsureServicesOptions = {},
): Promise<ServiceEndpoints> {
  const progress = options.progress ?? stderrProgress;
  const env = options.env ?? process.env;
  const pgEnv = postgresEnv(env);
  const redis = parseRedisEnv(env);
  // The machine's services first (quick), then the broker (may fetch jars and start a JVM).
  const [postgres, redisResult] = await Promise.all([
    ensurePostgres(pgEnv, progress),
    ensureRedis(redis, progress),
  ]);
  const kafka = await ensureKafka({
    progress,
    env,
    ...(options.kafkaHealthTimeoutMs !== undefined
      ? { healthTimeoutMs: options.kafkaHealthTimeoutMs }
      : {}),
  });
  const started: ServiceName[] = [];
  if (kafka.started) started.push('kafka');
  if (postgres.started) started.push('postgres');
  if (redisResult.started) started.push('redis');
  return { kafka, postgres: postgres.endpoint, redis: redisResult.endpoint, started };
}

/** The environment variables that point other processes at these endpoints. */
export function endpointsEnv(endpoints: ServiceEndpoints): Record<string, string> {
  return {
    KAFKA_BROKERS: endpoints.kafka.brokers.join(','),
    PGHOST: endpoints.postgres.host,
    PGPORT: String(endpoints.postgres.port),
    PGUSER: endpoints.postgres.user,
    PGDATABASE: endpoints.postgres.database,
    REDIS_HOST: endpoints.redis.host,
    REDIS_PORT: String(endpoints.redis.port),
  };
}

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly up: boolean;
  readonly endpoint: string;
  readonly detail: string;
}

/** One entry per service; checks run in parallel and never start or stop anything. */
export async function servicesStatus(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServiceStatus[]> {
  const pgEnv = postgresEnv(env);
  const redis = parseRedisEnv(env);
  const [kafka, pg, rd] = await Promise.all([
    kafkaStatus(env),
    probePostgres(pgEnv),
    probeRedis(redis),
  ]);
  return [
    { name: 'kafka', up: kafka.up, endpoint: kafka.brokers.join(','), detail: kafka.detail },
    {
      name: 'postgres',
      up: pg.ok,
      endpoint: describePostgres(postgresEndpoint(pgEnv)),
      detail: pg.ok ? 'select 1 ok' : pg.reason,
    },
    {
      name: 'redis',
      up: rd.ok,
      endpoint: describeRedis(redis),
      detail: rd.ok ? 'PING ok' : rd.reason,
    },
  ];
}

export function formatStatus(statuses: readonly ServiceStatus[]): string {
  return statuses
    .map(
      (s) => `${s.name.padEnd(9)}${(s.up ? 'up' : 'down').padEnd(6)}${s.endpoint}  (${s.detail})`,
    )
    .join('\n');
}
