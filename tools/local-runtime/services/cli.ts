// `npm run services -- up | down [--wipe] | status`: local PostgreSQL, Redis and Kafka.
// Progress goes to stderr; `status` prints one line per service on stdout.
import { EnvError } from '../../../lambdas/shared/env';
import { stopKafka } from './kafka-broker';
import { describePostgres, postgresEndpoint, postgresEnv } from './postgres';
import { describeRedis, parseRedisEnv } from './redis';
import { elapsed, errorMessage, ServiceError, stderrProgress } from './report';
import { ensureServices, formatStatus, servicesStatus } from './services';

const USAGE = `usage: npm run services -- <command>
  up            start what is down (Kafka broker from Maven Central jars) and wait until healthy
  down [--wipe] stop the local Kafka broker (--wipe also deletes its data); PostgreSQL and Redis keep running
  status        one line per service; exit code 0 only when all three answer`;

async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'up': {
      if (rest.length > 0) break;
      const started = Date.now();
      const endpoints = await ensureServices();
      stderrProgress(
        endpoints.started.length > 0
          ? `all services up in ${elapsed(started)} (started: ${endpoints.started.join(', ')})`
          : `all services were already up; nothing changed (${elapsed(started)})`,
      );
      return 0;
    }
    case 'down': {
      const wipe = rest.includes('--wipe');
      if (rest.some((a) => a !== '--wipe')) break;
      await stopKafka({ progress: stderrProgress, wipe });
      stderrProgress(
        `postgres (${describePostgres(postgresEndpoint(postgresEnv()))}) and redis (${describeRedis(parseRedisEnv(process.env))}) are the machine's; left running`,
      );
      return 0;
    }
    case 'status': {
      if (rest.length > 0) break;
      const statuses = await servicesStatus();
      process.stdout.write(`${formatStatus(statuses)}\n`);
      return statuses.every((s) => s.up) ? 0 : 1;
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      break;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

// No top-level await: tsx runs this file as CommonJS ("type": "commonjs").
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Expected failures say what to do; anything else gets its stack for debugging.
    const expected = error instanceof ServiceError || error instanceof EnvError;
    process.stderr.write(`services: error: ${errorMessage(error)}\n`);
    if (!expected && error instanceof Error && error.stack !== undefined) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exit(1);
  },
);
