// Redis is the machine's: probe it with a RESP PING over a plain socket (no client
// dependency); if a local server is down, start redis-server daemonized. Never stopped here.
import { connect } from 'node:net';
import { parseRedisEnv as parseSharedRedisEnv } from '../../../lambdas/shared/env';
import type { ProbeResult } from './postgres';
import { isLoopback } from './postgres';
import { runCommand, sleep } from './process';
import type { Progress } from './report';
import { elapsed, errorMessage, ServiceError } from './report';

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * REDIS_HOST / REDIS_PORT with local defaults. lambdas/shared/env.ts has no Redis section yet;
 * this parser follows its rules (trimmed, empty = unset, integer port in range).
 */
/** The Redis endpoint from the shared env contract (lambdas/shared/env.ts). */
export function parseRedisEnv(env: Readonly<Record<string, string | undefined>>): RedisEndpoint {
  try {
    const { host, port } = parseSharedRedisEnv(env);
    return { host, port };
  } catch (error) {
    throw new ServiceError(error instanceof Error ? error.message : String(error));
  }
}

export function describeRedis(e: RedisEndpoint): string {
  return `${e.host}:${e.port}`;
}

/** Sends `PING` as a RESP array and expects `+PONG`. */
export function probeRedis(
  e: RedisEndpoint,
  timeoutMs = 3_000,
): Promise<ProbeResult & { refused?: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: e.host, port: e.port });
    let reply = '';
    const done = (result: ProbeResult & { refused?: boolean }) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () =>
      done({ ok: false, reason: `no reply within ${timeoutMs} ms` }),
    );
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const end = reply.indexOf('\r\n');
      if (end === -1) return;
      const line = reply.slice(0, end);
      if (line === '+PONG') done({ ok: true });
      // "-LOADING ..." while a dump loads: up soon, so treat like "not yet".
      else
        done({
          ok: false,
          reason: `PING answered "${line}"`,
          refused: line.startsWith('-LOADING'),
        });
    });
    socket.once('error', (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      done({ ok: false, reason: errorMessage(error), refused: code === 'ECONNREFUSED' });
    });
  });
}

function startArgs(port: number): string[] {
  return [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    '/var/lib/redis',
    '--logfile',
    '/var/log/redis/ci.log',
  ];
}

/** Makes Redis answer PING, starting a local redis-server if nothing listens. */
export async function ensureRedis(
  endpoint: RedisEndpoint,
  progress: Progress,
  timeoutMs = 20_000,
): Promise<{ endpoint: RedisEndpoint; started: boolean }> {
  const where = describeRedis(endpoint);
  const first = await probeRedis(endpoint);
  if (first.ok) {
    progress(`redis: up at ${where}`);
    return { endpoint, started: false };
  }
  if (first.refused !== true) {
    throw new ServiceError(`Redis at ${where} answers but fails: ${first.reason}`);
  }
  if (!isLoopback(endpoint.host)) {
    throw new ServiceError(
      `Redis at ${where} is not reachable (${first.reason}); it is not local, so it is not started here`,
    );
  }
  const args = startArgs(endpoint.port);
  const shown = `redis-server ${args.map((a) => (a === '' ? '""' : a)).join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new ServiceError(
      `Redis at ${where} is down (${first.reason}); start it as root: ${shown}`,
    );
  }
  const started = Date.now();
  progress(`redis: down (${first.reason}); starting: ${shown}`);
  const run = await runCommand('redis-server', args, { timeoutMs });
  if (run.code !== 0) {
    throw new ServiceError(
      `\`${shown}\` failed (exit ${run.code}):\n${`${run.stdout}${run.stderr}`.trim()}`,
    );
  }
  let last = first.reason;
  while (Date.now() - started < timeoutMs) {
    const probe = await probeRedis(endpoint);
    if (probe.ok) {
      progress(`redis: up at ${where} after ${elapsed(started)}`);
      return { endpoint, started: true };
    }
    last = probe.reason;
    if (probe.refused !== true) break;
    await sleep(300);
  }
  throw new ServiceError(
    `Redis at ${where} does not answer after starting it (${elapsed(started)}): ${last}; see /var/log/redis/ci.log`,
  );
}
