// One relay process for the relay SIGKILL drill: the relay loop of the local pipeline with the
// stage's settings, pointed at the drill's database and topic (PG*, KAFKA_BROKERS,
// ORDER_EVENTS_TOPIC). Prints READY once connected and `ACKED <ids>` after each batch the
// broker acknowledged, before the rows are marked published: the drill checks afterwards
// whether a kill landed in that window. DRILL_ACK_PAUSE_MS (default 0) holds the batch there
// that long, like a slow database, to widen the window the on-ack kills aim at.
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { startRelayLoop } from '../../../local-runtime/pipeline';
import { stderrLogger } from './log';

async function main(): Promise<void> {
  const pauseMs = Number(process.env.DRILL_ACK_PAUSE_MS ?? '0') || 0;
  const relay = await startRelayLoop({
    config: loadStageConfig('dev'),
    env: process.env,
    ...(process.env.ORDER_EVENTS_TOPIC ? { topic: process.env.ORDER_EVENTS_TOPIC } : {}),
    logger: stderrLogger('relay'),
    afterPublish: async (rows) => {
      process.stdout.write(`ACKED ${rows.map((r) => r.id).join(',')}\n`);
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    },
  });
  process.stdout.write('READY\n');
  // SIGTERM: finish the current batch, then exit (the drill's final, unkilled run).
  process.once('SIGTERM', () => {
    relay.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`relay child failed: ${String(error)}\n`);
  process.exit(1);
});
