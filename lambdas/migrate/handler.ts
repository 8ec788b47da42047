// Invoked by a CDK `triggers.Trigger` on every deploy. Throwing fails the invocation, which
// fails the deployment, so application code never runs against an unmigrated schema.

import { pgClientConfig } from '../shared/db/pool';
import { getFunctionEnv } from '../shared/env';
import { logger } from '../shared/powertools';
import type { MigrationOutcome } from './run-migrations';
import { runMigrationsWithNewClient } from './run-migrations';

// Parsed at module load: a missing variable fails the cold start, naming it.
const functionEnv = getFunctionEnv('migrate');

export const handler = async (): Promise<MigrationOutcome> => {
  try {
    return await runMigrationsWithNewClient(
      pgClientConfig(functionEnv.pg, { applicationName: 'migrate' }),
      {
        dir: functionEnv.migrationsDir,
        direction: 'up',
        lockTimeoutMs: functionEnv.migrate.lockTimeoutMs,
        logger,
      },
    );
  } catch (error) {
    logger.error('migration failed', { error });
    throw error;
  }
};
