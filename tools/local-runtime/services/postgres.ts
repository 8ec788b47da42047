// PostgreSQL is the machine's: probe it with a real query; if a local server is
// down, start the installed cluster with pg_ctlcluster. Never stopped by this tool.
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { pgClientConfig } from '../../../lambdas/shared/db/pool';
import type { PgEndpointEnv } from '../../../lambdas/shared/env';
import { parsePgEndpointEnv } from '../../../lambdas/shared/env';
import { runCommand, sleep } from './process';
import type { Progress } from './report';
import { elapsed, errorMessage, ServiceError } from './report';

export interface PostgresEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host);
}

export function postgresEnv(env: NodeJS.ProcessEnv = process.env): PgEndpointEnv {
  return parsePgEndpointEnv(env);
}

export function postgresEndpoint(env: PgEndpointEnv): PostgresEndpoint {
  return { host: env.host, port: env.port, user: env.user, database: env.database };
}

export function describePostgres(e: PostgresEndpoint): string {
  return `${e.user}@${e.host}:${e.port}/${e.database}`;
}

/** Connects and runs `select 1`. Errors other than "nothing listens" are reported as they are. */
export async function probePostgres(
  env: PgEndpointEnv,
): Promise<ProbeResult & { refused?: boolean }> {
  const client = new pg.Client({
    ...pgClientConfig(env, { applicationName: 'services-tool' }),
    connectionTimeoutMillis: 3_000,
  });
  // An error after connect (server shutting down) must not crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ ok: number }>('select 1 as ok');
    if (result.rows[0]?.ok !== 1) return { ok: false, reason: 'select 1 returned no row' };
    return { ok: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const refused = code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET';
    // 57P03: "the database system is starting up".
    return { ok: false, reason: errorMessage(error), refused: refused || code === '57P03' };
  } finally {
    await client.end().catch(() => {});
  }
}

function startCommand(): { command: string; args: string[] } {
  let versions: string[];
  try {
    versions = readdirSync('/etc/postgresql').filter((v) => /^\d+$/.test(v));
  } catch {
    versions = [];
  }
  const version = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (version === undefined) {
    throw new ServiceError('PostgreSQL is down and no cluster is configured in /etc/postgresql');
  }
  return {
    command: 'pg_ctlcluster',
    args: ['--skip-systemctl-redirect', version, 'main', 'start'],
  };
}

/** Makes PostgreSQL answer `select 1`, starting the local cluster if it is down. */
export async function ensurePostgres(
  env: PgEndpointEnv,
  progress: Progress,
  timeoutMs = 30_000,
): Promise<{ endpoint: PostgresEndpoint; started: boolean }> {
  const endpoint = postgresEndpoint(env);
  const where = describePostgres(endpoint);
  const first = await probePostgres(env);
  if (first.ok) {
    progress(`postgres: up at ${where}`);
    return { endpoint, started: false };
  }
  if (first.refused !== true) {
    throw new ServiceError(`PostgreSQL at ${where} answers but fails: ${first.reason}`);
  }
  if (!isLoopback(env.host)) {
    throw new ServiceError(
      `PostgreSQL at ${where} is not reachable (${first.reason}); it is not local, so it is not started here`,
    );
  }
  const { command, args } = startCommand();
  const shown = `${command} ${args.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new ServiceError(
      `PostgreSQL at ${where} is down (${first.reason}); start it as root: ${shown}`,
    );
  }
  const started = Date.now();
  progress(`postgres: down (${first.reason}); starting: ${shown}`);
  const run = await runCommand(command, args, { timeoutMs });
  // Exit 2 from pg_ctlcluster means "already running": the probe below decides.
  if (run.code !== 0 && run.code !== 2) {
    throw new ServiceError(
      `\`${shown}\` failed (exit ${run.code}):\n${`${run.stdout}${run.stderr}`.trim()}`,
    );
  }
  let last = first.reason;
  while (Date.now() - started < timeoutMs) {
    const probe = await probePostgres(env);
    if (probe.ok) {
      progress(`postgres: up at ${where} after ${elapsed(started)}`);
      return { endpoint, started: true };
    }
    last = probe.reason;
    if (probe.refused !== true) break;
    await sleep(500);
  }
  throw new ServiceError(
    `PostgreSQL at ${where} does not answer after \`${shown}\` (${elapsed(started)}): ${last}`,
  );
}
