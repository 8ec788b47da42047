// The whole pipeline on one machine through the code Lambda runs: the relay loop, and the
// consumer and triage handlers fed by the event-source-mapping emulator over the real broker.
// Settings come from the stage config exactly as the CDK passes them to the functions.

import path from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import { createTriageHandler } from '../../lambdas/dlq-triage/handler';
import {
  createTriageRuntime,
  type TriageRuntime,
  triageTelemetry,
} from '../../lambdas/dlq-triage/runtime';
import { createConsumerHandler } from '../../lambdas/order-consumer/handler';
import {
  type ConsumerRuntime,
  consumerTelemetry,
  createConsumerRuntime,
} from '../../lambdas/order-consumer/runtime';
import { createRelayHandler } from '../../lambdas/outbox-relay/handler';
import type { RelaySummary } from '../../lambdas/outbox-relay/relay';
import {
  createRelayRuntime,
  type RelayRuntime,
  relayTelemetry,
} from '../../lambdas/outbox-relay/runtime';
import { createPool } from '../../lambdas/shared/db/pool';
import type { DeadLetterMessage } from '../../lambdas/shared/dead-letter/message';
import {
  consumerEnvironment,
  type Environment,
  type EnvRecord,
  parseConsumerEnv,
  parseKafkaEnv,
  parsePgEnv,
  parseRedisEnv,
  parseRelayEnv,
  parseTriageEnv,
  pgPoolEnvironment,
  relayEnvironment as writeRelayEnvironment,
  triageEnvironment as writeTriageEnvironment,
} from '../../lambdas/shared/env';
import type { ErrorType } from '../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import type { LogSink } from '../../lambdas/shared/log-sink';
import {
  METRIC_DIMENSION,
  type MetricEmitter,
  SERVICES,
} from '../../lambdas/shared/metrics-catalog';
import type { OutboxRow } from '../../lambdas/shared/outbox/outbox';
import {
  consumerSettings,
  relaySettings,
  triageSettings,
} from '../../lib/config/function-environment';
import { BACKSTOP_METRICS_FILTER, LOCAL_SIGNAL_REFS } from '../../lib/config/signals';
import type { StageConfig } from '../../lib/config/stage-config';
import { type MappingHandler, type RunningMapping, startMapping } from './esm-emulator';
import { lambdaContext } from './lambda-context';
import { discardMetrics, type MetricSink } from './metric-sink';

/** Connections of the local consumer's pool (see startConsumerMapping). */
const LOCAL_CONSUMER_POOL = 8;

export interface PipelineTopics {
  readonly orderEvents: string;
  readonly deadLetter: string;
}

/** The stage's topic names. */
export function stageTopics(config: StageConfig): PipelineTopics {
  return {
    orderEvents: config.kafka.topics.orderEvents.name,
    deadLetter: config.kafka.topics.deadLetter.name,
  };
}

/**
 * The local stand-in for the triage mapping's S3 backstop: a directory holding the invocation
 * records Lambda would put in the bucket, under the same object keys. Relative to the working
 * directory (npm runs scripts from the repository root; bundled runs have no __dirname).
 */
export const localTriageBackstop = (): string => path.resolve('.cache', 'triage-backstop');

/** An invocation with no records: sets a runtime up the way the first batch would. */
const emptyBatch = { eventSource: 'aws:kafka', records: {} } as unknown as MSKEvent;

/** The mapping UUID the local emulator writes into backstop object keys. */
export const LOCAL_MAPPING_UUID = '00000000-0000-4000-8000-000000000001';

interface ComponentOptions {
  readonly config: StageConfig;
  /** Endpoints (tools/local-runtime/services endpointsEnv) and any overrides, parsed like Lambda's env. */
  readonly env: EnvRecord;
  readonly logger: LogSink;
  readonly metrics?: MetricSink;
}

/** Puts one datapoint in the app namespace with the `service` dimension, as EMF would. */
/**
 * A function's telemetry with local observers run after each of its calls (counters, callbacks):
 * the metrics still come from the function's own mapping.
 */
function counting<T extends object>(telemetry: T, observers: { [K in keyof T]?: T[K] }): T {
  const out = { ...telemetry };
  for (const key of Object.keys(observers) as (keyof T)[]) {
    const own = telemetry[key] as unknown as ((...args: unknown[]) => void) | undefined;
    const observe = observers[key] as unknown as (...args: unknown[]) => void;
    out[key] = ((...args: unknown[]) => {
      own?.(...args);
      observe(...args);
    }) as T[keyof T];
  }
  return out;
}

/** The functions' own telemetry mappings, emitting into the local store. */
const emitterOf =
  (metric: ReturnType<typeof appMetric>): MetricEmitter =>
  (name, _unit, value) =>
    metric(name, value);

function appMetric(config: StageConfig, sink: MetricSink, service: string) {
  return (metricName: string, value: number) =>
    sink.put({
      namespace: config.observability.metricsNamespace,
      metricName,
      dimensions: { [METRIC_DIMENSION]: service },
      value,
      timestamp: Date.now(),
    });
}

// ------------------------------------------------------------------------------------------
// relay

export interface RelayCounters {
  published: number;
}

export interface RunningRelay {
  readonly counters: Readonly<RelayCounters>;
  /** Finishes the current batch, then stops; resolves with the loop's summary. */
  stop(): Promise<RelaySummary>;
}

/** A function's PostgreSQL settings: the local endpoint, the stage's pool size and timeouts. */
function functionPgEnv(config: StageConfig, env: EnvRecord) {
  const { database } = config;
  return parsePgEnv({ ...env, ...pgPoolEnvironment(database.poolMaxPerEnvironment, database) });
}

/** The relay's environment as the service stack sets it. */
export function relayEnvironment(config: StageConfig, topic: string): Environment {
  return writeRelayEnvironment({ ...relaySettings(config), topic });
}

/**
 * The relay function as the schedule runs it: the Lambda handler invoked again as soon as an
 * invocation ends (on AWS the next tick starts about the stop margin later), each with the
 * function's timeout, until stopped.
 */
export async function startRelayLoop(
  options: ComponentOptions & {
    readonly topic?: string;
    /** Runs after the broker acknowledged a batch, before its rows are marked published. */
    readonly afterPublish?: (rows: readonly OutboxRow[]) => Promise<void>;
  },
): Promise<RunningRelay> {
  const { config, env, logger } = options;
  const topic = options.topic ?? stageTopics(config).orderEvents;
  const metric = appMetric(config, options.metrics ?? discardMetrics, SERVICES.outboxRelay);
  const counters: RelayCounters = { published: 0 };
  const rt: RelayRuntime = await createRelayRuntime({
    pgEnv: functionPgEnv(config, env),
    kafkaEnv: parseKafkaEnv(env),
    relayEnv: parseRelayEnv({ ...env, ...relayEnvironment(config, topic) }),
    logger,
    telemetry: counting(relayTelemetry(emitterOf(metric)), {
      published(count) {
        counters.published += count;
      },
    }),
    ...(options.afterPublish ? { afterPublish: options.afterPublish } : {}),
  });
  let running = true;
  const handler = createRelayHandler({ runtime: async () => rt, keepRunning: () => running });
  const fn = config.functions.outboxRelay;
  const loop = (async () => {
    const invocations: RelaySummary[] = [];
    while (running) {
      invocations.push(await handler({}, lambdaContext(fn.name, fn.timeoutSeconds * 1000)));
    }
    return addSummaries(invocations);
  })();
  return {
    counters,
    async stop() {
      running = false;
      rt.deps.wake.interrupt();
      try {
        return await loop;
      } finally {
        await rt.close();
      }
    },
  };
}

function addSummaries(summaries: readonly RelaySummary[]): RelaySummary {
  const total = {
    published: 0,
    setAside: 0,
    batches: 0,
    deleted: 0,
    processedEventsDeleted: 0,
    failures: 0,
    wakes: { notify: 0, poll: 0 },
  };
  for (const s of summaries) {
    total.published += s.published;
    total.setAside += s.setAside;
    total.batches += s.batches;
    total.deleted += s.deleted;
    total.processedEventsDeleted += s.processedEventsDeleted;
    total.failures += s.failures;
    total.wakes.notify += s.wakes.notify;
    total.wakes.poll += s.wakes.poll;
  }
  return total;
}

// ------------------------------------------------------------------------------------------
// mappings

export interface MappingErrors {
  /** Handler invocations that threw (Lambda's Errors metric). */
  errors: number;
}

/** Counters of a consumer run before anything was handled. */
export function emptyConsumerCounters(): ConsumerCounters {
  return { applied: 0, duplicates: 0, deadLettered: 0, deadLetteredByType: {}, errors: 0 };
}

/** Counts invocations that throw and reports them as the function's AWS/Lambda Errors. */
function countingErrors(
  handler: MappingHandler,
  functionName: string,
  counters: MappingErrors,
  sink: MetricSink,
): MappingHandler {
  return async (event) => {
    try {
      return await handler(event);
    } catch (error) {
      counters.errors++;
      sink.put({
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions: { FunctionName: functionName },
        value: 1,
        timestamp: Date.now(),
      });
      throw error;
    }
  };
}

const breakerSink = (metric: (name: string, value: number) => void) => ({
  addMetric: (name: string, _unit: 'Count', value: number) => metric(name, value),
});

export interface ConsumerCounters extends MappingErrors {
  applied: number;
  duplicates: number;
  deadLettered: number;
  deadLetteredByType: Partial<Record<ErrorType, number>>;
}

export interface RunningConsumer {
  readonly counters: Readonly<ConsumerCounters>;
  readonly mapping: RunningMapping;
  stop(): Promise<void>;
}

export async function startConsumerMapping(
  options: ComponentOptions & {
    readonly topic?: string;
    readonly deadLetterTopic?: string;
    readonly groupId?: string;
    /** Each event the consumer applied, with its end-to-end latency. */
    readonly onApplied?: (event: OrderEvent, endToEndMs: number) => void;
    /** Each delivery the consumer skipped as a duplicate. */
    readonly onDuplicate?: (event: OrderEvent) => void;
  },
): Promise<RunningConsumer> {
  const { config, env, logger } = options;
  const topics = stageTopics(config);
  const topic = options.topic ?? topics.orderEvents;
  const deadLetterTopic = options.deadLetterTopic ?? topics.deadLetter;
  const sink = options.metrics ?? discardMetrics;
  const metric = appMetric(config, sink, SERVICES.orderConsumer);
  const counters = emptyConsumerCounters();
  let runtime: ConsumerRuntime | undefined;
  const createRuntime = async () => {
    runtime = await createConsumerRuntime({
      // One runtime serves every partition here; Lambda gives each concurrent batch its own
      // environment and pool, so the local pool is sized for the partitions handled at once.
      pgEnv: { ...functionPgEnv(config, env), poolMax: LOCAL_CONSUMER_POOL },
      kafkaEnv: parseKafkaEnv(env),
      redisEnv: parseRedisEnv(env),
      consumerEnv: parseConsumerEnv({
        ...env,
        ...consumerEnvironment({ ...consumerSettings(config), deadLetterTopic }),
      }),
      logger,
      breakerMetrics: breakerSink(metric),
      telemetry: counting(consumerTelemetry(emitterOf(metric)), {
        applied(event, endToEndMs) {
          counters.applied++;
          options.onApplied?.(event, endToEndMs);
        },
        duplicate(event) {
          counters.duplicates++;
          options.onDuplicate?.(event);
        },
        deadLettered(errorType) {
          counters.deadLettered++;
          counters.deadLetteredByType[errorType] =
            (counters.deadLetteredByType[errorType] ?? 0) + 1;
        },
      }),
    });
    return runtime;
  };
  // The Lambda handler itself, over this runtime; each invocation gets the function's timeout.
  const fn = config.functions.orderConsumer;
  const lambdaHandler = createConsumerHandler({
    runtime: createRuntime,
    logger,
    flushMetrics: () => {},
  });
  // Set up before the mapping starts, as a warm execution environment would be.
  await lambdaHandler(emptyBatch, lambdaContext(fn.name, fn.timeoutSeconds * 1000));
  const rt = runtime as ConsumerRuntime;
  const handler: MappingHandler = (event) =>
    lambdaHandler(event as unknown as MSKEvent, lambdaContext(fn.name, fn.timeoutSeconds * 1000));
  try {
    const mapping = await startMapping({
      kafkaEnv: parseKafkaEnv(env),
      topic,
      mapping: {
        ...config.mappings.orderConsumer,
        ...(options.groupId ? { consumerGroupId: options.groupId } : {}),
      },
      handler: countingErrors(handler, config.functions.orderConsumer.name, counters, sink),
      // The deployed mapping's on-failure destination is the dead-letter topic (KafkaDlq).
      onFailureTopic: deadLetterTopic,
      timeoutMs: fn.timeoutSeconds * 1000,
      logger,
    });
    return {
      counters,
      mapping,
      async stop() {
        await mapping.stop();
        await rt.close();
      },
    };
  } catch (error) {
    await rt.close();
    throw error;
  }
}

export interface TriageCounters extends MappingErrors {
  received: number;
  redriven: number;
  parked: number;
}

export interface RunningTriage {
  readonly counters: Readonly<TriageCounters>;
  readonly mapping: RunningMapping;
  stop(): Promise<void>;
}

/** Triage's environment as the service stack sets it. */
export function triageEnvironment(config: StageConfig, redriveTopic: string): Environment {
  return writeTriageEnvironment({ ...triageSettings(config), redriveTopics: [redriveTopic] });
}

export async function startTriageMapping(
  options: ComponentOptions & {
    readonly topic?: string;
    readonly redriveTopic?: string;
    /** The local stand-in for the S3 backstop (default localTriageBackstop()). */
    readonly backstopDirectory?: string;
    readonly groupId?: string;
    readonly onParked?: (message: DeadLetterMessage) => void;
  },
): Promise<RunningTriage> {
  const { config, env, logger } = options;
  const topics = stageTopics(config);
  const sink = options.metrics ?? discardMetrics;
  const metric = appMetric(config, sink, SERVICES.dlqTriage);
  const counters: TriageCounters = { received: 0, redriven: 0, parked: 0, errors: 0 };
  const pool = createPool(functionPgEnv(config, env), { applicationName: 'dlq-triage' });
  let runtime: TriageRuntime | undefined;
  const createRuntime = async () => {
    runtime = await createTriageRuntime({
      pool,
      kafkaEnv: parseKafkaEnv(env),
      triageEnv: parseTriageEnv({
        ...env,
        ...triageEnvironment(config, options.redriveTopic ?? topics.orderEvents),
      }),
      logger,
      breakerMetrics: breakerSink(metric),
      telemetry: counting(triageTelemetry(emitterOf(metric)), {
        received() {
          counters.received++;
        },
        redriven() {
          counters.redriven++;
        },
        parked(message) {
          counters.parked++;
          options.onParked?.(message);
        },
      }),
    });
    return runtime;
  };
  const fn = config.functions.dlqTriage;
  const lambdaHandler = createTriageHandler({
    runtime: createRuntime,
    logger,
    flushMetrics: () => {},
  });
  try {
    await lambdaHandler(emptyBatch, lambdaContext(fn.name, fn.timeoutSeconds * 1000));
  } catch (error) {
    await pool.end();
    throw error;
  }
  const rt = runtime as TriageRuntime;
  const handler: MappingHandler = (event) =>
    lambdaHandler(event as unknown as MSKEvent, lambdaContext(fn.name, fn.timeoutSeconds * 1000));
  try {
    const mapping = await startMapping({
      kafkaEnv: parseKafkaEnv(env),
      topic: options.topic ?? topics.deadLetter,
      mapping: {
        ...config.mappings.dlqTriage,
        ...(options.groupId ? { consumerGroupId: options.groupId } : {}),
      },
      handler: countingErrors(handler, fn.name, counters, sink),
      // Deployed: an S3 bucket; locally a directory holding the same documents under its keys.
      onFailureDirectory: {
        path: options.backstopDirectory ?? localTriageBackstop(),
        mappingUuid: LOCAL_MAPPING_UUID,
        functionArn: fn.name,
      },
      timeoutMs: fn.timeoutSeconds * 1000,
      logger,
    });
    return {
      counters,
      mapping,
      async stop() {
        await mapping.stop();
        await rt.close();
        await pool.end();
      },
    };
  } catch (error) {
    await rt.close();
    await pool.end();
    throw error;
  }
}

// ------------------------------------------------------------------------------------------
// the whole pipeline

export interface LocalPipelineOptions extends ComponentOptions {
  readonly topics?: Partial<PipelineTopics>;
  /** The triage backstop's local stand-in (default localTriageBackstop()). */
  readonly backstopDirectory?: string;
  /** Appended to the stage's consumer group ids (tests keep runs apart). */
  readonly groupSuffix?: string;
  readonly afterPublish?: (rows: readonly OutboxRow[]) => Promise<void>;
  readonly onApplied?: (event: OrderEvent, endToEndMs: number) => void;
  readonly onDuplicate?: (event: OrderEvent) => void;
  readonly onParked?: (message: DeadLetterMessage) => void;
}

export interface PipelineCounts {
  readonly relay: Readonly<RelayCounters>;
  readonly consumer: Readonly<ConsumerCounters>;
  readonly triage: Readonly<TriageCounters>;
  /** Records the mappings sent to their on-failure destinations. */
  readonly consumerOnFailure: number;
  readonly triageOnFailure: number;
}

export interface LocalPipeline {
  readonly topics: PipelineTopics;
  counts(): PipelineCounts;
  stop(): Promise<void>;
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const { config } = options;
  const topics = { ...stageTopics(config), ...options.topics };
  const suffix = options.groupSuffix ?? '';
  const sink = options.metrics ?? discardMetrics;
  const started: Array<{ stop(): Promise<unknown> }> = [];
  const stopAll = async () => {
    // Reverse order: the relay stops feeding before the consumers stop reading.
    for (const component of started.reverse()) await component.stop();
  };
  try {
    const triage = await startTriageMapping({
      ...options,
      topic: topics.deadLetter,
      redriveTopic: topics.orderEvents,
      ...(options.backstopDirectory ? { backstopDirectory: options.backstopDirectory } : {}),
      groupId: config.mappings.dlqTriage.consumerGroupId + suffix,
    });
    started.push(triage);
    const consumer = await startConsumerMapping({
      ...options,
      topic: topics.orderEvents,
      deadLetterTopic: topics.deadLetter,
      groupId: config.mappings.orderConsumer.consumerGroupId + suffix,
    });
    started.push(consumer);
    const relay = await startRelayLoop({ ...options, topic: topics.orderEvents });
    started.push(relay);

    // Lambda metrics the alarms read: errors counted per invocation above; never throttled here.
    let backstopWrites = 0;
    const lambdaTick = setInterval(() => {
      const now = Date.now();
      for (const fn of Object.values(config.functions)) {
        sink.put({
          namespace: 'AWS/Lambda',
          metricName: 'Throttles',
          dimensions: { FunctionName: fn.name },
          value: 0,
          timestamp: now,
        });
        sink.put({
          namespace: 'AWS/Lambda',
          metricName: 'Errors',
          dimensions: { FunctionName: fn.name },
          value: 0,
          timestamp: now,
        });
      }
      // The backstop bucket's PutRequests: one per batch written since the last tick.
      const written = triage.mapping.stats().onFailureDocuments;
      sink.put({
        namespace: 'AWS/S3',
        metricName: 'PutRequests',
        dimensions: {
          BucketName: LOCAL_SIGNAL_REFS.triageBackstopBucket,
          FilterId: BACKSTOP_METRICS_FILTER,
        },
        value: written - backstopWrites,
        timestamp: now,
      });
      backstopWrites = written;
    }, 1_000);
    lambdaTick.unref();

    return {
      topics,
      counts: () => ({
        relay: relay.counters,
        consumer: consumer.counters,
        triage: triage.counters,
        consumerOnFailure: consumer.mapping.stats().sentToOnFailure,
        triageOnFailure: triage.mapping.stats().sentToOnFailure,
      }),
      async stop() {
        clearInterval(lambdaTick);
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
