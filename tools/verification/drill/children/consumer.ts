// One consumer process for the consumer-kill drill: the consumer mapping of the local pipeline
// (emulator + consumeBatch, the stage's mapping settings) on the drill's topics and group
// (ORDER_EVENTS_TOPIC, DLQ_TOPIC, DRILL_CONSUMER_GROUP, PG*, REDIS_*, KAFKA_BROKERS). Prints
// READY once started and `APPLIED <eventId>` for each event applied, so the drill can kill it
// in the middle of a batch.
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { startConsumerMapping } from '../../../local-runtime/pipeline';
import { stderrLogger } from './log';

async function main(): Promise<void> {
  const env = process.env;
  const consumer = await startConsumerMapping({
    config: loadStageConfig('dev'),
    env,
    logger: stderrLogger('consumer'),
    ...(env.ORDER_EVENTS_TOPIC ? { topic: env.ORDER_EVENTS_TOPIC } : {}),
    ...(env.DLQ_TOPIC ? { deadLetterTopic: env.DLQ_TOPIC } : {}),
    ...(env.DRILL_CONSUMER_GROUP ? { groupId: env.DRILL_CONSUMER_GROUP } : {}),
    onApplied: (event) => process.stdout.write(`APPLIED ${event.eventId}\n`),
  });
  process.stdout.write('READY\n');
  process.once('SIGTERM', () => {
    consumer.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`consumer child failed: ${String(error)}\n`);
  process.exit(1);
});
