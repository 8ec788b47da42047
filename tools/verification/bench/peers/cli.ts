// Manual runs of the peers comparison outside `npm run bench`:
//   npx tsx tools/verification/bench/peers/cli.ts [--orders N] [--rate R] [--warmup MS] [--window MS] [--json]
// Defaults are the full sizes (30,000 orders = 90,000 backlog events; 1,000/s, 3 s + 20 s).
// Ctrl-C aborts the run and still tears everything down; a second Ctrl-C exits at once.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { endpointsEnv, ensureServices, REPO_ROOT } from '../../../local-runtime/services';
import { buildHelper } from '../bundles';
import { runWorker } from '../children';
import { measurePeers } from './measure';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string', default: '30000' },
      rate: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '3000' },
      window: { type: 'string', default: '20000' },
      stage: { type: 'string', default: 'dev' },
      json: { type: 'boolean', default: false },
    },
  });
  const started = Date.now();
  const progress = (line: string) => {
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`peers ${t}s  ${line}\n`);
  };
  const abort = new AbortController();
  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    progress('interrupted: tearing down (Ctrl-C again to exit at once)');
    abort.abort();
  });
  process.on('SIGTERM', () => process.exit(143));

  const config = loadStageConfig(values.stage as Parameters<typeof loadStageConfig>[0]);
  const services = await ensureServices({ progress: (l) => progress(`services: ${l}`) });
  const endpoints = endpointsEnv(services);
  Object.assign(process.env, endpoints);
  const workerFile = await buildHelper(
    path.join(REPO_ROOT, 'tools/verification/bench/worker.ts'),
    path.join(REPO_ROOT, '.cache', 'peers-cli', 'worker.mjs'),
  );
  const result = await measurePeers({
    progress,
    kafkaBrokers: endpoints.KAFKA_BROKERS ?? '127.0.0.1:9092',
    partitions: config.kafka.topics.orderEvents.partitions,
    relayBatchSize: config.outbox.relayBatchSize,
    runId: `c${Date.now().toString(36)}`,
    runWorker: (job) =>
      runWorker(workerFile, job, { env: { PATH: process.env.PATH ?? '' }, timeoutMs: 20 * 60_000 }),
    endpoints,
    stage: config.stage,
    sizes: {
      throughputOrders: Number(values.orders),
      ratePerSec: Number(values.rate),
      warmupMs: Number(values.warmup),
      windowMs: Number(values.window),
    },
    signal: abort.signal,
  });
  const row = (name: string, f: typeof result.relay) =>
    `${name.padEnd(9)} ${Math.round(f.eventsPerSec).toString().padStart(8)} ev/s   p50 ${f.commitToTopicMs.p50.toFixed(1).padStart(7)}  p95 ${f.commitToTopicMs.p95.toFixed(1).padStart(7)}  p99 ${f.commitToTopicMs.p99.toFixed(1).padStart(7)}  max ${f.commitToTopicMs.max.toFixed(1).padStart(7)} ms  samples ${f.commitToTopicMs.samples} missing ${f.commitToTopicMs.missing} dup ${f.duplicates}`;
  const lines = [
    `Debezium ${result.debeziumVersion} on Kafka Connect ${result.connectVersion} vs the relay (${Math.round(result.durationMs / 1000)} s)`,
    row('relay', result.relay),
    row('debezium', result.debezium),
    `relay/debezium throughput ratio ${(result.relay.eventsPerSec / result.debezium.eventsPerSec).toFixed(2)}`,
    'debezium settings:',
    ...Object.entries(result.debeziumSettings).map(([k, v]) => `  ${k}=${v}`),
    ...(result.notes.length > 0 ? ['notes:', ...result.notes.map((n) => `  - ${n}`)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `peers failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
