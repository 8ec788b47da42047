// Local entry point: `tsx lambdas/migrate/cli.ts [up [N] | down [N]]` against the PG* variables,
// with the lock and connect timeouts of the stage config (STAGE names the stage; dev when unset
// or local), like the deployed function.

import { migrateSettings, pgTimeouts } from '../../lib/config/function-environment';
import { loadStageConfig } from '../../lib/config/stage-config';
import { pgClientConfig } from '../shared/db/pool';
import { ENV, getMigrationsDir, parsePgEndpointEnv } from '../shared/env';
import { logger } from '../shared/powertools';
import { parseMigrateArgs } from './cli-args';
import { runMigrationsWithNewClient } from './run-migrations';

// No top-level await: this file must also run where tsx treats it as CommonJS.
async function main(): Promise<void> {
  const { direction, count } = parseMigrateArgs(process.argv.slice(2));
  const stage = process.env[ENV.stage];
  const config = loadStageConfig(
    stage === undefined || stage === '' || stage === 'local' ? 'dev' : stage,
  );
  // A single client: no pool to size.
  const env = { ...parsePgEndpointEnv(process.env), timeouts: pgTimeouts(config) };
  logger.info('migrating', { direction, count, host: env.host, database: env.database });
  await runMigrationsWithNewClient(pgClientConfig(env, { applicationName: 'migrate-cli' }), {
    dir: getMigrationsDir(),
    direction,
    ...(count !== undefined ? { count } : {}),
    lockTimeoutMs: migrateSettings(config).lockTimeoutMs,
    logger,
  });
}

main().catch((error: unknown) => {
  logger.error('migration failed', { error });
  process.exitCode = 1;
});
