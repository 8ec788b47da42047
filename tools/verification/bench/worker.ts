// Child-process entry of `npm run bench` (bundled like a Lambda function and run with plain
// `node`): each job runs one function's work in its own process, through the lead's local
// pipeline module (the relay loop, and the consumer and triage handlers behind the MSK
// event-source-mapping emulator), so its peak RSS is that function's alone. The consumer's
// concurrent runs keep only the emulator (the Lambda service's side) here and start this same
// file again as `consumer-environment` jobs: one process per execution environment.
import type { MSKEvent } from 'aws-lambda';
import { orderCommands } from '../../../lambdas/order-api/commands';
import { createOrderApiHandler } from '../../../lambdas/order-api/handler';
import { createOrderApi } from '../../../lambdas/order-api/http';
import type { ConsumerTelemetry } from '../../../lambdas/order-consumer/consumer';
import { createConsumerHandler } from '../../../lambdas/order-consumer/handler';
import {
  type ConsumerRuntime,
  consumerTelemetry,
  createConsumerRuntime,
} from '../../../lambdas/order-consumer/runtime';
import { createPool } from '../../../lambdas/shared/db/pool';
import {
  consumerEnvironment,
  parseConsumerEnv,
  parseKafkaEnv,
  parsePgEnv,
  parseRedisEnv,
  pgPoolEnvironment,
} from '../../../lambdas/shared/env';
import { METRICS, type MetricEmitter } from '../../../lambdas/shared/metrics-catalog';
import {
  consumerSettings,
  orderApiSettings,
  pgTimeouts,
} from '../../../lib/config/function-environment';
import { loadStageConfig, type StageName } from '../../../lib/config/stage-config';
import { dataFor } from '../../fixtures/order-events';
import { type RunningMapping, startMapping } from '../../local-runtime/esm-emulator';
import { httpEvent } from '../../local-runtime/http-event';
import { lambdaContext } from '../../local-runtime/lambda-context';
import type { MetricDatum, MetricSink } from '../../local-runtime/metric-sink';
import {
  startConsumerMapping,
  startRelayLoop,
  startTriageMapping,
} from '../../local-runtime/pipeline';
import { emptyCounts, mergeMetricValues, takeCounts } from './environment-slots';
import { type Environments, maxPeakRssMb, startEnvironments } from './environments';
import {
  type ChildMessage,
  countingLogger,
  type EnvironmentResult,
  type ParentMessage,
  type WorkerJob,
} from './protocol';
import { dueAtMs, dueCount, summarize, windowRate, workloadAction, writerOf } from './stats';

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

/** CPU time this process has used, in ms. */
function cpuMs(): { readonly user: number; readonly system: number } {
  const { user, system } = process.cpuUsage();
  return { user: Math.round(user / 1000), system: Math.round(system / 1000) };
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
async function throughput(
  count: () => number,
  expected: number,
  timeoutMs: number,
  /** A failure that ends the wait (a crashed execution environment). */
  failure: () => Error | undefined = () => undefined,
) {
  const started = performance.now();
  let first: Throughput['first'] = null;
  for (;;) {
    const failed = failure();
    if (failed !== undefined) throw failed;
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

/** Each metric's summary (and total), for the metrics that have values. */
function metricSummary(values: Readonly<Record<string, readonly number[]>>): Result {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => v.length > 0)
      .map(([name, v]) => [name, { ...summarize(v), total: v.reduce((a, b) => a + b, 0) }]),
  );
}

/** Keeps the values of the named metrics the pipeline module records (for a time breakdown). */
function collecting(
  names: readonly string[],
): MetricSink & { summary(): Result; values(): Record<string, number[]> } {
  const values = new Map<string, number[]>(names.map((n) => [n, []]));
  return {
    put(datum: MetricDatum) {
      values.get(datum.metricName)?.push(datum.value);
    },
    values: () => Object.fromEntries(values.entries()),
    summary: () => metricSummary(Object.fromEntries(values.entries())),
  };
}

function common(job: WorkerJob) {
  const stageConfig = loadStageConfig(job.stage as StageName);
  // The naive consumer run changes the one setting it compares (every other one as staged).
  const config =
    (job.kind === 'consumer' || job.kind === 'consumer-environment') && job.chunkSize !== undefined
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
  // publishDuration: one batch from its send to its committed mark (relay.ts drainPass).
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

/** An invocation with no records: sets a runtime up the way the first batch would. */
const EMPTY_BATCH = { eventSource: 'aws:kafka', records: {} } as unknown as MSKEvent;

/** How often an execution environment reports what it counted while an invocation runs. */
const PROGRESS_INTERVAL_MS = 100;

/** An execution environment outlives no run: the worker's own limit (bench.ts), and a margin. */
const ENVIRONMENT_TIMEOUT_MS = THROUGHPUT_TIMEOUT_MS + 5 * 60_000;

/**
 * One execution environment of the consumer function (a process of its own, started by the
 * worker below): the runtime built as the Lambda builds it (createConsumerRuntime with the
 * stage's pool size per environment, the consumer settings, the dead-letter topic, breakers)
 * behind the Lambda handler itself, warmed up as startConsumerMapping warms its one. Each
 * `invoke` runs the handler with a Lambda context and answers with the handler's response and
 * what the telemetry hooks counted since the last message (progress goes after chunks, at
 * most every PROGRESS_INTERVAL_MS); `stop` closes the runtime.
 */
async function executionEnvironment(job: Job<'consumer-environment'>): Promise<Result> {
  // Its worker is the Lambda service: an environment without one has nothing left to do.
  process.on('disconnect', () => process.exit(1));
  const { config, env, logger } = common(job);
  const counts = emptyCounts();
  let progressSentAt = Number.NEGATIVE_INFINITY;
  let applied: Array<[number, number]> = [];
  const metrics = collecting([
    METRICS.eventProcessingDuration,
    METRICS.circuitBreakerStateChange,
    METRICS.circuitBreakerOpened,
  ]);
  const put = (metricName: string, value: number) =>
    metrics.put({ namespace: '', metricName, dimensions: {}, value, timestamp: 0 });
  const emit: MetricEmitter = (metricName, _unit, value) => put(metricName, value);
  // The function's own telemetry (its metrics), with the bench's counters after each call.
  const own = consumerTelemetry(emit);
  const telemetry: ConsumerTelemetry = {
    ...own,
    applied(event, endToEndMs) {
      own.applied(event, endToEndMs);
      counts.applied++;
      if (job.reportApplied === true) applied.push([Date.parse(event.timestamp), endToEndMs]);
    },
    duplicate(event) {
      own.duplicate(event);
      counts.duplicates++;
    },
    deadLettered(errorType) {
      own.deadLettered(errorType);
      counts.deadLettered++;
      counts.deadLetteredByType[errorType] = (counts.deadLetteredByType[errorType] ?? 0) + 1;
    },
    chunkDuration(ms, records) {
      own.chunkDuration(ms, records);
      // The first chunk's at once (where a measured rate starts), then at most one message
      // per PROGRESS_INTERVAL_MS: a message per chunk would cost the naive run (1 record per
      // chunk) an IPC write per record. Not awaited: IPC keeps the order, so the invocation's
      // answer, which carries the rest, comes after it.
      const now = performance.now();
      if (now - progressSentAt < PROGRESS_INTERVAL_MS) return;
      progressSentAt = now;
      void send({ type: 'progress', counts: takeCounts(counts) });
    },
  };
  let runtime: ConsumerRuntime | undefined;
  const fn = config.functions.orderConsumer;
  const lambdaHandler = createConsumerHandler({
    runtime: async () => {
      runtime = await createConsumerRuntime({
        pgEnv: parsePgEnv(env),
        kafkaEnv: parseKafkaEnv(env),
        redisEnv: parseRedisEnv(env),
        consumerEnv: parseConsumerEnv({
          ...env,
          ...consumerEnvironment({
            ...consumerSettings(config),
            deadLetterTopic: job.deadLetterTopic,
          }),
        }),
        logger,
        breakerMetrics: { addMetric: (name, _unit, value) => put(name, value) },
        telemetry,
      });
      return runtime;
    },
    logger,
    flushMetrics: () => {},
  });
  const context = () => lambdaContext(fn.name, fn.timeoutSeconds * 1000);
  await lambdaHandler(EMPTY_BATCH, context());
  const rt = runtime as ConsumerRuntime;

  let invocations = 0;
  const inFlight = new Set<Promise<void>>();
  const invoke = async (message: Extract<ParentMessage, { type: 'invoke' }>) => {
    let outcome: Extract<ChildMessage, { type: 'invoked' }>['outcome'];
    try {
      const response = await lambdaHandler(message.event as unknown as MSKEvent, context());
      outcome = { ok: true, response };
    } catch (error) {
      outcome = {
        ok: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      };
    }
    const answered = applied;
    applied = [];
    await send({
      type: 'invoked',
      id: message.id,
      outcome,
      counts: takeCounts(counts),
      ...(job.reportApplied === true ? { applied: answered } : {}),
    });
  };
  const onInvoke = (message: ParentMessage) => {
    if (message.type !== 'invoke') return;
    invocations++;
    const running = invoke(message).finally(() => inFlight.delete(running));
    inFlight.add(running);
  };
  const stopped = next('stop');
  process.on('message', onInvoke);
  await send({ type: 'ready' });
  await stopped;
  process.off('message', onInvoke);
  // An invocation the mapping gave up on (timed out) still finishes before the runtime closes.
  await Promise.allSettled([...inFlight]);
  await rt.close();
  return {
    index: job.index,
    invocations,
    metricValues: metrics.values(),
    log: logSummary(logger),
    peakRssMb: peakRssMb(),
    cpuMs: cpuMs(),
  } satisfies EnvironmentResult;
}

interface ConsumerOverEnvironments {
  readonly environments: Environments;
  readonly mapping: RunningMapping;
  readonly logger: ReturnType<typeof countingLogger>;
}

/**
 * The consumer mapping as Lambda runs it: the emulator here (fetching, building MSK events,
 * retries, commits: the Lambda service's work) invoking the handler in as many execution
 * environments as the topic has partitions (one invocation per partition at once), each its own
 * process, with the function's timeout per invocation and the dead-letter topic as the
 * mapping's on-failure destination (as startConsumerMapping sets them).
 */
async function consumerOverEnvironments(
  job: Job<'consumer'> | Job<'e2e-consumer'>,
  onApplied?: (timestampMs: number, endToEndMs: number) => void,
): Promise<ConsumerOverEnvironments> {
  const { config, env, logger } = common(job);
  const file = process.argv[1];
  if (file === undefined) throw new Error('bench worker: no entry file to start environments');
  const environments = await startEnvironments({
    file,
    count: config.kafka.topics.orderEvents.partitions,
    job: {
      kind: 'consumer-environment',
      env: job.env,
      stage: job.stage,
      deadLetterTopic: job.deadLetterTopic,
      ...(job.kind === 'consumer' && job.chunkSize !== undefined
        ? { chunkSize: job.chunkSize }
        : {}),
      ...(onApplied !== undefined ? { reportApplied: true } : {}),
    },
    // The worker's flags (a CPU profile each with BENCH_CPU_PROF) and environment.
    child: { env: process.env, execArgv: process.execArgv, timeoutMs: ENVIRONMENT_TIMEOUT_MS },
    ...(onApplied !== undefined ? { onApplied } : {}),
  });
  const fn = config.functions.orderConsumer;
  try {
    const mapping = await startMapping({
      kafkaEnv: parseKafkaEnv(env),
      topic: job.topic,
      mapping: { ...config.mappings.orderConsumer, consumerGroupId: job.groupId },
      handler: environments.handler,
      onFailureTopic: job.deadLetterTopic,
      timeoutMs: fn.timeoutSeconds * 1000,
      logger,
    });
    return { environments, mapping, logger };
  } catch (error) {
    environments.kill();
    throw error;
  }
}

/** Stops the mapping, then the environments; the figures of both sides. */
async function stopOverEnvironments(running: ConsumerOverEnvironments): Promise<Result> {
  const c = running.environments.counters;
  const counters = { ...c, deadLetteredByType: { ...c.deadLetteredByType } };
  const mapping = running.mapping.stats();
  await running.mapping.stop();
  const environments = await running.environments.stop();
  return {
    counters,
    mapping,
    metrics: metricSummary(mergeMetricValues(environments.map((e) => e.metricValues))),
    log: logSummary(running.logger),
    environments: environments.map(({ metricValues: _, ...rest }) => rest),
    // Each environment is one Lambda environment: the figure is the largest of them.
    peakRssMb: maxPeakRssMb(environments),
    emulatorPeakRssMb: peakRssMb(),
    // CPU time of both sides over the whole job (set-up included): on this machine every
    // environment shares its cores with the emulator and the services.
    cpuMs: {
      emulator: cpuMs(),
      environments: {
        user: environments.reduce((sum, e) => sum + e.cpuMs.user, 0),
        system: environments.reduce((sum, e) => sum + e.cpuMs.system, 0),
      },
    },
  };
}

/** After a failure: the mapping stops, the environments are killed. */
async function abandon(running: ConsumerOverEnvironments): Promise<void> {
  running.environments.kill();
  await running.mapping.stop().catch(() => undefined);
}

async function consumer(job: Job<'consumer'>): Promise<Result> {
  if (job.oneEnvironment === true) return consumerOneEnvironment(job);
  const running = await consumerOverEnvironments(job);
  try {
    const c = running.environments.counters;
    const measured = await throughput(
      () => c.applied + c.duplicates + c.deadLettered,
      job.expected,
      THROUGHPUT_TIMEOUT_MS,
      running.environments.failure,
    );
    return { ...measured, ...(await stopOverEnvironments(running)) };
  } catch (error) {
    await abandon(running);
    throw error;
  }
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

/** The end-to-end consumer with every invocation in this process (see the job's inProcess). */
async function e2eConsumerInProcess(job: Job<'e2e-consumer'>): Promise<Result> {
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

async function e2eConsumer(job: Job<'e2e-consumer'>): Promise<Result> {
  if (job.inProcess === true) return e2eConsumerInProcess(job);
  const timestamps: number[] = [];
  const latencies: number[] = [];
  const running = await consumerOverEnvironments(job, (timestampMs, endToEndMs) => {
    timestamps.push(timestampMs);
    latencies.push(endToEndMs);
  });
  try {
    await send({ type: 'ready' });
    const finish = await Promise.race([next('finish'), running.environments.failed]);
    const waitStarted = Date.now();
    const { counters } = running.environments;
    while (
      counters.applied < finish.expectedApplied &&
      Date.now() - waitStarted < finish.timeoutMs
    ) {
      const failed = running.environments.failure();
      if (failed !== undefined) throw failed;
      await sleep(20);
    }
    const inWindow = latencies.filter((_, i) => {
      const at = timestamps[i] as number;
      return at >= finish.windowFrom && at < finish.windowTo;
    });
    const applied = counters.applied;
    const stopped = await stopOverEnvironments(running);
    return {
      latency: inWindow.length > 0 ? summarize(inWindow) : null,
      notApplied: Math.max(0, finish.expectedApplied - applied),
      ...stopped,
    };
  } catch (error) {
    await abandon(running);
    throw error;
  }
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
  const scheduled = Math.round((job.ratePerSec * job.durationMs) / 1000);
  // This writer's commands of the common schedule: those of its orders (writerOf).
  const mine: number[] = [];
  for (let index = 0; index < scheduled; index++) {
    if (writerOf(workloadAction(index, job.lag).order, job.shards) === job.shard) mine.push(index);
  }
  const total = mine.length;
  const acceptedByType: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let maxLateMs = 0;
  let started = 0;
  let done = 0;

  // Connections opened before the schedule starts: a cold pool delays the first placements
  // past their payments, which another writer may then send for an order not yet committed.
  const warm = await Promise.all(Array.from({ length: job.poolMax }, () => pool.connect()));
  for (const client of warm) client.release();
  await send({ type: 'ready' });
  const go = await next('go');
  await sleep(Math.max(0, go.at - Date.now()));
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
  // `started` counts this writer's commands; its k-th is the schedule's mine[k].
  const indexOf = (k: number) => mine[k] as number;
  while (done < total) {
    const due = dueCount(performance.now() - t0, job.ratePerSec, scheduled);
    while (started < total && indexOf(started) < due) launch(indexOf(started++));
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
    case 'consumer-environment':
      return executionEnvironment(job);
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
