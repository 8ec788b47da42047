// Machine and service versions recorded with every run (docs/BENCHMARKS.md quotes them).
import * as os from 'node:os';
import { createClient } from '@redis/client';
import type pg from 'pg';
import type { RedisEnv } from '../../../lambdas/shared/env';
import { localBrokerVersion } from '../../local-runtime/services';
import type { MachineInfo } from './report';

/** Settings that move PostgreSQL's commit-bound figures. */
const PG_SETTINGS = ['fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers'];

export async function machineInfo(pool: pg.Pool, redis: RedisEnv): Promise<MachineInfo> {
  const version = await pool.query<{ server_version: string }>('SHOW server_version');
  const settings = await pool.query<{ name: string; setting: string; unit: string | null }>(
    'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name',
    [PG_SETTINGS],
  );
  const client = createClient({ socket: { host: redis.host, port: redis.port } });
  await client.connect();
  let redisVersion: string;
  try {
    const info = await client.info('server');
    redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    await client.quit();
  }
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: version.rows[0]?.server_version ?? 'unknown',
    postgresSettings: Object.fromEntries(
      settings.rows.map((r) => [r.name, r.unit ? `${r.setting} × ${r.unit}` : r.setting]),
    ),
    redis: redisVersion,
    kafka: `Apache Kafka ${localBrokerVersion()} (KRaft, 1 broker)`,
    loadAverage1m: os.loadavg()[0] ?? 0,
  };
}
