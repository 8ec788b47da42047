// ElastiCache DatabaseMemoryUsagePercentage from the local Redis: INFO memory used_memory over
// maxmemory (what ElastiCache reports), or over total_system_memory when maxmemory is 0.
import { createClient } from '@redis/client';
import type { RedisEnv } from '../../../../lambdas/shared/env';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import type { MetricIdentity } from '../store';
import { type Gauge, type GaugeGroup, NoLocalAnalogue } from './types';

/** Parses `INFO memory` and returns the used share in percent. */
export function memoryUsagePercent(info: string): number {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const num = (name: string): number | undefined => {
    const raw = fields.get(name);
    const n = raw === undefined ? Number.NaN : Number(raw);
    return Number.isFinite(n) ? n : undefined;
  };
  const used = num('used_memory');
  if (used === undefined) throw new Error('INFO memory has no used_memory');
  const max = num('maxmemory') ?? 0;
  const limit = max > 0 ? max : num('total_system_memory');
  if (limit === undefined || limit <= 0) {
    throw new Error('INFO memory has neither maxmemory nor total_system_memory');
  }
  return (100 * used) / limit;
}

function connect(env: RedisEnv) {
  const socket = {
    host: env.host,
    port: env.port,
    connectTimeout: 2_000,
    // No background reconnects: the next period's read opens a fresh connection.
    reconnectStrategy: false as const,
  };
  return createClient({
    socket: env.tls ? { ...socket, tls: true as const } : socket,
    // Fail a command at once while disconnected instead of queueing it past the next period.
    disableOfflineQueue: true,
  });
}

export interface RedisGaugeOptions {
  readonly redisEnv: RedisEnv;
  readonly logger: LogSink;
  /** One metric per cache node of the stage; the local Redis stands in for the first only. */
  readonly memory: readonly MetricIdentity[];
}

export function redisGauges(options: RedisGaugeOptions): GaugeGroup {
  const { redisEnv } = options;
  type Client = ReturnType<typeof connect>;
  let client: Client | undefined;
  let connecting: Promise<Client> | undefined;

  const ready = (): Promise<Client> => {
    if (client?.isReady) return Promise.resolve(client);
    if (redisEnv.authSecretArn !== undefined) {
      return Promise.reject(
        new Error('REDIS_AUTH_SECRET_ARN is set: the local dashboard only reads an open Redis'),
      );
    }
    connecting ??= (async () => {
      const stale = client;
      client = undefined;
      if (stale?.isOpen) stale.destroy();
      const fresh = connect(redisEnv);
      // Without a listener a socket error would crash the process; failures surface per read.
      fresh.on('error', () => undefined);
      await fresh.connect();
      client = fresh;
      return fresh;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  const ids = options.memory
    .map((m) => m.dimensions.CacheClusterId ?? '')
    .sort((a, b) => a.localeCompare(b));
  const gauges = options.memory.map((metric): Gauge => {
    const id = metric.dimensions.CacheClusterId ?? '';
    const first = id === ids[0];
    return {
      metric,
      source: first
        ? `INFO memory of the local Redis (${redisEnv.host}:${redisEnv.port})`
        : 'none: the local Redis is a single node',
      read: async () => {
        if (!first) {
          throw new NoLocalAnalogue(
            `the local Redis is one node; it stands in for ${ids[0]}, not ${id}`,
          );
        }
        const c = await ready();
        return memoryUsagePercent(String(await c.info('memory')));
      },
    };
  });

  return {
    gauges,
    async close() {
      await connecting?.catch(() => undefined);
      if (client?.isOpen) await client.close();
      client = undefined;
    },
  };
}
