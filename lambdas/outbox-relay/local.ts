// Local process adapter: runs the same relay loop until SIGINT/SIGTERM (npm start, tests).
import { parseKafkaEnv, parsePgEnv, parseRelayEnv } from '../shared/env';
import { logger } from '../shared/powertools';
import { runRelay } from './relay';
import { createRelayRuntime, relayOptions } from './runtime';

async function main(): Promise<void> {
  const rt = await createRelayRuntime({
    pgEnv: parsePgEnv(process.env),
    kafkaEnv: parseKafkaEnv(process.env),
    relayEnv: parseRelayEnv(process.env),
  });
  let running = true;
  // The loop finishes its current batch, then stops.
  const stop = () => {
    running = false;
    rt.deps.wake.interrupt();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await runRelay(rt.deps, relayOptions(rt.env, { shouldContinue: () => running }));
  await rt.close();
}

main().catch((error: unknown) => {
  logger.error('relay failed', { error });
  process.exitCode = 1;
});
