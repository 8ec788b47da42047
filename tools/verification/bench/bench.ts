// `npm run bench`: every figure in one run on this machine (with `--peers`, Debezium beside the
// relay). Each function's work
// runs in its own fresh process (bundled like the Lambda code, plain node) so its peak RSS is
// its own; the raw limits are measured in the same run on scratch copies of the real tables.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Admin } from 'kafkajs';
import { pgClientConfig } from '../../../lambdas/shared/db/pool';
import { parseKafkaEnv, parseRedisEnv } from '../../../lambdas/shared/env';
import { createKafka } from '../../../lambdas/shared/kafka/client';
import type { LogSink } from '../../../lambdas/shared/log-sink';
import { loadStageConfig, type StageConfig } from '../../../lib/config/stage-config';
import { REPO_ROOT } from '../../../lib/constructs/pipeline-function';
import { endpointsEnv, ensureServices } from '../../local-runtime/services';
import { type BenchArgs, type BenchSizes, FULL_SIZES, QUICK_SIZES } from './args';
import { type BuiltBundle, buildFunctionBundles, buildHelper } from './bundles';
import { runWorker } from './children';
import { type ColdInitFigures, measureColdInit } from './cold-init';
import {
  createTestDatabase,
  createTopic,
  deadLetterMessages,
  eventMessage,
  fillOutbox,
  insertOrders,
  lifecycleEvents,
  orderIds,
  produceAll,
} from './fixtures';
import { machineInfo } from './machine';
import { measurePeers, type PeersResult } from './peers';
import type { WorkerJob } from './protocol';
import { measureRawLimits } from './raw-limits';
import {
  type BenchResult,
  type E2eDetail,
  type E2eHigh,
  FUNCTIONS,
  type FunctionKey,
  type PeerFigure,
  type PerFunction,
  type RawLimits,
  ratiosOf,
  targetResults,
} from './report';
import { mergeWriters } from './stats';

export type Progress = (line: string) => void;

const WORK_DIR = path.join(REPO_ROOT, '.cache', 'bench');
/** Orders between an order's placement and its next event in the end-to-end workload. */
const E2E_LAG_ORDERS = 100;
/**
 * The end-to-end writer stands for the order API's many Lambda environments: several processes
 * (each its own CPU, as environments are), each with a few connections. One process with every
 * connection was CPU-bound on its own socket writes at 1,000 commands/s.
 */
const E2E_WRITERS = 2;
const E2E_WRITER_POOL = 8;

type Result = Record<string, unknown>;

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function obj(value: unknown): Result {
  return typeof value === 'object' && value !== null ? (value as Result) : {};
}

class Run {
  readonly runId = randomUUID().slice(0, 8);
  readonly sizes: BenchSizes;
  readonly config: StageConfig;
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly details: Record<string, unknown> = {};
  readonly peak: Partial<Record<FunctionKey, { mb: number; source: string }>> = {};
  readonly cleanups: Array<() => Promise<unknown>> = [];
  endpoints: Record<string, string> = {};
  workerFile = '';
  childFile = '';
  admin: Admin | undefined;

  constructor(
    readonly args: BenchArgs,
    readonly progress: Progress,
  ) {
    this.sizes = args.quick ? QUICK_SIZES : FULL_SIZES;
    this.config = loadStageConfig(args.stage);
  }

  notePeak(fn: FunctionKey, mb: unknown, source: string) {
    const value = num(mb);
    if (value === null) return;
    const current = this.peak[fn];
    if (current === undefined || value > current.mb) this.peak[fn] = { mb: value, source };
  }

  async topic(prefix: string, partitions: number): Promise<string> {
    const admin = this.admin as Admin;
    const name = await createTopic(admin, `bench-${this.runId}-${prefix}`, partitions);
    this.cleanups.push(() => admin.deleteTopics({ topics: [name] }));
    return name;
  }

  async database(prefix: string) {
    const db = await createTestDatabase(`bench_${prefix}`);
    this.cleanups.push(() => db.drop());
    return db;
  }

  worker(job: WorkerJob) {
    // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every worker (how the misses were profiled).
    const profileDir = process.env.BENCH_CPU_PROF;
    return runWorker(this.workerFile, job, {
      env: { PATH: process.env.PATH ?? '' },
      execArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [],
      timeoutMs: 20 * 60_000,
    });
  }

  /** Runs a part; a failure is reported and the run goes on with the other parts. */
  async part(name: string, work: () => Promise<void>) {
    const started = performance.now();
    this.progress(`${name}…`);
    try {
      await work();
      this.progress(`${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.errors.push(`${name}: ${message}`);
      this.progress(`${name} FAILED: ${message}`);
    }
  }
}

function jobBase(run: Run, pgVars: Record<string, string>) {
  return { env: { ...run.endpoints, ...pgVars }, stage: run.config.stage };
}

export async function runBench(args: BenchArgs, progress: Progress): Promise<BenchResult> {
  const run = new Run(args, progress);
  const { config, sizes } = run;
  const wants = (p: BenchArgs['parts'][number]) => args.parts.includes(p);
  const services = await ensureServices({ progress: (line) => progress(`services: ${line}`) });
  run.endpoints = endpointsEnv(services);
  // createTestDatabase, testKafka and the parsers read endpoints from the environment.
  Object.assign(process.env, run.endpoints);

  progress(
    `run ${run.runId} (${args.quick ? 'quick' : 'full'}, stage ${config.stage}): building helpers`,
  );
  rmSync(WORK_DIR, { recursive: true, force: true });
  run.workerFile = await buildHelper(
    path.join(REPO_ROOT, 'tools/verification/bench/worker.ts'),
    path.join(WORK_DIR, 'worker.mjs'),
  );
  run.childFile = await buildHelper(
    path.join(REPO_ROOT, 'tools/verification/bench/cold-init-child.ts'),
    path.join(WORK_DIR, 'cold-init-child.mjs'),
  );

  const admin = benchKafka(run, 'bench-admin').admin();
  await admin.connect();
  run.admin = admin;
  const db = await run.database('main');
  const machine = await machineInfo(db.pool, parseRedisEnv(process.env));

  let rawLimits: Partial<RawLimits> = {};
  let relayEventsPerSec: number | null = null;
  let consumerEventsPerSec: number | null = null;
  let naiveConsumerEventsPerSec: number | null = null;
  let e2e: {
    p50: number | null;
    p95: number | null;
    p99: number | null;
    detail?: E2eDetail;
  } = { p50: null, p95: null, p99: null };
  let e2eHigh: E2eHigh | undefined;
  let peers: PeersResult | undefined;
  const bundleBytes: PerFunction = {};
  const coldInitMs: PerFunction = {};
  const partitions = config.kafka.topics.orderEvents.partitions;
  const dlqPartitions = config.kafka.topics.deadLetter.partitions;

  try {
    // Orders as the API leaves them and their lifecycle events in the outbox: the relay
    // publishes these, the consumer then applies them; the raw claim limit copies them.
    const ids = orderIds(`b${run.runId}`, sizes.orders);
    const events = lifecycleEvents(ids);
    let eventsTopic: string | undefined;
    if (wants('raw') || wants('relay') || wants('consumer')) {
      await run.part(`fixtures: ${ids.length} orders, ${events.length} outbox events`, async () => {
        await insertOrders(db.pool, ids);
        await fillOutbox(db.pool, events);
      });
    }
    const pgMain = db.envVars;

    if (wants('raw')) {
      await run.part('raw limits', async () => {
        rawLimits = await measureRawLimits(
          db.pool,
          pgClientConfig(db.env),
          parseRedisEnv(process.env),
          {
            claimRows: Math.min(sizes.rawClaimRows, events.length),
            claimBatch: config.outbox.relayBatchSize,
            updateRows: sizes.rawUpdateRows,
            updateBatch: 100,
            setNxOps: sizes.rawSetNxOps,
            setNxInFlight: 1_000,
            singleTx: sizes.rawSingleTx,
            outboxWrites: sizes.rawOutboxWrites,
            outboxWriteConnections: E2E_WRITER_POOL,
          },
        );
        run.details.rawLimits = {
          ...rawLimits,
          updateBatch: 100,
          claimBatch: config.outbox.relayBatchSize,
        };
      });
    }

    if (wants('relay')) {
      await run.part(`relay: ${events.length} events PostgreSQL → Kafka`, async () => {
        eventsTopic = await run.topic('events', partitions);
        const result = await run.worker({
          ...jobBase(run, pgMain),
          kind: 'relay',
          topic: eventsTopic,
          expected: events.length,
        }).result;
        relayEventsPerSec = num(result.eventsPerSec);
        run.notePeak('outboxRelay', result.peakRssMb, 'relay throughput run');
        run.details.relay = {
          events: events.length,
          batchSize: config.outbox.relayBatchSize,
          ...result,
        };
        if (result.timedOut === true) throw new Error('relay did not publish every event in time');
      });
    }

    if (wants('consumer')) {
      await run.part(`consumer: ${events.length} events Kafka → PostgreSQL`, async () => {
        if (eventsTopic === undefined) {
          // Without the relay part the same records are produced directly.
          eventsTopic = await run.topic('events', partitions);
          const producer = await directProducer(run);
          await produceAll(producer, eventsTopic, events.map(eventMessage));
          await producer.disconnect();
        }
        const dlq = await run.topic('dlq', dlqPartitions);
        const result = await run.worker({
          ...jobBase(run, pgMain),
          kind: 'consumer',
          topic: eventsTopic,
          deadLetterTopic: dlq,
          groupId: `bench-${run.runId}-consumer`,
          expected: events.length,
        }).result;
        consumerEventsPerSec = num(result.eventsPerSec);
        run.details.consumer = { events: events.length, ...consumerSettings(config), ...result };
        checkConsumer(result, 'consumer');
      });

      await run.part(
        `naive consumer: ${sizes.naiveOrders * 3} events, 1 per transaction`,
        async () => {
          // One record per idempotency check and per transaction; everything else the same.
          const result = await freshConsumerRun(run, db, 'naive', sizes.naiveOrders, {
            chunkSize: 1,
          });
          naiveConsumerEventsPerSec = num(result.eventsPerSec);
          run.details.naiveConsumer = { chunkSize: 1, ...result };
          checkConsumer(result, 'naive consumer');
        },
      );

      await run.part(
        `consumer as one environment: ${sizes.oneEnvironmentOrders * 3} events, one invocation at a time`,
        async () => {
          const result = await freshConsumerRun(run, db, 'one-env', sizes.oneEnvironmentOrders, {
            oneEnvironment: true,
          });
          run.notePeak(
            'orderConsumer',
            result.peakRssMb,
            `one environment, one invocation of up to ${config.mappings.orderConsumer.batchSize} records at a time`,
          );
          run.details.consumerOneEnvironment = result;
          checkConsumer(result, 'consumer (one environment)');
        },
      );
    }

    if (wants('triage')) {
      await run.part(`triage: ${sizes.deadLetters} dead letters parked`, async () => {
        const topic = await run.topic('triage-dlq', dlqPartitions);
        const redrive = await run.topic('triage-redrive', partitions);
        const producer = await directProducer(run);
        await produceAll(producer, topic, deadLetterMessages(sizes.deadLetters, redrive));
        await producer.disconnect();
        const result = await run.worker({
          ...jobBase(run, pgMain),
          kind: 'triage',
          topic,
          redriveTopic: redrive,
          backstopDirectory: path.join(os.tmpdir(), `bench-${run.runId}-backstop`),
          groupId: `bench-${run.runId}-triage`,
          expected: sizes.deadLetters,
        }).result;
        run.notePeak('dlqTriage', result.peakRssMb, 'triage run (parking dead letters)');
        run.details.triage = {
          deadLetters: sizes.deadLetters,
          batchSize: config.mappings.dlqTriage.batchSize,
          ...result,
        };
      });
    }

    if (wants('e2e')) {
      await run.part(
        `end to end: ${sizes.e2eRatePerSec}/s for ${(sizes.e2eWarmupMs + sizes.e2eDurationMs) / 1000} s`,
        async () => {
          const measured = await endToEnd(run, 'e2e', {
            perSec: sizes.e2eRatePerSec,
            warmupMs: sizes.e2eWarmupMs,
            durationMs: sizes.e2eDurationMs,
          });
          e2e = measured;
          run.details.e2e = measured.raw;
          run.notePeak(
            'orderApi',
            measured.raw.writer.peakRssMb,
            'end-to-end writer (order API commands)',
          );
          run.notePeak('outboxRelay', measured.raw.relay.peakRssMb, 'end-to-end relay');
        },
      );
      await run.part(
        `end to end: ${sizes.e2eHighRatePerSec}/s for ${(sizes.e2eWarmupMs + sizes.e2eHighDurationMs) / 1000} s`,
        async () => {
          const high = await endToEnd(run, 'e2e-high', {
            perSec: sizes.e2eHighRatePerSec,
            warmupMs: sizes.e2eWarmupMs,
            durationMs: sizes.e2eHighDurationMs,
          });
          run.details.e2eHigh = high.raw;
          e2eHigh = { ...high.detail, p50Ms: high.p50, p95Ms: high.p95, p99Ms: high.p99 };
        },
      );
    }

    if (args.peers) {
      await run.part(
        `peers: the relay and Debezium, ${sizes.peerOrders * 3} events drained, then ${sizes.peerRatePerSec}/s`,
        async () => {
          peers = await measurePeers({
            progress: (line) => progress(`  ${line}`),
            kafkaBrokers: run.endpoints.KAFKA_BROKERS ?? '127.0.0.1:9092',
            partitions,
            relayBatchSize: config.outbox.relayBatchSize,
            runId: run.runId,
            runWorker: (job) => run.worker(job),
            endpoints: run.endpoints,
            stage: config.stage,
            sizes: {
              throughputOrders: sizes.peerOrders,
              ratePerSec: sizes.peerRatePerSec,
              warmupMs: sizes.peerWarmupMs,
              windowMs: sizes.peerWindowMs,
            },
          });
          run.details.peers = peers;
          run.warnings.push(...peers.notes.map((n) => `peers: ${n}`));
        },
      );
    }

    if (wants('bundles')) {
      let built: BuiltBundle[] = [];
      await run.part('bundles (esbuild, the construct options)', async () => {
        built = await buildFunctionBundles(path.join(WORK_DIR, 'bundles'), FUNCTIONS);
        for (const b of built) bundleBytes[b.fn] = b.bytes;
        run.details.bundles = Object.fromEntries(
          built.map((b) => [
            b.fn,
            { bytes: b.bytes, mapBytes: b.mapBytes, topPackages: b.topPackages },
          ]),
        );
      });
      if (built.length > 0) {
        await run.part(
          `cold initialisation (${sizes.coldInitRuns} fresh process(es) each)`,
          async () => {
            const cold = await run.database('cold');
            const { figures, errors } = await measureColdInit(
              {
                config,
                runId: run.runId,
                endpoints: run.endpoints,
                db: cold,
                admin,
                topic: await run.topic('cold', partitions),
                deadLetterTopic: await run.topic('cold-dlq', dlqPartitions),
                childFile: run.childFile,
              },
              built,
              sizes.coldInitRuns,
            );
            run.errors.push(...errors);
            for (const [fn, f] of Object.entries(figures) as [FunctionKey, ColdInitFigures][]) {
              coldInitMs[fn] = f.medianMs;
              // migrate and kafka-topics do all their work in that one invocation.
              if (fn === 'migrate' || fn === 'kafkaTopics')
                run.notePeak(fn, f.peakRssMb, 'cold-init invocation');
            }
            run.details.coldInit = figures;
          },
        );
      }
    }
  } finally {
    if (!args.keep) {
      for (const cleanup of run.cleanups.reverse()) {
        await cleanup().catch((error: unknown) => progress(`cleanup: ${String(error)}`));
      }
    } else {
      progress(`kept database ${db.env.database} and the bench-${run.runId}-* topics`);
    }
    await admin.disconnect();
  }

  const peakRssMb: PerFunction = Object.fromEntries(
    Object.entries(run.peak).map(([fn, p]) => [fn, p.mb]),
  );
  run.details.peakRssSource = Object.fromEntries(
    Object.entries(run.peak).map(([fn, p]) => [fn, p.source]),
  );
  run.details.configuredMemoryMiB = Object.fromEntries(
    FUNCTIONS.map((fn) => [fn, config.functions[fn].memoryMiB]),
  );
  run.details.sizes = sizes;
  const figures = {
    relayEventsPerSec,
    consumerEventsPerSec,
    naiveConsumerEventsPerSec,
    e2eP50Ms: e2e.p50,
    e2eP95Ms: e2e.p95,
    e2eP99Ms: e2e.p99,
    ...(e2e.detail ? { e2e: e2e.detail } : {}),
    e2eFailedWritesAt500: e2e.detail?.writeErrors ?? null,
    e2eFailedWritesAt1000: e2eHigh?.writeErrors ?? null,
    ...(e2eHigh ? { e2eHigh } : {}),
    debeziumEventsPerSec: peers?.debezium.eventsPerSec ?? null,
    relayCommitToTopicP95Ms: peers?.relay.commitToTopicMs.p95 ?? null,
    debeziumCommitToTopicP95Ms: peers?.debezium.commitToTopicMs.p95 ?? null,
    ...(peers
      ? { peers: { relay: peerFigure(peers.relay), debezium: peerFigure(peers.debezium) } }
      : {}),
    bundleBytes,
    coldInitMs,
    peakRssMb,
    rawLimits,
  };
  return {
    date: new Date().toISOString(),
    mode: args.quick ? 'quick' : 'full',
    stage: config.stage,
    machine,
    ...figures,
    ratios: ratiosOf(figures),
    targets: targetResults(figures),
    details: run.details,
    warnings: run.warnings,
    errors: run.errors,
  };
}

function peerFigure(p: PeersResult['relay']): PeerFigure {
  return {
    eventsPerSec: p.eventsPerSec,
    commitToTopicP50Ms: p.commitToTopicMs.p50,
    commitToTopicP95Ms: p.commitToTopicMs.p95,
    commitToTopicP99Ms: p.commitToTopicMs.p99,
  };
}

function consumerSettings(config: StageConfig) {
  return {
    mappingBatchSize: config.mappings.orderConsumer.batchSize,
    chunkSize: config.consumer.chunkSize,
    poolMax: config.database.poolMaxPerEnvironment,
  };
}

/** Orders (CREATED) and their lifecycle events on a fresh topic, consumed by a worker. */
async function freshConsumerRun(
  run: Run,
  db: { pool: import('pg').Pool; envVars: Record<string, string> },
  name: string,
  orders: number,
  options: { chunkSize?: number; oneEnvironment?: boolean },
): Promise<Result> {
  const { config } = run;
  const ids = orderIds(`${name.slice(0, 1)}${run.runId}`, orders);
  const events = lifecycleEvents(ids);
  await insertOrders(db.pool, ids);
  const topic = await run.topic(name, config.kafka.topics.orderEvents.partitions);
  const producer = await directProducer(run);
  await produceAll(producer, topic, events.map(eventMessage));
  await producer.disconnect();
  const dlq = await run.topic(`${name}-dlq`, config.kafka.topics.deadLetter.partitions);
  const base = jobBase(run, db.envVars);
  const result = await run.worker({
    ...base,
    kind: 'consumer',
    topic,
    deadLetterTopic: dlq,
    groupId: `bench-${run.runId}-${name}`,
    expected: events.length,
    ...(options.oneEnvironment ? { oneEnvironment: true } : {}),
    ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
  }).result;
  return { events: events.length, ...result };
}

/** A consumer run only counts when every record was handled without failures. */
function checkConsumer(result: Result, name: string) {
  const counters = obj(result.counters);
  const mapping = obj(result.mapping);
  if (result.timedOut === true) throw new Error(`${name} did not handle every event in time`);
  if (num(counters.deadLettered) !== 0 || num(mapping.retries) !== 0) {
    throw new Error(
      `${name}: ${String(counters.deadLettered)} dead-lettered, ${String(mapping.retries)} retried batches (see details)`,
    );
  }
}

const silent: LogSink = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

function benchKafka(run: Run, clientId: string) {
  const connection = parseKafkaEnv(run.endpoints);
  return createKafka({ clientId, connection, logger: silent });
}

async function directProducer(run: Run) {
  const producer = benchKafka(run, 'bench-fixtures').producer({
    idempotent: true,
    maxInFlightRequests: 5,
  });
  await producer.connect();
  return producer;
}

/**
 * Orders written through the order API's commands at a fixed rate (open loop), the relay loop
 * and the consumer mapping in their own processes, each applied event's latency from its
 * timestamp to its state change. Events written during the warm-up are not sampled.
 */
async function endToEnd(
  run: Run,
  label: string,
  rate: { readonly perSec: number; readonly warmupMs: number; readonly durationMs: number },
) {
  const { config } = run;
  const db = await run.database(label.replace(/\W/g, '_'));
  const topic = await run.topic(label, config.kafka.topics.orderEvents.partitions);
  const dlq = await run.topic(`${label}-dlq`, config.kafka.topics.deadLetter.partitions);
  const base = jobBase(run, db.envVars);
  const consumer = run.worker({
    ...base,
    kind: 'e2e-consumer',
    topic,
    deadLetterTopic: dlq,
    groupId: `bench-${run.runId}-${label}`,
    inProcess: true,
  });
  await consumer.ready;
  const relay = run.worker({ ...base, kind: 'e2e-relay', topic });
  // A part that fails stops the workers still running instead of leaving them to their timeout.
  const stopAll = () => {
    for (const [child, message] of [
      [relay, { type: 'stop' }],
      [consumer, { type: 'finish', windowFrom: 0, windowTo: 0, expectedApplied: 0, timeoutMs: 0 }],
    ] as const) {
      try {
        child.send(message);
      } catch {
        // Already gone.
      }
    }
  };
  let written: Result;
  let consumed: Result;
  try {
    await relay.ready;
    // Let the consumer group settle (join, assignment, first fetch) before load starts.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const writers = Array.from({ length: E2E_WRITERS }, (_, shard) =>
      run.worker({
        ...base,
        kind: 'e2e-writer',
        runId: `${label}${run.runId}`,
        ratePerSec: rate.perSec,
        durationMs: rate.warmupMs + rate.durationMs,
        lag: E2E_LAG_ORDERS,
        poolMax: E2E_WRITER_POOL,
        shard,
        shards: E2E_WRITERS,
      }),
    );
    // Each writer waits for the others' ready before its schedule starts (see the worker).
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) w.send({ type: 'go', at: Date.now() + 200 });
    written = mergeWriters(await Promise.all(writers.map((w) => w.result)));
    const startedAt = num(written.startedAt) ?? Date.now();
    const accepted = obj(written.acceptedByType);
    const expectedApplied =
      (num(accepted.PaymentCaptured) ?? 0) + (num(accepted.OrderShipped) ?? 0);
    consumer.send({
      type: 'finish',
      windowFrom: startedAt + rate.warmupMs,
      windowTo: startedAt + rate.warmupMs + rate.durationMs,
      expectedApplied,
      timeoutMs: 60_000,
    });
    consumed = await consumer.result;
  } catch (error) {
    stopAll();
    throw error;
  }
  relay.send({ type: 'stop' });
  const relayed = await relay.result;
  const latency = obj(consumed.latency);
  const detail: E2eDetail = {
    offeredPerSec: rate.perSec,
    warmupMs: rate.warmupMs,
    durationMs: rate.durationMs,
    written: num(written.written) ?? 0,
    writeErrors: num(written.errors) ?? 0,
    maxLateMs: num(written.maxLateMs) ?? 0,
    samples: num(latency.count) ?? 0,
    maxMs: num(latency.max) ?? 0,
    notApplied: num(consumed.notApplied) ?? 0,
  };
  if (detail.writeErrors !== 0) {
    // The figure is still the latency at that offered rate; the note says why it is so high.
    run.warnings.push(
      `${label}: ${detail.writeErrors} of ${num(written.total)} writes failed at ${rate.perSec}/s ` +
        `(${JSON.stringify((written.errorSamples as string[] | undefined)?.slice(0, 2))}): the ` +
        'order API did not answer every command with 202 at the offered rate (failed commands are not in the latency figure)',
    );
  }
  if (detail.notApplied !== 0) {
    run.errors.push(`${label}: ${detail.notApplied} written events not applied within 60 s`);
  }
  // A writer that fell behind did not offer the fixed rate: its latencies are not the figure.
  if (detail.maxLateMs > 1_000) {
    run.warnings.push(
      `${label}: the writer fell ${Math.round(detail.maxLateMs)} ms behind its schedule`,
    );
  }
  return {
    p50: num(latency.p50),
    p95: num(latency.p95),
    p99: num(latency.p99),
    detail,
    raw: { writer: written, relay: relayed, consumer: consumed, lagOrders: E2E_LAG_ORDERS },
  };
}
