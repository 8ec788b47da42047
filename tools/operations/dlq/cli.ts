// `npm run dlq -- list|show|redrive|discard|recover`: triage of parked dead letters (issue 4).
// Exit codes: 0 done (also when nothing matched), 1 failure or aborted, 2 usage error or refusal.
import { parseKafkaEnv } from '../../../lambdas/shared/env';
import { cliPool, main, stdioOutput } from '../cli';
import { isYes, run } from './actions';
import { parseCommand, USAGE } from './args';
import {
  isInteractive,
  kafkaRedriveProducer,
  openOnFailureSource,
  poolDb,
  promptYesNo,
  stageKafkaClient,
  stageRedriveTopics,
  stderrLogSink,
} from './runtime';

main({
  name: 'dlq',
  usage: USAGE,
  parse: parseCommand,
  async run(command) {
    const redriveTopics = stageRedriveTopics(process.env);
    const pool = cliPool('dlq');
    const producer = kafkaRedriveProducer(
      parseKafkaEnv(process.env),
      stderrLogSink,
      stageKafkaClient(process.env),
    );
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
  },
});
