// A throwaway database with the project's migrations applied: one per integration test file,
// drill or benchmark, so runs never share state. Dropped (WITH FORCE) at the end.
import pg from 'pg';
import { runMigrationsWithNewClient } from '../../../lambdas/migrate/run-migrations';
import { pgClientConfig } from '../../../lambdas/shared/db/pool';
import { type PgEndpointEnv, type PgEnv, repoMigrationsDir } from '../../../lambdas/shared/env';
import type { LogSink } from '../../../lambdas/shared/log-sink';

export interface ScratchDatabase {
  readonly env: PgEnv;
  /** The same database as PG* variables, for child processes. */
  readonly envVars: Record<string, string>;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

const silent: LogSink = { error() {}, warn() {}, info() {}, debug() {} };

/** `name` must be a valid unquoted identifier (lower case, digits, underscores). */
export async function createScratchDatabase(
  base: PgEndpointEnv,
  name: string,
  options: { readonly poolMax?: number } = {},
): Promise<ScratchDatabase> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name "${name}"`);
  const admin = new pg.Client(pgClientConfig(base));
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const poolMax = options.poolMax ?? 10;
  const env: PgEnv = { ...base, database: name, poolMax };
  await runMigrationsWithNewClient(pgClientConfig(env), {
    dir: repoMigrationsDir(),
    logger: silent,
  });
  const pool = new pg.Pool({ ...pgClientConfig(env), max: poolMax });
  // pool.end() returns before every connection has closed, and DROP … WITH (FORCE) or a drill's
  // restart ends the stragglers (57P01): expected, not a failure; the pool replaces idle ones.
  pool.on('error', () => undefined);
  return {
    env,
    envVars: {
      PGHOST: env.host,
      PGPORT: String(env.port),
      PGDATABASE: env.database,
      PGUSER: env.user,
    },
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const c = new pg.Client(pgClientConfig(base));
      c.on('error', () => undefined);
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
