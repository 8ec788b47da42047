// What every pipeline drill shares: its own database and topics on the services it is given
// (shared or private), the local pipeline pointed at them, a drain wait and the accounting.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type KafkaEnv,
  type PgEndpointEnv,
  parseKafkaEnv,
  parsePgEndpointEnv,
  parseRedisEnv,
} from '../../../lambdas/shared/env';
import type { LogFields, LogSink } from '../../../lambdas/shared/log-sink';
import { logger as sharedLogger } from '../../../lambdas/shared/powertools';
import type { StageConfig } from '../../../lib/config/stage-config';
import {
  type LocalPipeline,
  type RunningConsumer,
  type RunningRelay,
  type RunningTriage,
  startConsumerMapping,
  startLocalPipeline,
  startRelayLoop,
  startTriageMapping,
} from '../../local-runtime/pipeline';
import { REPO_ROOT } from '../../local-runtime/services/paths';
import type { ExpectedOrder } from '../ground-truth';
import { type Accounting, account } from './accounting';
import type { DrillInput } from './inputs';
import { sleep } from './services/lifecycle';
import {
  createDrillDatabase,
  createDrillTopics,
  type DrillDatabase,
  type DrillTopics,
  drillAdmin,
} from './setup';
import { readTopic } from './topic-reader';
import type { Check } from './types';

export interface Endpoints {
  readonly pg: PgEndpointEnv;
  readonly kafkaEnv: KafkaEnv;
  readonly redis: { readonly host: string; readonly port: number };
}

/** The endpoints in an environment (the shared services: tools/local-runtime/services endpointsEnv). */
export function sharedEndpoints(env: NodeJS.ProcessEnv): Endpoints {
  const redis = parseRedisEnv(env);
  return {
    pg: parsePgEndpointEnv(env),
    kafkaEnv: parseKafkaEnv(env),
    redis: { host: redis.host, port: redis.port },
  };
}

/** Where drill logs go: one JSON-lines file per drill run (the pipeline's warnings and errors). */
export const DRILL_LOG_DIR = join(REPO_ROOT, '.cache', 'drill', 'logs');

/** A LogSink appending warn and error lines to a file, never to the terminal. */
export function fileLogger(name: string): { logger: LogSink; path: string } {
  mkdirSync(DRILL_LOG_DIR, { recursive: true });
  const path = join(DRILL_LOG_DIR, `${name}.log`);
  const write =
    (level: string) =>
    (message: string, ...fields: LogFields[]) => {
      const merged = Object.assign({}, ...fields) as Record<string, unknown>;
      const error = merged.error;
      if (error instanceof Error) merged.error = `${error.name}: ${error.message}`;
      try {
        appendFileSync(
          path,
          `${JSON.stringify({ t: new Date().toISOString(), level, message, ...merged })}\n`,
        );
      } catch {
        // Logging must never break a drill.
      }
    };
  const none = () => undefined;
  return {
    path,
    logger: {
      error: write('error'),
      warn: write('warn'),
      info: none,
      debug: none,
    },
  };
}

export interface Harness {
  readonly db: DrillDatabase;
  readonly topics: DrillTopics;
  readonly endpoints: Endpoints;
  /** Endpoint variables of this drill (database, brokers, Redis), as the functions read them. */
  readonly env: Record<string, string>;
  readonly groups: { readonly consumer: string; readonly triage: string };
  readonly logger: LogSink;
  readonly logPath: string;
  startPipeline(): Promise<LocalPipeline>;
  /** The components one at a time, in this process. */
  startConsumer(): Promise<RunningConsumer>;
  startRelay(): Promise<RunningRelay>;
  startTriage(): Promise<RunningTriage>;
  /**
   * Records at or past the consumer group's committed offsets (so they will be delivered
   * again) whose event already has its processed_events row: applied but not committed.
   */
  appliedButUncommitted(): Promise<number>;
  /** processed_events rows (events applied). */
  appliedCount(): Promise<number>;
  /** Records on the order-events topic past the consumer group's committed offsets. */
  consumerLag(): Promise<number>;
  /** Outbox rows not yet published. */
  pendingOutbox(): Promise<number>;
  /** Variables a child process needs to run a component of this drill. */
  readonly childEnv: Record<string, string>;
  /**
   * Outbox empty and both mappings caught up three polls in a row (and `until`, when given,
   * true); false when `timeoutMs` passes first.
   */
  waitForDrain(
    timeoutMs: number,
    options?: { viaOutbox?: boolean; triage?: boolean; until?: () => Promise<boolean> },
  ): Promise<boolean>;
  account(inputs: readonly DrillInput[], orders: readonly ExpectedOrder[]): Promise<Accounting>;
  /**
   * Uncaught errors raised in this process while the drill ran (e.g. a pg client that lost its
   * connection with no 'error' listener): a component crash. Recorded so the drill reports it
   * as a failed check instead of the whole run dying; in production the process would exit.
   */
  crashCheck(): Check;
  close(): Promise<void>;
}

export async function createHarness(
  config: StageConfig,
  name: string,
  endpoints: Endpoints,
  options: { viaOutbox: boolean },
): Promise<Harness> {
  // The shared Powertools logger (idle pool clients dying during a restart warn there) would
  // print over the accounting tables; the components' own logs go to the drill's log file.
  if (process.env.POWERTOOLS_LOG_LEVEL === undefined) sharedLogger.setLogLevel('ERROR');
  const db = await createDrillDatabase(endpoints.pg, name.replaceAll('-', '_'));
  let topics: DrillTopics;
  try {
    topics = await createDrillTopics(endpoints.kafkaEnv, config, name);
  } catch (error) {
    await db.drop();
    throw error;
  }
  const { logger, path } = fileLogger(`${name}-${topics.groupSuffix.slice(-10)}`);
  const crashes: string[] = [];
  const onCrash = (error: unknown) => {
    crashes.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const brokers = endpoints.kafkaEnv.auth === 'none' ? endpoints.kafkaEnv.brokers.join(',') : '';
  const env: Record<string, string> = {
    ...db.envVars,
    KAFKA_BROKERS: brokers,
    REDIS_HOST: endpoints.redis.host,
    REDIS_PORT: String(endpoints.redis.port),
  };
  const groups = {
    consumer: config.mappings.orderConsumer.consumerGroupId + topics.groupSuffix,
    triage: config.mappings.dlqTriage.consumerGroupId + topics.groupSuffix,
  };

  async function lag(groupId: string, topic: string): Promise<number> {
    const admin = drillAdmin(endpoints.kafkaEnv);
    await admin.connect();
    try {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const done = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]),
      );
      let total = 0n;
      for (const end of ends) {
        const at = done.get(end.partition) ?? -1n;
        const from = at < 0n ? BigInt(end.low) : at;
        if (BigInt(end.high) > from) total += BigInt(end.high) - from;
      }
      return Number(total);
    } finally {
      await admin.disconnect();
    }
  }

  async function appliedButUncommitted(): Promise<number> {
    const admin = drillAdmin(endpoints.kafkaEnv);
    await admin.connect();
    let from: Map<number, bigint>;
    try {
      const [committed] = await admin.fetchOffsets({
        groupId: groups.consumer,
        topics: [topics.topics.orderEvents],
      });
      from = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    } finally {
      await admin.disconnect();
    }
    const records = await readTopic(endpoints.kafkaEnv, topics.topics.orderEvents);
    const pending = records
      .filter((r) => BigInt(r.offset) >= (from.get(r.partition) ?? 0n))
      .map((r) => r.headers.find((x) => x.key === 'eventId')?.value)
      .filter((v) => v !== undefined && v !== null)
      .map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('utf8')));
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(DISTINCT event_id)::int AS n FROM processed_events WHERE event_id = ANY($1)',
      [pending],
    );
    return rows[0]?.n ?? 0;
  }

  async function pendingOutbox(): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(
      // A discarded row will never be published: it is not waiting.
      'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND discarded_at IS NULL',
    );
    return rows[0]?.n ?? 0;
  }

  return {
    db,
    topics,
    endpoints,
    env,
    groups,
    logger,
    logPath: path,
    startPipeline: () =>
      startLocalPipeline({
        config,
        env,
        logger,
        topics: topics.topics,
        groupSuffix: topics.groupSuffix,
      }),
    startConsumer: () =>
      startConsumerMapping({
        config,
        env,
        logger,
        topic: topics.topics.orderEvents,
        deadLetterTopic: topics.topics.deadLetter,
        groupId: groups.consumer,
      }),
    startRelay: () => startRelayLoop({ config, env, logger, topic: topics.topics.orderEvents }),
    startTriage: () =>
      startTriageMapping({
        config,
        env,
        logger,
        topic: topics.topics.deadLetter,
        redriveTopic: topics.topics.orderEvents,
        backstopDirectory: topics.backstopDirectory,
        groupId: groups.triage,
      }),
    appliedButUncommitted,
    async appliedCount() {
      const { rows } = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM processed_events',
      );
      return rows[0]?.n ?? 0;
    },
    consumerLag: () => lag(groups.consumer, topics.topics.orderEvents),
    pendingOutbox,
    childEnv: {
      ...env,
      ORDER_EVENTS_TOPIC: topics.topics.orderEvents,
      DLQ_TOPIC: topics.topics.deadLetter,
      DRILL_CONSUMER_GROUP: groups.consumer,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
    },
    async waitForDrain(timeoutMs, drainOptions = {}) {
      const viaOutbox = drainOptions.viaOutbox ?? options.viaOutbox;
      const deadline = Date.now() + timeoutMs;
      let stable = 0;
      while (Date.now() < deadline) {
        try {
          const [outbox, consumerLag, triageLag] = await Promise.all([
            viaOutbox ? pendingOutbox() : Promise.resolve(0),
            lag(groups.consumer, topics.topics.orderEvents),
            drainOptions.triage === false
              ? Promise.resolve(0)
              : lag(groups.triage, topics.topics.deadLetter),
          ]);
          const extra = drainOptions.until === undefined || (await drainOptions.until());
          stable = outbox === 0 && consumerLag === 0 && triageLag === 0 && extra ? stable + 1 : 0;
        } catch {
          // A service being restarted: not drained yet.
          stable = 0;
        }
        // Three quiet polls a second apart: a redrive or retry in flight shows up as lag again.
        if (stable >= 3) return true;
        await sleep(1_000);
      }
      return false;
    },
    account: (inputs, orders) =>
      account(inputs, orders, {
        pool: db.pool,
        kafkaEnv: endpoints.kafkaEnv,
        topics: topics.topics,
      }),
    crashCheck: () => ({
      name: `no uncaught error in the pipeline process${crashes.length > 0 ? ` (${crashes.length}: ${crashes[0]})` : ''}`,
      ok: crashes.length === 0,
    }),
    async close() {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
      await topics.drop().catch(() => undefined);
      await db.drop().catch(() => undefined);
    },
  };
}
