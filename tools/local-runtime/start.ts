// `npm start`: the whole pipeline on one machine. Services up, schema migrated, topics created
// as the deployment creates them; then the relay loop and the consumer and triage handlers
// (fed by the event-source-mapping emulator) run while a demo workload goes through the order
// API handler. Ends with an accounting of every event from the ground truth in PostgreSQL.
// The same handler answers HTTP on 127.0.0.1 throughout; `--serve` keeps it all running after.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTopics } from '../../lambdas/kafka-topics/ensure-topics';
import { runMigrationsWithNewClient } from '../../lambdas/migrate/run-migrations';
import { orderCommands } from '../../lambdas/order-api/commands';
import { createOrderApiHandler } from '../../lambdas/order-api/handler';
import { createOrderApi } from '../../lambdas/order-api/http';
import { toMessage } from '../../lambdas/outbox-relay/relay';
import { createPool, pgClientConfig } from '../../lambdas/shared/db/pool';
import {
  parseKafkaEnv,
  parseMigrationsDir,
  parsePgEndpointEnv,
  parseRedisEnv,
} from '../../lambdas/shared/env';
import { createKafka } from '../../lambdas/shared/kafka/client';
import type { LogFields, LogSink } from '../../lambdas/shared/log-sink';
import { METRIC_DIMENSION, SERVICES } from '../../lambdas/shared/metrics-catalog';
import { orderApiSettings } from '../../lib/config/function-environment';
import { loadStageConfig } from '../../lib/config/stage-config';
import { topicSpecs } from '../../lib/config/topics';
import { startLocalApi } from './api-server';
import { startLocalDashboard } from './dashboard';
import { type Accounting, account, drain, driveWorkload, Ledger, topicInjector } from './demo-run';
import { discardMetrics, type MetricSink } from './metric-sink';
import { startLocalPipeline } from './pipeline';
import { endpointsEnv, ensureServices, REPO_ROOT } from './services';
import { pacer, percentile, planWorkload, seededRandom } from './workload';

const USAGE = `Usage: npm start -- [--events N] [--rate R] [--dashboard] [--json]
  --events N    events the demo workload produces (default 2000)
  --rate R      events per second, 0 for as fast as possible (default 500)
  --dashboard   serve the local dashboard on 127.0.0.1 while the pipeline runs
  --port P      dashboard port (default 8787; 0 picks a free one)
  --api-port P  order API port on 127.0.0.1 (default 8080; 0 picks a free one)
  --serve       keep the pipeline and the order API running after the demo, until Ctrl-C
  --json        print the summary as one JSON object on the last line
  --seed S      workload seed (default: random)`;

interface StartArgs {
  readonly events: number;
  readonly rate: number;
  readonly dashboard: boolean;
  readonly port: number;
  readonly apiPort: number;
  readonly serve: boolean;
  readonly json: boolean;
  readonly seed: number;
}

export function parseStartArgs(argv: readonly string[]): StartArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      events: { type: 'string', default: '2000' },
      rate: { type: 'string', default: '500' },
      dashboard: { type: 'boolean', default: false },
      port: { type: 'string', default: '8787' },
      'api-port': { type: 'string', default: '8080' },
      serve: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError('');
  const int = (name: string, value: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
  return {
    events: int('events', values.events, 1, 1_000_000),
    rate: int('rate', values.rate, 0, 100_000),
    dashboard: values.dashboard,
    port: int('port', values.port, 0, 65_535),
    apiPort: int('api-port', values['api-port'], 0, 65_535),
    serve: values.serve,
    json: values.json,
    seed: values.seed === undefined ? Date.now() % 2 ** 31 : int('seed', values.seed, 0, 2 ** 31),
  };
}

class UsageError extends Error {}

/** JSON lines in a file: the handlers' logs would drown the progress on the terminal. */
function fileLogger(file: string): LogSink & { warnings: number; errors: number } {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '');
  const write = (level: string, message: string, fields: LogFields[]) =>
    appendFileSync(
      file,
      `${JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...Object.assign({}, ...fields) }, errorJson)}\n`,
    );
  const sink = {
    warnings: 0,
    errors: 0,
    error(message: string, ...fields: LogFields[]) {
      sink.errors++;
      write('ERROR', message, fields);
    },
    warn(message: string, ...fields: LogFields[]) {
      sink.warnings++;
      write('WARN', message, fields);
    },
    info: (message: string, ...fields: LogFields[]) => write('INFO', message, fields),
    debug() {},
  };
  return sink;
}

function errorJson(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

export interface StartSummary extends Accounting {
  readonly duplicatesSkipped: number;
  readonly duplicatesInjected: number;
  readonly deadLettered: number;
  readonly deadLetteredByType: Record<string, number>;
  readonly redriven: number;
  readonly apiRejected: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly latencySamples: number;
  readonly elapsedSeconds: number;
  readonly seed: number;
}

async function main(): Promise<void> {
  const args = parseStartArgs(process.argv.slice(2));
  const began = Date.now();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const config = loadStageConfig('dev');
  const endpoints = await ensureServices();
  const env = { ...process.env, ...endpointsEnv(endpoints) };
  const logFile = path.join(REPO_ROOT, '.cache', 'npm-start.log');
  const logger = fileLogger(logFile);

  // The functions' pools are sized by the stage config (pipeline.ts); these clients size their own.
  const pgEnv = parsePgEndpointEnv(env);
  await runMigrationsWithNewClient(pgClientConfig(pgEnv, { applicationName: 'npm-start' }), {
    dir: parseMigrationsDir(env),
    logger,
  });
  const kafka = createKafka({ clientId: 'npm-start', connection: parseKafkaEnv(env), logger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // One local broker holds one replica; partitions and configs are the stage's own.
    const specs = topicSpecs(config, 1);
    await ensureTopics(admin, specs, { logger });
  } finally {
    await admin.disconnect();
  }

  // Started before the pipeline: the store drops datapoints older than itself.
  const dashboard = args.dashboard
    ? await startLocalDashboard({
        config,
        port: args.port,
        probes: { pgEnv, redisEnv: parseRedisEnv(env), kafkaEnv: parseKafkaEnv(env), logger },
      })
    : undefined;
  if (dashboard) say(`Dashboard: ${dashboard.url}`);
  const metrics: MetricSink = dashboard?.store ?? discardMetrics;
  const latencies = new Map<string, number>();
  const duplicates = new Map<string, number>();
  const pool = createPool({ ...pgEnv, poolMax: 20 }, { applicationName: 'npm-start-workload' });
  const injectorProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await injectorProducer.connect();
  const ledger = new Ledger();
  const random = seededRandom(args.seed);
  const plan = planWorkload(args.events, random);
  let duplicatesInjected = 0;

  const pipeline = await startLocalPipeline({
    config,
    env,
    logger,
    metrics,
    groupSuffix: '',
    onApplied: (event, ms) => latencies.set(event.eventId, ms),
    onDuplicate: (event) => duplicates.set(event.eventId, (duplicates.get(event.eventId) ?? 0) + 1),
    // Redelivery, as a relay that died between publishing and marking would cause: a share
    // of the good events is sent again, byte for byte, before the batch is marked.
    afterPublish: async (rows) => {
      const again = rows.filter((r) => ledger.good.has(r.id) && random() < 0.03);
      if (again.length === 0) return;
      await injectorProducer.send({
        topic: config.kafka.topics.orderEvents.name,
        acks: -1,
        messages: again.map(toMessage),
      });
      duplicatesInjected += again.length;
    },
  });

  // The Lambda handler itself over a local router (file logger, dashboard metrics).
  const api = createOrderApiHandler({
    flushMetrics: () => {},
    api: () =>
      createOrderApi({
        commands: orderCommands(pool, { logger }),
        limits: orderApiSettings(config),
        logger: { ...logger, appendKeys() {}, removeKeys() {} },
        metrics: {
          addMetric: (name, _unit, value) =>
            metrics.put({
              namespace: config.observability.metricsNamespace,
              metricName: name,
              dimensions: { [METRIC_DIMENSION]: SERVICES.orderApi },
              value,
              timestamp: Date.now(),
            }),
        },
      }),
  });
  const httpApi = await startLocalApi({
    handler: api,
    port: args.apiPort,
    timeoutMs: config.functions.orderApi.timeoutSeconds * 1_000,
    functionName: config.functions.orderApi.name,
  });
  say(`Order API: ${httpApi.url} (try: curl ${httpApi.url}/health)`);
  const topic = pipeline.topics.orderEvents;
  const waitProcessed = async (eventId: string) => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { rowCount } = await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
        eventId,
      ]);
      if (rowCount) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  say(
    `npm start: ${args.events} events at ${args.rate > 0 ? `${args.rate}/s` : 'full speed'} ` +
      `(seed ${args.seed}); handler logs in ${path.relative(process.cwd(), logFile)}`,
  );
  const progress = () => {
    const c = pipeline.counts();
    const line =
      `[${((Date.now() - began) / 1000).toFixed(1).padStart(5)} s] produced ${ledger.produced}/${args.events}` +
      ` · published ${c.relay.published} · consumed ${c.consumer.applied + c.consumer.duplicates}` +
      ` · dead-lettered ${c.consumer.deadLettered} · redriven ${c.triage.redriven} · parked ${c.triage.parked}`;
    say(line);
  };
  const ticker = setInterval(progress, 1_000);

  const { rows: clock } = await pool.query<{ now: Date }>('SELECT now() AS now');
  const runStartedAt = clock[0]?.now;
  if (runStartedAt === undefined) throw new Error('PostgreSQL did not tell the time');
  let result: Accounting;
  try {
    await driveWorkload({
      plan,
      api,
      injector: topicInjector({
        producer: injectorProducer,
        topic,
        db: pool,
        ledger,
        waitProcessed,
      }),
      ledger,
      pace: pacer(args.rate),
      concurrency: 16,
    });
    result = await drain(() => account(pool, topic, ledger.items, runStartedAt), {
      stallMs: config.triage.redriveMaxDelayMs + 30_000,
    });
  } finally {
    clearInterval(ticker);
  }
  progress();
  const counts = pipeline.counts();
  const stopAll = async () => {
    await httpApi.close();
    await pipeline.stop();
    await injectorProducer.disconnect();
    await pool.end();
  };
  if (!args.serve) await stopAll();

  const ours = ledger.items
    .flatMap((i) => (i.eventId ? [latencies.get(i.eventId) ?? []] : []))
    .flat();
  const summary: StartSummary = {
    ...result,
    duplicatesSkipped: ledger.items.reduce(
      (n, i) => n + (i.eventId ? (duplicates.get(i.eventId) ?? 0) : 0),
      0,
    ),
    duplicatesInjected,
    deadLettered: counts.consumer.deadLettered + counts.consumerOnFailure,
    deadLetteredByType: { ...counts.consumer.deadLetteredByType },
    redriven: counts.triage.redriven,
    apiRejected: ledger.apiRejected,
    p50Ms: round(percentile(ours, 50)),
    p95Ms: round(percentile(ours, 95)),
    p99Ms: round(percentile(ours, 99)),
    latencySamples: ours.length,
    elapsedSeconds: Math.round((Date.now() - began) / 100) / 10,
    seed: args.seed,
  };
  process.stdout.write(`${formatSummary(summary, logger)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (summary.lost > 0 || summary.unexpected > 0) process.exitCode = 1;
  if (args.serve || dashboard) {
    say(
      [
        args.serve ? `Order API still at ${httpApi.url}, the pipeline behind it running` : '',
        dashboard ? `Dashboard still at ${dashboard.url}` : '',
      ]
        .filter(Boolean)
        .join('; ') + '; Ctrl-C to stop.',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    if (args.serve) await stopAll();
    await dashboard?.close();
  }
}

const round = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);

export function formatSummary(s: StartSummary, log?: { warnings: number; errors: number }): string {
  const byType = Object.entries(s.parkedByType)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  const rows: Array<[string, string]> = [
    ['produced', `${s.produced} (through the order API and a misbehaving producer)`],
    ['published', `${s.published} outbox rows published by the relay`],
    ['processed', `${s.processed} applied once (processed_events)`],
    [
      'duplicates skipped',
      `${s.duplicatesSkipped} (redelivered copies sent: ${s.duplicatesInjected})`,
    ],
    [
      'dead-lettered',
      `${s.deadLettered}${
        Object.keys(s.deadLetteredByType).length
          ? ` (${Object.entries(s.deadLetteredByType)
              .map(([t, n]) => `${t} ${n}`)
              .join(', ')})`
          : ''
      }`,
    ],
    ['redriven', String(s.redriven)],
    ['parked', `${s.parked}${byType ? ` (${byType})` : ''}`],
    ['lost', `${s.lost}${s.lost === 0 ? '' : '  <-- events neither processed nor parked'}`],
    ['not as planned', String(s.unexpected)],
    [
      'end-to-end latency',
      s.p50Ms === null
        ? 'no samples'
        : `p50 ${s.p50Ms} ms · p95 ${s.p95Ms} ms · p99 ${s.p99Ms} ms (${s.latencySamples} state changes)`,
    ],
    ['elapsed', `${s.elapsedSeconds} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const check = s.produced === s.processed + s.parked + s.lost ? 'adds up' : 'DOES NOT ADD UP';
  return [
    '',
    'Summary',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    `  produced = processed + parked + lost: ${s.produced} = ${s.processed} + ${s.parked} + ${s.lost} (${check})`,
    ...s.unexpectedExamples.map((e) => `  not as planned: ${e}`),
    ...(log && (log.warnings || log.errors)
      ? [`  handler log: ${log.warnings} warnings, ${log.errors} errors (.cache/npm-start.log)`]
      : []),
  ].join('\n');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message ? `${error.message}\n` : ''}${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `npm start failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}
