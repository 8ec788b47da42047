// A private redis-server for the drill that flushes and restarts Redis: a free port, no
// persistence (--save "" --appendonly no, like the shared one), a child of this process that
// is killed when the drill ends. The shared Redis on 6379 is never flushed or restarted.
import { type ChildProcess, spawn } from 'node:child_process';
import { createClient } from '@redis/client';
import { probeRedis } from '../../../local-runtime/services/redis';
import type { Progress } from '../../../local-runtime/services/report';
import { freePorts, onExit, signalPid, waitUntil } from './lifecycle';

const HOST = '127.0.0.1';

export interface PrivateRedis {
  readonly host: string;
  readonly port: number;
  /** REDIS_HOST / REDIS_PORT for child processes. */
  readonly envVars: Record<string, string>;
  /** FLUSHALL on this instance only. */
  flushAll(): Promise<void>;
  /** SIGKILL (crash) or SIGTERM; without persistence both lose every key. */
  stop(mode?: 'graceful' | 'kill'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(progress: Progress): Promise<PrivateRedis> {
  const [port] = (await freePorts(1)) as [number];
  let child: ChildProcess | undefined;
  let unregister: (() => void) | undefined;

  async function start(): Promise<void> {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
    const started = Date.now();
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (error) =>
        reject(new Error(`cannot start redis-server: ${error.message}`)),
      );
    });
    child = proc;
    const pid = proc.pid as number;
    unregister?.();
    unregister = onExit(() => signalPid(pid, 'SIGKILL'));
    const up = await waitUntil(async () => (await probeRedis({ host: HOST, port })).ok, 20_000);
    if (!up) throw new Error(`private redis-server on ${HOST}:${port} does not answer PING`);
    progress(`redis (private): up at ${HOST}:${port} in ${Date.now() - started} ms (pid ${pid})`);
  }

  async function stop(mode: 'graceful' | 'kill' = 'graceful'): Promise<void> {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    signalPid(proc.pid as number, mode === 'kill' ? 'SIGKILL' : 'SIGTERM');
    await exited;
    child = undefined;
    unregister?.();
    unregister = undefined;
  }

  await start();
  return {
    host: HOST,
    port,
    envVars: { REDIS_HOST: HOST, REDIS_PORT: String(port) },
    async flushAll() {
      const client = createClient({ socket: { host: HOST, port } });
      client.on('error', () => undefined);
      await client.connect();
      try {
        await client.flushAll();
      } finally {
        await client.quit().catch(() => undefined);
      }
    },
    stop,
    start,
    destroy: () => stop('kill'),
  };
}
