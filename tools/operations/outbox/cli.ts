// `npm run outbox -- list|show|release|discard`: the outbox rows the relay set aside.
// Exit codes: 0 done, 1 failure (no such row, not set aside), 2 usage error.
import { createPool } from '../../../lambdas/shared/db/pool';
import { EnvError, parsePgEnv } from '../../../lambdas/shared/env';
import { EXIT, run } from './actions';
import { parseCommand, USAGE, UsageError } from './args';

async function main(argv: readonly string[]): Promise<number> {
  let command: ReturnType<typeof parseCommand>;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`outbox: ${error.message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const pool = createPool(parsePgEnv(process.env), { applicationName: 'outbox-cli' });
  try {
    return await run(command, {
      pool,
      output: {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      },
    });
  } finally {
    await pool.end();
  }
}

// No top-level await: tsx runs this file as CommonJS ("type": "commonjs").
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `outbox: error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    const expected =
      error instanceof EnvError || (typeof error === 'object' && error !== null && 'code' in error);
    if (!expected && error instanceof Error && error.stack !== undefined) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exit(EXIT.failure);
  },
);
