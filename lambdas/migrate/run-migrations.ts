// Schema migrations with node-pg-migrate on one explicit connection. node-pg-migrate takes a
// session advisory lock around the run, so two deploys (or a deploy and `npm run migrate`)
// never migrate at once; all pending files run in one transaction.
import { runner } from 'node-pg-migrate';
import type { ClientBase, ClientConfig } from 'pg';
import pg from 'pg';
import type { LogSink } from '../shared/log-sink';

export const MIGRATIONS_TABLE = 'pgmigrations';

export interface RunMigrationsOptions {
  /** A connected client; the caller closes it. */
  client: ClientBase;
  /** Folder with the migration files (`.sql` with `-- Up Migration` / `-- Down Migration`). */
  dir: string;
  direction?: 'up' | 'down';
  /** How many migrations; default all pending for up, 1 for down. */
  count?: number;
  logger: LogSink;
  /**
   * Bounds the wait for the advisory lock and for table locks taken by DDL, so a busy table
   * fails the deploy with a clear error instead of queueing every query behind it: the stage
   * config's `migrate.lockTimeoutMs` for the function and `npm run migrate`. Unset, PostgreSQL's
   * own lock_timeout applies (none): tools migrating a database of their own.
   */
  lockTimeoutMs?: number;
}

export interface MigrationOutcome {
  direction: 'up' | 'down';
  /** Names of the migrations that ran, in order (empty when the schema was current). */
  migrations: string[];
}

const LOCK_NOT_AVAILABLE = '55P03';

export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationOutcome> {
  const { client, logger } = options;
  const direction = options.direction ?? 'up';
  const { lockTimeoutMs } = options;
  if (lockTimeoutMs !== undefined) {
    await client.query(`SET lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
  }
  let ran: Awaited<ReturnType<typeof runner>>;
  try {
    ran = await runner({
      dbClient: client,
      dir: options.dir,
      direction,
      ...(options.count !== undefined ? { count: options.count } : {}),
      migrationsTable: MIGRATIONS_TABLE,
      singleTransaction: true,
      checkOrder: true,
      noLock: false,
      // Wait (bounded by lock_timeout) rather than fail at once: a concurrent run usually ends soon.
      advisoryLockMode: 'wait',
      logger: {
        // node-pg-migrate's progress lines are noise next to the summary logged below.
        debug: (msg: string) => logger.debug(msg),
        info: (msg: string) => logger.debug(msg),
        warn: (msg: string) => logger.warn(msg),
        error: (msg: string) => logger.error(msg),
      },
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) {
      throw new Error(
        `Migration lock not granted within ${lockTimeoutMs} ms: another migration is running ` +
          'or a table is locked by a long transaction',
        { cause: error },
      );
    }
    throw error;
  }
  const migrations = ran.map((m) => m.name);
  if (migrations.length === 0) logger.info('schema is up to date', { direction });
  else logger.info('migrations applied', { direction, migrations });
  return { direction, migrations };
}

/** Opens a dedicated connection (the advisory lock is per session), runs, and closes it. */
export async function runMigrationsWithNewClient(
  clientConfig: ClientConfig,
  options: Omit<RunMigrationsOptions, 'client'>,
): Promise<MigrationOutcome> {
  const client = new pg.Client(clientConfig);
  await client.connect();
  try {
    return await runMigrations({ ...options, client });
  } finally {
    await client.end();
  }
}
