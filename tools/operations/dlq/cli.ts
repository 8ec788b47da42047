// `npm run dlq -- list|show|redrive|discard|recover`: triage of parked dead letters (issue 4).
// Exit codes: 0 done (also when nothing matched), 1 failure or aborted, 2 usage error or refusal.
import { EnvError, parseKafkaEnv, parsePgEnv } from '../../../lambdas/shared/env';
import { EXIT, errorText, isYes, run } from './actions';
import { parseCommand, USAGE, UsageError } from './args';
import {
  dlqPool,
  isInteractive,
  kafkaRedriveProducer,
  openOnFailureSource,
  poolDb,
  promptYesNo,
  stageRedriveTopics,
  stderrLogSink,
  stdioOutput,
} from './runtime';

async function main(argv: readonly string[]): Promise<number> {
  let command: ReturnType<typeof parseCommand>;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`dlq: ${error.message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const redriveTopics = stageRedriveTopics(process.env);
  const pool = dlqPool(parsePgEnv(process.env));
  const producer = kafkaRedriveProducer(parseKafkaEnv(process.env), stderrLogSink);
  try {
    return await run(command, {
      db: poolDb(pool),
      producer,
      output: stdioOutput,
      interactive: isInteractive(),
      confirm: (question) => promptYesNo(question, isYes),
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      openSource: openOnFailureSource,
      redriveTopics,
    });
  } finally {
    await Promise.allSettled([producer.close(), pool.end()]);
  }
}

// No top-level await: tsx runs this file as CommonJS ("type": "commonjs").
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`dlq: error: ${errorText(error)}\n`);
    // Configuration and connection/database errors (with a code) say what to fix; anything
    // else gets its stack for debugging.
    const expected =
      error instanceof EnvError || (typeof error === 'object' && error !== null && 'code' in error);
    if (!expected && error instanceof Error && error.stack !== undefined) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exit(EXIT.failure);
  },
);
