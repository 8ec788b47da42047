// RDS analogues from the local PostgreSQL: CPUUtilization (CPU share of the postmaster and its
// backends from /proc deltas against the machine's total), DatabaseConnections (client backends
// in pg_stat_activity) and FreeStorageSpace (statfs of the data directory).
import pg from 'pg';
import { pgClientConfig } from '../../../../lambdas/shared/db/pool';
import type { PgEndpointEnv } from '../../../../lambdas/shared/env';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import type { MetricIdentity } from '../store';
import { cpuTotalTicks, filesystemUsage, processTreeTicks, readProcStat } from './fs';
import { type Gauge, type GaugeGroup, isLoopback } from './types';

export interface PostgresGaugeOptions {
  readonly pgEnv: PgEndpointEnv;
  readonly logger: LogSink;
  readonly cpu: readonly MetricIdentity[];
  readonly connections: readonly MetricIdentity[];
  readonly freeStorage: readonly MetricIdentity[];
  /** procfs root; tests of the parsing use fixtures, everything else the real one. */
  readonly proc?: string;
}

const POSTMASTER_NAMES = new Set(['postgres', 'postmaster']);

export function postgresGauges(options: PostgresGaugeOptions): GaugeGroup {
  const { pgEnv, logger } = options;
  const proc = options.proc ?? '/proc';
  // One connection is enough for three queries a period; the pool replaces a broken one.
  const pool = new pg.Pool({
    ...pgClientConfig(pgEnv, { applicationName: 'local-dashboard' }),
    max: 1,
    idleTimeoutMillis: 30_000,
  });
  let poolFailureLogged = false;
  pool.on('error', (error) => {
    if (poolFailureLogged) return;
    poolFailureLogged = true;
    logger.warn('local dashboard: idle PostgreSQL connection failed', { error });
  });

  const local = isLoopback(pgEnv.host);
  const notLocal = (): Error =>
    new Error(`PostgreSQL at ${pgEnv.host} is not on this machine; its files are out of reach`);

  let postmasterPid: number | undefined;
  const postmaster = async (): Promise<number> => {
    if (postmasterPid !== undefined) {
      const s = await readProcStat(postmasterPid, proc).catch(() => undefined);
      if (s !== undefined && POSTMASTER_NAMES.has(s.comm)) return postmasterPid;
      postmasterPid = undefined; // restarted: resolve again
    }
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backendPid = rows[0]?.pid;
    if (backendPid === undefined) throw new Error('pg_backend_pid() returned no row');
    // Our own backend is a child of the postmaster; checking names guards against a server in
    // another PID namespace, whose backend pid means something else here.
    const backend = await readProcStat(backendPid, proc);
    const parent = await readProcStat(backend.ppid, proc);
    if (!POSTMASTER_NAMES.has(backend.comm) || !POSTMASTER_NAMES.has(parent.comm)) {
      throw new Error(
        `process ${backendPid} is not a local PostgreSQL backend (${backend.comm} under ${parent.comm})`,
      );
    }
    postmasterPid = parent.pid;
    return parent.pid;
  };

  let previous: { server: number; total: number } | undefined;
  const cpuPercent = async (): Promise<number | undefined> => {
    if (!local) throw notLocal();
    const pid = await postmaster();
    const [server, total] = await Promise.all([processTreeTicks(pid, proc), cpuTotalTicks(proc)]);
    const last = previous;
    previous = { server, total };
    // A rate needs two samples; a restarted server resets its counters.
    if (last === undefined || total <= last.total || server < last.server) return undefined;
    return (100 * (server - last.server)) / (total - last.total);
  };

  let dataDirectory: Promise<string> | undefined;
  let fallbackLogged = false;
  const storagePath = (): Promise<string> => {
    dataDirectory ??= pool
      .query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`)
      .then((r) => r.rows[0]?.dir ?? '/')
      .catch((error: unknown) => {
        // Reading data_directory needs superuser or pg_read_all_settings.
        if ((error as { code?: string }).code !== '42501') {
          dataDirectory = undefined;
          throw error;
        }
        if (!fallbackLogged) {
          fallbackLogged = true;
          logger.info('local dashboard: data_directory not readable; FreeStorageSpace uses /', {
            reason: error instanceof Error ? error.message : String(error),
          });
        }
        return '/';
      });
    return dataDirectory;
  };

  const gauges: Gauge[] = [
    ...options.cpu.map(
      (metric): Gauge => ({
        metric,
        source: 'CPU share of the local PostgreSQL server processes (/proc)',
        read: cpuPercent,
      }),
    ),
    ...options.connections.map(
      (metric): Gauge => ({
        metric,
        source: 'client backends in pg_stat_activity',
        read: async () => {
          const { rows } = await pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`,
          );
          return rows[0]?.n;
        },
      }),
    ),
    ...options.freeStorage.map(
      (metric): Gauge => ({
        metric,
        source: 'available bytes on the filesystem of the PostgreSQL data directory',
        read: async () => {
          if (!local) throw notLocal();
          return (await filesystemUsage(await storagePath())).availableBytes;
        },
      }),
    ),
  ];
  return { gauges, close: () => pool.end() };
}
