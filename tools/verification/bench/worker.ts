// Child-process entry of `npm run bench` (bundled like a Lambda function and run with plain
// `node`): each job runs one function's work in its own process, through the lead's local
// pipeline module (the relay loop, and the consumer and triage handlers behind the MSK
// event-source-mapping emulator), so its peak RSS is that function's alone.
import type { MSKEvent } from 'aws-lambda';
import { orderCommands } from '../../../lambdas/order-api/commands';
import { createOrderApiHandler } from '../../../lambdas/order-api/handler';
import { createOrderApi } from '../../../lambdas/order-api/http';
import { createConsumerHandler } from '../../../lambdas/order-consumer/handler';
import { createConsumerRuntime } from '../../../lambdas/order-consumer/runtime';
import { createPool } from '../../../lambdas/shared/db/pool';
import {
  consumerEnvironment,
  parseConsumerEnv,
  parseKafkaEnv,
  parsePgEnv,
  parseRedisEnv,
  pgPoolEnvironment,
} from '../../../lambdas/shared/env';
import { METRICS } from '../../../lambdas/shared/metrics-catalog';
import {
  consumerSettings,
  orderApiSettings,
  pgTimeouts,
} from '../../../lib/config/function-environment';
import { loadStageConfig, type StageName } from '../../../lib/config/stage-config';
import { dataFor } from '../../fixtures/order-events';
import { startMapping } from '../../local-runtime/esm-emulator';
import { httpEvent } from '../../local-runtime/http-event';
import { lambdaContext } from '../../local-runtime/lambda-context';
import type { MetricDatum, MetricSink } from '../../local-runtime/metric-sink';
import {
  startConsumerMapping,
  startRelayLoop,
  startTriageMapping,
} from '../../local-runtime/pipeline';
import { type ChildMessage, countingLogger, type ParentMessage, type WorkerJob } from './protocol';
import { dueAtMs, dueCount, summarize, windowRate, workloadAction } from './stats';

type Job<K extends WorkerJob['kind']> = Extract<WorkerJob, { kind: K }>;
type Result = Record<string, unknown>;

const send = (message: ChildMessage) =>
  new Promise<void>((resolve) => {
    if (process.send === undefined) throw new Error('bench worker must be forked with IPC');
    process.send(message, () => resolve());
  });

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function peakRssMb(): number {
  // maxRSS is in kilobytes.
  return process.resourceUsage().maxRSS / 1024;
}

/** The next message of `type` from the parent. */
function next<T extends ParentMessage['type']>(
  type: T,
): Promise<Extract<ParentMessage, { type: T }>> {
  return new Promise((resolve) => {
    const listener = (message: ParentMessage) => {
      if (message.type !== type) return;
      process.off('message', listener);
      resolve(message as Extract<ParentMessage, { type: T }>);
    };
    process.on('message', listener);
  });
}

interface Throughput {
  readonly eventsPerSec: number | null;
  readonly first: { readonly count: number; readonly atMs: number } | null;
  readonly last: { readonly count: number; readonly atMs: number };
  readonly timedOut: boolean;
}

/**
 * Polls a counter until it reaches `expected`. The rate is taken between the first progress
 * seen and completion (stats.windowRate), so connecting and joining the group do not count.
 */
async function throughput(count: () => number, expected: number, timeoutMs: number) {
  const started = performance.now();
  let first: Throughput['first'] = null;
  for (;;) {
    const now = performance.now();
    const n = count();
    if (first === null && n > 0) first = { count: n, atMs: now - started };
    if (n >= expected || now - started > timeoutMs) {
      const last = { count: n, atMs: now - started };
      const eventsPerSec =
        first !== null && last.atMs > first.atMs
          ? windowRate(first.count, first.atMs, last.count, last.atMs)
          : null;
      return { eventsPerSec, first, last, timedOut: n < expected } satisfies Throughput;
    }
    await sleep(2);
  }
}

const THROUGHPUT_TIMEOUT_MS = 15 * 60_000;

/** Keeps the values of the named metrics the pipeline module records (for a time breakdown). */
function collecting(names: readonly string[]): MetricSink & { summary(): Result } {
  const values = new Map<string, number[]>(names.map((n) => [n, []]));
  return {
    put(datum: MetricDatum) {
      values.get(datum.metricName)?.push(datum.value);
    },
    summary: () =>
      Object.fromEntries(
        [...values.entries()]
          .filter(([, v]) => v.length > 0)
          .map(([name, v]) => [name, { ...summarize(v), total: v.reduce((a, b) => a + b, 0) }]),
      ),
  };
}

function common(job: WorkerJob) {
  const stageConfig = loadStageConfig(job.stage as StageName);
  // The naive consumer run changes the one setting it compares (every other one as staged).
  const config =
    job.kind === 'consumer' && job.chunkSize !== undefined
      ? { ...stageConfig, consumer: { ...stageConfig.consumer, chunkSize: job.chunkSize } }
      : stageConfig;
  // The function's pool size and client timeouts as the data stack sets them.
  const env = {
    ...job.env,
    ...pgPoolEnvironment(config.database.poolMaxPerEnvironment, pgTimeouts(config)),
  };
  return { config, env, logger: countingLogger() };
}

function logSummary(logger: ReturnType<typeof countingLogger>) {
  return { warnings: logger.warnings, errors: logger.errors, samples: logger.samples };
}

async function relay(job: Job<'relay'>): Promise<Result> {
  const { config, env, logger } = common(job);
  // publishDuration: broker send + mark + commit of one batch (relay.ts publishBatch).
  const metrics = collecting([METRICS.publishDuration, METRICS.publishBatchSize]);
  const running = await startRelayLoop({ config, env, logger, metrics, topic: job.topic });
  const measured = await throughput(
    () => running.counters.published,
    job.expected,
    THROUGHPUT_TIMEOUT_MS,
  );
  const summary = await running.stop();
  return {
    ...measured,
    summary,
    metrics: metrics.summary(),
    log: logSummary(logger),
    peakRssMb: peakRssMb(),
  };
}

/**
 * The consumer as one execution environment: createConsumerRuntime and consumeBatch behind the
 * emulator with one invocation at a time, each of up to the mapping's batch size (the pipeline
 * module's mapping runs one per partition at once).
 */
async function consumerOneEnvironment(job: Job<'consumer'>): Promise<Result> {
  const { config, env, logger } = common(job);
  const counts = { applied: 0, duplicates: 0, deadLettered: 0 };
  const chunks = collecting([METRICS.eventProcessingDuration]);
  const kafkaEnv = parseKafkaEnv(env);
  const rt = await createConsumerRuntime({
    pgEnv: parsePgEnv(env),
    kafkaEnv,
    redisEnv: parseRedisEnv(env),
    consumerEnv: parseConsumerEnv({
      ...env,
      ...consumerEnvironment({ ...consumerSettings(config), deadLetterTopic: job.deadLetterTopic }),
    }),
    logger,
    telemetry: {
      applied: () => counts.applied++,
      duplicate: () => counts.duplicates++,
      deadLettered: () => counts.deadLettered++,
      chunkDuration: (ms) =>
        chunks.put({
          namespace: '',
          metricName: METRICS.eventProcessingDuration,
          dimensions: {},
          value: ms,
          timestamp: 0,
        }),
    },
  });
  const fn = config.functions.orderConsumer;
  const lambdaHandler = createConsumerHandler({
    runtime: async () => rt,
    logger,
    flushMetrics: () => {},
  });
  const mapping = await startMapping({
    kafkaEnv,
    topic: job.topic,
    mapping: { ...config.mappings.orderConsumer, consumerGroupId: job.groupId },
    // The Lambda handler itself over this runtime, with the function's timeout per invocation.
    handler: (event) =>
      lambdaHandler(event as unknown as MSKEvent, lambdaContext(fn.name, fn.timeoutSeconds * 1000)),
    onFailureTopic: job.deadLetterTopic,
    logger,
    partitionConcurrency: 1,
  });
  const measured = await throughput(
    () => counts.applied + counts.duplicates + counts.deadLettered,
    job.expected,
    THROUGHPUT_TIMEOUT_MS,
  );
  const stats = mapping.stats();
  await mapping.stop();
  await rt.close();
  return {
    ...measured,
    counters: { ...counts },
    mapping: stats,
    metrics: chunks.summary(),
    log: logSummary(logger),
    peakRssMb: peakRssMb(),
  };
}

async function consumer(job: Job<'consumer'>): Promise<Result> {
  if (job.oneEnvironment === true) return consumerOneEnvironment(job);
  const { config, env, logger } = common(job);
  // eventProcessingDuration: one chunk (idempotency gate + group commit) of a partition.
  const metrics = collecting([METRICS.eventProcessingDuration]);
  const running = await startConsumerMapping({
    config,
    env,
    logger,
    metrics,
    topic: job.topic,
    deadLetterTopic: job.deadLetterTopic,
    groupId: job.groupId,
  });
  const c = running.counters;
  const measured = await throughput(
    () => c.applied + c.duplicates + c.deadLettered,
    job.expected,
    THROUGHPUT_TIMEOUT_MS,
  );
  const counters = { ...c, deadLetteredByType: { ...c.deadLetteredByType } };
  const mapping = running.mapping.stats();
  await running.stop();
  return {
    ...measured,
    counters,
    mapping,
    metrics: metrics.summary(),
    log: logSummary(logger),
    peakRssMb: peakRssMb(),
  };
}

async function triage(job: Job<'triage'>): Promise<Result> {
  const { config, env, logger } = common(job);
  const running = await startTriageMapping({
    config,
    env,
    logger,
    topic: job.topic,
    redriveTopic: job.redriveTopic,
    backstopDirectory: job.backstopDirectory,
    groupId: job.groupId,
  });
  const c = running.counters;
  const measured = await throughput(
    () => c.parked + c.redriven,
    job.expected,
    THROUGHPUT_TIMEOUT_MS,
  );
  const counters = { ...c };
  const mapping = running.mapping.stats();
  await running.stop();
  return { ...measured, counters, mapping, log: logSummary(logger), peakRssMb: peakRssMb() };
}

async function e2eRelay(job: Job<'e2e-relay'>): Promise<Result> {
  const { config, env, logger } = common(job);
  const running = await startRelayLoop({ config, env, logger, topic: job.topic });
  await send({ type: 'ready' });
  await next('stop');
  const summary = await running.stop();
  return { summary, log: logSummary(logger), peakRssMb: peakRssMb() };
}

async function e2eConsumer(job: Job<'e2e-consumer'>): Promise<Result> {
  const { config, env, logger } = common(job);
  const timestamps: number[] = [];
  const latencies: number[] = [];
  const running = await startConsumerMapping({
    config,
    env,
    logger,
    topic: job.topic,
    deadLetterTopic: job.deadLetterTopic,
    groupId: job.groupId,
    onApplied(event, endToEndMs) {
      timestamps.push(Date.parse(event.timestamp));
      latencies.push(endToEndMs);
    },
  });
  await send({ type: 'ready' });
  const finish = await next('finish');
  const waitStarted = Date.now();
  while (
    running.counters.applied < finish.expectedApplied &&
    Date.now() - waitStarted < finish.timeoutMs
  ) {
    await sleep(20);
  }
  const inWindow = latencies.filter((_, i) => {
    const at = timestamps[i] as number;
    return at >= finish.windowFrom && at < finish.windowTo;
  });
  const counters = {
    ...running.counters,
    deadLetteredByType: { ...running.counters.deadLetteredByType },
  };
  const mapping = running.mapping.stats();
  await running.stop();
  return {
    latency: inWindow.length > 0 ? summarize(inWindow) : null,
    counters,
    notApplied: Math.max(0, finish.expectedApplied - counters.applied),
    mapping,
    log: logSummary(logger),
    peakRssMb: peakRssMb(),
  };
}

/**
 * The order API at a fixed rate, open loop: every request is started when it is due, whatever
 * is still in flight (stats.dueCount), through the Lambda handler itself with API Gateway
 * (payload 2.0) events.
 */
async function e2eWriter(job: Job<'e2e-writer'>): Promise<Result> {
  const config = loadStageConfig(job.stage as StageName);
  const pool = createPool(
    parsePgEnv({ ...job.env, ...pgPoolEnvironment(job.poolMax, pgTimeouts(config)) }),
    { applicationName: 'bench-order-api' },
  );
  const silent = () => undefined;
  const handler = createOrderApiHandler({
    flushMetrics: silent,
    api: () =>
      createOrderApi({
        commands: orderCommands(pool),
        limits: orderApiSettings(loadStageConfig(job.stage as StageName)),
        logger: {
          error: silent,
          warn: silent,
          info: silent,
          debug: silent,
          appendKeys: silent,
          removeKeys: silent,
        },
      }),
  });
  const fn = loadStageConfig(job.stage as StageName).functions.orderApi;
  const total = Math.round((job.ratePerSec * job.durationMs) / 1000);
  const acceptedByType: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let maxLateMs = 0;
  let started = 0;
  let done = 0;

  await send({ type: 'ready' });
  const startedAt = Date.now();
  const t0 = performance.now();
  const launch = (index: number) => {
    maxLateMs = Math.max(maxLateMs, performance.now() - t0 - dueAtMs(index, job.ratePerSec));
    const action = workloadAction(index, job.lag);
    const orderId = `${job.runId}-${action.order}`;
    const data = dataFor(action.eventType, orderId);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const event =
      action.eventType === 'OrderPlaced'
        ? httpEvent({ method: 'POST', path: '/orders', body: data })
        : httpEvent({
            method: 'POST',
            path: `/orders/${orderId}/events`,
            body: { eventType: action.eventType, data },
          });
    handler(event, lambdaContext(fn.name, fn.timeoutSeconds * 1000))
      .then((result) => {
        if (result.statusCode === 202) {
          acceptedByType[action.eventType] = (acceptedByType[action.eventType] ?? 0) + 1;
        } else {
          errors++;
          if (errorSamples.length < 5) {
            errorSamples.push(`${action.eventType}: ${result.statusCode} ${result.body ?? ''}`);
          }
        }
      })
      .catch((error: unknown) => {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${action.eventType}: ${String(error)}`);
      })
      .finally(() => {
        inFlight--;
        done++;
      });
  };
  while (done < total) {
    const due = dueCount(performance.now() - t0, job.ratePerSec, total);
    while (started < due) launch(started++);
    await sleep(1);
  }
  const elapsedMs = performance.now() - t0;
  await pool.end();
  const written = Object.values(acceptedByType).reduce((s, n) => s + n, 0);
  return {
    startedAt,
    total,
    written,
    acceptedByType,
    errors,
    errorSamples,
    achievedPerSec: (total * 1000) / elapsedMs,
    maxInFlight,
    maxLateMs,
    peakRssMb: peakRssMb(),
  };
}

async function run(job: WorkerJob): Promise<Result> {
  switch (job.kind) {
    case 'relay':
      return relay(job);
    case 'consumer':
      return consumer(job);
    case 'triage':
      return triage(job);
    case 'e2e-relay':
      return e2eRelay(job);
    case 'e2e-consumer':
      return e2eConsumer(job);
    case 'e2e-writer':
      return e2eWriter(job);
  }
}

next('start')
  .then(({ job }) => run(job))
  .then((result) => send({ type: 'result', result }))
  .catch((error: unknown) =>
    send({
      type: 'error',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    }),
  )
  .finally(() => process.exit(0));
