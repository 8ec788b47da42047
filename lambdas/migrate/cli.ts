// Local entry point: `tsx lambdas/migrate/cli.ts [up [N] | down [N]]` against the PG* variables.

import { pgClientConfig } from '../shared/db/pool';
import { getMigrationsDir, parsePgEndpointEnv } from '../shared/env';
import { logger } from '../shared/powertools';
import { parseMigrateArgs } from './cli-args';
import { runMigrationsWithNewClient } from './run-migrations';

// No top-level await: this file must also run where tsx treats it as CommonJS.
async function main(): Promise<void> {
  const { direction, count } = parseMigrateArgs(process.argv.slice(2));
  // A single client: no pool to size.
  const env = parsePgEndpointEnv(process.env);
  logger.info('migrating', { direction, count, host: env.host, database: env.database });
  await runMigrationsWithNewClient(pgClientConfig(env, { applicationName: 'migrate-cli' }), {
    dir: getMigrationsDir(),
    direction,
    ...(count !== undefined ? { count } : {}),
    logger,
  });
}

main().catch((error: unknown) => {
  logger.error('migration failed', { error });
  process.exitCode = 1;
});
