// `npm run bench -- --peers`: the project's relay and Debezium (PostgreSQL connector + outbox
// event router on Kafka Connect standalone) measured by one method in one run, on the same
// outbox schema, the same private PostgreSQL cluster and the same broker:
// - throughput: N outbox rows already committed when the peer starts draining; events/s from
//   the topic itself, (distinct − 1) / (last − first LogAppendTime);
// - latency: the peer running and idle, a writer commits one event per transaction at a fixed
//   rate; each event's LogAppendTime minus its commit time, over the window after a warm-up.
// Debezium is measured first and stopped (slot dropped) before the relay runs, so neither
// decodes or polls while the other is measured.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type pg from 'pg';
import type { OrderEvent } from '../../../../lambdas/shared/events/envelope';
import {
  createScratchDatabase,
  type ScratchDatabase,
} from '../../../local-runtime/services/scratch-database';
import { sleep } from '../../drill/services/lifecycle';
import { type PrivatePostgres, startPrivatePostgres } from '../../drill/services/postgres';
import type { RunningChild } from '../children';
import { fillOutbox, lifecycleEvents, orderIds } from '../fixtures';
import type { WorkerJob } from '../protocol';
import {
  connectLogTail,
  PeerError,
  prepareRun,
  type RunningConnect,
  startConnect,
} from './debezium';
import { debeziumSettings, LOGICAL_SETTINGS } from './debezium-config';
import { CONNECT_VERSION, DEBEZIUM_VERSION, debeziumPaths } from './debezium-jars';
import { commitToTopic, type DrainFigures, drainFigures, type LatencyFigures } from './peer-stats';
import { openTopics, type Topics } from './topic';
import { type WriterResult, writeAtRate } from './writer';

export interface PeerSizes {
  /** Orders whose lifecycle events (3 each) fill the outbox for the drain. */
  readonly throughputOrders: number;
  readonly ratePerSec: number;
  readonly warmupMs: number;
  readonly windowMs: number;
}

export interface PeerContext {
  readonly progress: (line: string) => void;
  /** e.g. '127.0.0.1:9092' */
  readonly kafkaBrokers: string;
  /** The stage's order-events partition count. */
  readonly partitions: number;
  /** The relay's claim batch (stage config), for the report. */
  readonly relayBatchSize: number;
  readonly runId: string;
  /** Runs one bench worker job in a fresh process (the bench's run.worker). */
  readonly runWorker: (job: WorkerJob) => RunningChild;
  /** Endpoint env of the local services (KAFKA_BROKERS etc.) that worker jobs need, minus PG vars. */
  readonly endpoints: Record<string, string>;
  readonly stage: string;
  readonly sizes: PeerSizes;
  /** Aborts the run (waits end early; everything is still torn down). */
  readonly signal?: AbortSignal;
}

export interface PeerFigures {
  readonly eventsPerSec: number;
  readonly commitToTopicMs: {
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly max: number;
    readonly samples: number;
    readonly missing: number;
  };
  readonly duplicates: number;
}

export interface PeerDetails {
  readonly drain: DrainFigures;
  readonly latency: LatencyFigures;
  readonly writer: Omit<WriterResult, 'commits'>;
  readonly extra: Record<string, unknown>;
}

export interface PeersResult {
  readonly relay: PeerFigures;
  readonly debezium: PeerFigures;
  readonly debeziumVersion: string;
  readonly connectVersion: string;
  readonly debeziumSettings: Record<string, string>;
  readonly relaySettings: Record<string, string>;
  readonly notes: string[];
  readonly details: { readonly relay: PeerDetails; readonly debezium: PeerDetails };
  readonly durationMs: number;
}

const WRITER_POOL = 16;
const DRAIN_TIMEOUT_MS = 15 * 60_000;
const LATENCY_SETTLE_TIMEOUT_MS = 60_000;
const PROBE_KEY = '__peers_probe__';

function figures(d: PeerDetails): PeerFigures {
  const { latency, drain } = d;
  return {
    eventsPerSec: drain.eventsPerSec,
    commitToTopicMs: {
      p50: latency.p50,
      p95: latency.p95,
      p99: latency.p99,
      max: latency.max,
      samples: latency.samples,
      missing: latency.missing,
    },
    duplicates: drain.duplicates + latency.duplicates,
  };
}

function withoutCommits(w: WriterResult): Omit<WriterResult, 'commits'> {
  const { commits: _, ...rest } = w;
  return rest;
}

/** Fresh events for the latency load: lifecycle events of enough orders, cut to `count`. */
function latencyEvents(prefix: string, count: number): OrderEvent[] {
  return lifecycleEvents(orderIds(prefix, Math.ceil(count / 3))).slice(0, count);
}

class Run {
  readonly id: string;
  readonly notes: string[] = [];
  private readonly cleanups: Array<{ name: string; fn: () => Promise<unknown> }> = [];

  constructor(readonly ctx: PeerContext) {
    // PostgreSQL identifiers and topic names: lower case letters, digits, underscores.
    this.id = `${ctx.runId.toLowerCase().replace(/[^a-z0-9]/g, '')}${randomUUID().slice(0, 4)}`;
  }

  progress(line: string) {
    this.ctx.progress(`peers: ${line}`);
  }

  defer(name: string, fn: () => Promise<unknown>) {
    this.cleanups.push({ name, fn });
  }

  async cleanup() {
    for (const { name, fn } of this.cleanups.splice(0).reverse()) {
      await fn().catch((error: unknown) => this.progress(`cleanup (${name}): ${String(error)}`));
    }
  }

  checkAbort() {
    if (this.ctx.signal?.aborted) throw new PeerError('interrupted');
  }

  /**
   * Waits until the topic holds at least `target` records, then until it stops growing for
   * `quietMs` (redeliveries still in flight land too). `check` runs every second.
   */
  async settle(
    topics: Topics,
    topic: string,
    target: bigint,
    options: {
      readonly timeoutMs: number;
      readonly what: string;
      readonly check?: () => Promise<void>;
      readonly throwOnTimeout: boolean;
      readonly quietMs?: number;
    },
  ): Promise<bigint> {
    const started = Date.now();
    let lastCheck = 0;
    let lastReport = Date.now();
    let total = await topics.total(topic);
    while (total < target) {
      this.checkAbort();
      if (Date.now() - started > options.timeoutMs) {
        const message = `${options.what}: ${total} of ${target} records on ${topic} after ${options.timeoutMs / 1000} s`;
        if (options.throwOnTimeout) throw new PeerError(message);
        this.notes.push(message);
        return total;
      }
      if (options.check !== undefined && Date.now() - lastCheck > 1_000) {
        lastCheck = Date.now();
        await options.check();
      }
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        this.progress(`${options.what}: ${total} of ${target} records so far`);
      }
      await sleep(100);
      total = await topics.total(topic);
    }
    const quietMs = options.quietMs ?? 2_000;
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      await sleep(250);
      const now = await topics.total(topic);
      if (now !== total) {
        total = now;
        since = Date.now();
      }
    }
    return total;
  }
}

async function privateDatabases(run: Run) {
  const pgCluster: PrivatePostgres = await startPrivatePostgres((l) => run.progress(l), {
    settings: LOGICAL_SETTINGS,
  });
  run.defer('private postgres', () => pgCluster.destroy());
  const make = async (peer: string): Promise<ScratchDatabase> => {
    const db = await createScratchDatabase(pgCluster.pgEnv, `peers_${peer}_${run.id}`, {
      poolMax: WRITER_POOL + 4,
    });
    run.defer(`${peer} database pool`, () => db.pool.end());
    return db;
  };
  return { pgCluster, relayDb: await make('relay'), debeziumDb: await make('debezium') };
}

/** Inserts probe rows until one reaches the topic: the connector is then streaming. */
async function waitStreaming(
  run: Run,
  pool: pg.Pool,
  topics: Topics,
  topic: string,
  connect: RunningConnect,
  timeoutMs = 120_000,
): Promise<number> {
  const started = Date.now();
  const baseline = await topics.total(topic);
  let probes = 0;
  for (;;) {
    run.checkAbort();
    probes++;
    const id = randomUUID();
    await pool.query(
      `INSERT INTO outbox (id, aggregate_id, event_type, payload, headers)
       VALUES ($1, $2, 'PeersProbe', $3, '{}'::jsonb)`,
      [id, PROBE_KEY, JSON.stringify({ eventId: id, probe: probes })],
    );
    const probeStarted = Date.now();
    while (Date.now() - probeStarted < 3_000) {
      await sleep(100);
      if ((await topics.total(topic)) > baseline) {
        return probes;
      }
    }
    await connect.check();
    if (Date.now() - started > timeoutMs) {
      throw new PeerError(
        `Debezium did not stream a probe row to ${topic} within ${timeoutMs / 1000} s (${probes} probes)\n`,
      );
    }
  }
}

async function dropSlot(pool: pg.Pool, slot: string): Promise<void> {
  await pool.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
    [slot],
  );
}

async function latencyRun(
  run: Run,
  pool: pg.Pool,
  topics: Topics,
  topic: string,
  peer: string,
  check?: () => Promise<void>,
): Promise<{ latency: LatencyFigures; writer: WriterResult }> {
  const { sizes } = run.ctx;
  const warmupCount = Math.round((sizes.ratePerSec * sizes.warmupMs) / 1000);
  const total = warmupCount + Math.round((sizes.ratePerSec * sizes.windowMs) / 1000);
  const events = latencyEvents(`l${peer.slice(0, 1)}${run.id}`, total);
  const before = await topics.total(topic);
  run.progress(
    `${peer}: writing ${total} events at ${sizes.ratePerSec}/s (${sizes.warmupMs / 1000} s warm-up + ${sizes.windowMs / 1000} s window)`,
  );
  const writer = await writeAtRate(pool, events, {
    ratePerSec: sizes.ratePerSec,
    warmupCount,
    ...(run.ctx.signal ? { signal: run.ctx.signal } : {}),
  });
  if (writer.errors > 0) {
    run.notes.push(
      `${peer}: ${writer.errors} of ${writer.total} latency writes failed (${writer.errorSamples.slice(0, 2).join('; ')})`,
    );
  }
  if (writer.maxLateMs > 1_000) {
    run.notes.push(
      `${peer}: the writer fell ${Math.round(writer.maxLateMs)} ms behind its schedule (the offered rate was not held)`,
    );
  }
  await run.settle(topics, topic, before + BigInt(writer.committed), {
    timeoutMs: LATENCY_SETTLE_TIMEOUT_MS,
    what: `${peer} latency`,
    throwOnTimeout: false,
    quietMs: 1_000,
    ...(check ? { check } : {}),
  });
  const records = await topics.read(topic, await topics.endOffsets(topic));
  const latency = commitToTopic(writer.commits, records);
  run.progress(
    `${peer}: commit→topic p50 ${latency.p50.toFixed(1)} ms, p95 ${latency.p95.toFixed(1)}, p99 ${latency.p99.toFixed(1)}, max ${latency.max.toFixed(1)} (${latency.samples} samples, ${latency.missing} missing; ${loadNote(run, `${peer} latency`)})`,
  );
  return { latency, writer };
}

/**
 * The 1-minute load average after a measurement: above the CPU count, something else competed
 * for the machine (both peers share it with the broker, PostgreSQL and the bench itself).
 */
function loadNote(run: Run, what: string): string {
  const load = loadavg()[0] ?? 0;
  const cpus = availableParallelism();
  if (load > cpus + 1) {
    run.notes.push(
      `${what}: 1-minute load average ${load.toFixed(1)} on ${cpus} CPUs (busy machine)`,
    );
  }
  return `load ${load.toFixed(1)}/${cpus} CPUs`;
}

function drainNote(run: Run, peer: string, drain: DrainFigures) {
  run.progress(
    `${peer}: drained ${drain.distinct} events at ${Math.round(drain.eventsPerSec)} events/s (${drain.duplicates} duplicates, ${drain.missing} missing; ${loadNote(run, `${peer} drain`)})`,
  );
  if (drain.missing > 0)
    run.notes.push(`${peer}: ${drain.missing} backlog events never reached the topic`);
  if (drain.duplicates > 0)
    run.notes.push(`${peer}: ${drain.duplicates} backlog events were published more than once`);
  if (drain.malformed > 0) {
    run.notes.push(
      `${peer}: ${drain.malformed} records' values do not carry their eventId header's id`,
    );
  }
}

async function measureDebezium(
  run: Run,
  db: ScratchDatabase,
  topics: Topics,
  topic: string,
  events: readonly OrderEvent[],
  expected: ReadonlySet<string>,
): Promise<{ details: PeerDetails; settings: Record<string, string> }> {
  const paths = debeziumPaths();
  const slot = `dbz_${run.id}`;
  const connectRun = await prepareRun(
    paths,
    run.id,
    run.ctx.kafkaBrokers,
    {
      host: db.env.host,
      port: db.env.port,
      user: db.env.user,
      database: db.env.database,
      slotName: slot,
      publicationName: `dbz_${run.id}`,
      topicPrefix: `peers_${run.id}`,
      topic,
    },
    (l) => run.progress(l),
  );
  run.defer('debezium slot', () => dropSlot(db.pool, slot));
  let connect: RunningConnect | undefined;
  run.defer('kafka connect', async () => connect?.stop());
  const start = async (what: string) => {
    const t = Date.now();
    connect = await startConnect(connectRun, paths, {
      ...(run.ctx.signal ? { signal: run.ctx.signal } : {}),
    });
    run.progress(
      `debezium: Kafka Connect ${what}: connector RUNNING after ${((Date.now() - t) / 1000).toFixed(1)} s (pid ${connect.pid}, REST :${connectRun.restPort}, log ${connectRun.logFile})`,
    );
    return connect;
  };

  // 1. Slot and publication, created by the connector on the empty outbox (no_data snapshot).
  let c = await start('first start on the empty outbox');
  const probes = await waitStreaming(run, db.pool, topics, topic, c);
  run.progress(`debezium: streaming (${probes} probe row(s)); stopping Connect gracefully`);
  await c.stop();
  // 2. The backlog accumulates in the slot while Connect is down.
  run.progress(`debezium: filling the outbox with ${events.length} events`);
  await fillOutbox(db.pool, events);
  // 3. Drain.
  const before = await topics.total(topic);
  c = await start('restart on the backlog');
  const check = () => (c as RunningConnect).check();
  await run.settle(topics, topic, before + BigInt(events.length), {
    timeoutMs: DRAIN_TIMEOUT_MS,
    what: 'debezium drain',
    check,
    throwOnTimeout: true,
  });
  const drain = drainFigures(await topics.read(topic, await topics.endOffsets(topic)), expected);
  drainNote(run, 'debezium', drain);
  // 4. Latency: streaming and idle.
  await sleep(1_000);
  const { latency, writer } = await latencyRun(run, db.pool, topics, topic, 'debezium', check);
  await c.check();
  await c.stop();
  connect = undefined;
  await dropSlot(db.pool, slot);
  const status = connectLogTail(connectRun, 5);
  if (/\] (WARN|ERROR) /.test(status)) {
    run.notes.push(`debezium: the Connect log has warnings; last lines:\n${status}`);
  }
  // Kept only when the run fails (its logs); the next run removes a failed run's directory.
  rmSync(connectRun.dir, { recursive: true, force: true });
  return {
    details: {
      drain,
      latency,
      writer: withoutCommits(writer),
      extra: { probes },
    },
    settings: debeziumSettings(connectRun.connector, connectRun.worker),
  };
}

async function measureRelay(
  run: Run,
  db: ScratchDatabase,
  topics: Topics,
  topic: string,
  events: readonly OrderEvent[],
  expected: ReadonlySet<string>,
): Promise<PeerDetails> {
  const { ctx } = run;
  const base = { env: { ...ctx.endpoints, ...db.envVars }, stage: ctx.stage };
  run.progress(`relay: filling the outbox with ${events.length} events`);
  await fillOutbox(db.pool, events);
  run.progress('relay: draining (relay worker, bundled relay loop)');
  const drained = await ctx.runWorker({
    ...base,
    kind: 'relay',
    topic,
    expected: events.length,
  }).result;
  if (drained.timedOut === true)
    run.notes.push('relay: the worker timed out before publishing every event');
  await run.settle(topics, topic, BigInt(events.length), {
    timeoutMs: 30_000,
    what: 'relay drain',
    throwOnTimeout: false,
  });
  const drain = drainFigures(await topics.read(topic, await topics.endOffsets(topic)), expected);
  drainNote(run, 'relay', drain);

  const worker = ctx.runWorker({ ...base, kind: 'e2e-relay', topic });
  await worker.ready;
  // LISTEN registered and the producer connected before the load starts.
  await sleep(1_000);
  let latencyRunResult: Awaited<ReturnType<typeof latencyRun>>;
  try {
    latencyRunResult = await latencyRun(run, db.pool, topics, topic, 'relay');
  } finally {
    worker.send({ type: 'stop' });
  }
  const stopped = await worker.result;
  return {
    drain,
    latency: latencyRunResult.latency,
    writer: withoutCommits(latencyRunResult.writer),
    extra: {
      workerEventsPerSec: drained.eventsPerSec,
      drainWorker: { summary: drained.summary, log: drained.log, peakRssMb: drained.peakRssMb },
      latencyWorker: stopped,
    },
  };
}

export async function measurePeers(ctx: PeerContext): Promise<PeersResult> {
  const run = new Run(ctx);
  const started = Date.now();
  const { sizes } = ctx;
  run.progress(
    `run ${run.id}: ${sizes.throughputOrders * 3} backlog events per peer, ${sizes.ratePerSec}/s for ${(sizes.warmupMs + sizes.windowMs) / 1000} s, ${ctx.partitions} partitions`,
  );
  try {
    const { relayDb, debeziumDb } = await privateDatabases(run);
    const topics = await openTopics(ctx.kafkaBrokers, `peers-${run.id}`);
    run.defer('kafka admin', () => topics.close());
    run.defer('topics', () => topics.deleteAll());
    const debeziumTopic = await topics.create(`peers-${run.id}-debezium`, ctx.partitions);
    const relayTopic = await topics.create(`peers-${run.id}-relay`, ctx.partitions);
    const events = lifecycleEvents(orderIds(`p${run.id}`, sizes.throughputOrders));
    const expected = new Set(events.map((e) => e.eventId));

    const debezium = await measureDebezium(
      run,
      debeziumDb,
      topics,
      debeziumTopic,
      events,
      expected,
    );
    const relay = await measureRelay(run, relayDb, topics, relayTopic, events, expected);

    run.notes.push(
      'records: the relay publishes the headers column (eventId, eventType, schemaVersion, correlationId) and ' +
        'JSON.stringify(payload); Debezium publishes id, eventId and eventType headers and the jsonb text ' +
        "PostgreSQL outputs (spaces after ':' and ','), so its records are slightly larger",
    );
    return {
      relay: figures(relay),
      debezium: figures(debezium.details),
      debeziumVersion: DEBEZIUM_VERSION,
      connectVersion: CONNECT_VERSION,
      debeziumSettings: debezium.settings,
      relaySettings: {
        batchSize: String(ctx.relayBatchSize),
        wake: 'LISTEN/NOTIFY (wakeRelay after each commit)',
        producer: 'kafkajs, idempotent, acks -1, ≤ 5 in flight',
      },
      notes: run.notes,
      details: { relay, debezium: debezium.details },
      durationMs: Date.now() - started,
    };
  } finally {
    await run.cleanup();
  }
}
