// A local stand-in for Lambda's MSK event source mapping: a kafkajs consumer group per mapping
// that hands the real handler code batches shaped exactly like MSK Lambda events, commits an
// offset only once its record was handled (or sent to the on-failure destination), and applies
// the mapping's retry, bisect and partial-batch-response settings from the stage config.

import { Buffer } from 'node:buffer';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Consumer, ConsumerConfig, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import { headersFromKafkaJs, toKafkaJsHeaders } from '../../lambdas/shared/dead-letter/headers';
import { MAPPING_BACKSTOP_HEADERS } from '../../lambdas/shared/dead-letter/salvage';
import type { KafkaEnv } from '../../lambdas/shared/env';
import { createKafka } from '../../lambdas/shared/kafka/client';
import {
  type MskEventLike,
  type MskRecordLike,
  readBatchResponse,
} from '../../lambdas/shared/kafka/msk-event';
import {
  buildOnFailureRecord,
  onFailureObjectKey,
} from '../../lambdas/shared/kafka/on-failure-record';
import type { LogSink } from '../../lambdas/shared/log-sink';
import type { MappingConfig } from '../../lib/config/stage-config';

/** One record of the MSK event, as Lambda delivers it. */
export interface MskRecord extends MskRecordLike {
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Array<Record<string, number[]>>;
}

/** The MSK Lambda event, as Lambda delivers it. */
export interface MskEvent extends MskEventLike {
  readonly eventSource: 'aws:kafka';
  readonly eventSourceArn: string;
  readonly bootstrapServers: string;
  readonly records: Record<string, MskRecord[]>;
}

/** The function behind a mapping; whatever it returns is read as Lambda reads it. */
export type MappingHandler = (event: MskEvent) => Promise<unknown>;

export type EmulatedMapping = Pick<
  MappingConfig,
  | 'consumerGroupId'
  | 'batchSize'
  | 'maxBatchingWindowSeconds'
  | 'retryAttempts'
  | 'bisectBatchOnError'
  | 'reportBatchItemFailures'
>;

export interface StartMappingOptions {
  readonly kafkaEnv: KafkaEnv;
  readonly topic: string;
  readonly mapping: EmulatedMapping;
  readonly handler: MappingHandler;
  /**
   * Where records whose retries are exhausted go: a Kafka topic (records as they were, with
   * failure headers), or a directory standing in for an S3 bucket (Lambda's invocation record,
   * lambdas/shared/kafka/on-failure-record.ts, under Lambda's object key). Without either, they
   * are retried forever.
   */
  readonly onFailureTopic?: string;
  readonly onFailureDirectory?: {
    readonly path: string;
    /** The mapping's UUID in the object keys. */
    readonly mappingUuid: string;
    /** The function ARN (or name) recorded in each document. */
    readonly functionArn: string;
  };
  readonly logger: LogSink;
  /** Overrides of the kafkajs consumer settings (groupId always comes from the mapping). */
  readonly consumerSettings?: Partial<Omit<ConsumerConfig, 'groupId'>>;
  /**
   * Partitions handled at once (default 16). Lambda runs up to one concurrent invocation per
   * partition, so a partition never waits for another one's batch.
   */
  readonly partitionConcurrency?: number;
  /** Delay before retry n (1-based): min(maxMs, baseMs · 2^(n-1)). Defaults 200 ms / 10 s. */
  readonly retryBackoff?: { readonly baseMs: number; readonly maxMs: number };
  /**
   * The function's timeout: an invocation that has not answered by then fails its whole batch,
   * as on Lambda. The handler cannot be stopped in process; it is left to finish unheard.
   */
  readonly timeoutMs?: number;
}

export interface MappingStats {
  /** Handler invocations. */
  readonly invocations: number;
  /** Records passed to the handler, counted once per invocation that carried them. */
  readonly recordsDelivered: number;
  /** Re-invocations of a failed (part of a) batch, bisects not included. */
  readonly retries: number;
  /** Failed batches split in halves. */
  readonly bisects: number;
  /** Records written to the on-failure topic. */
  readonly sentToOnFailure: number;
  /** Invocation records written to the on-failure directory (one per discarded batch). */
  readonly onFailureDocuments: number;
  /** Responses that broke the Kafka partial batch contract (each failed its whole batch). */
  readonly malformedResponses: number;
  /** Invocations that ran past the function timeout (each failed its whole batch). */
  readonly timeouts: number;
}

export interface RunningMapping {
  stop(): Promise<void>;
  stats(): MappingStats;
}

/**
 * Header names the emulator adds to records it sends to the on-failure topic: the names triage
 * recognises a raw mapping record by (one definition, in the product).
 */
export const ON_FAILURE_HEADERS = MAPPING_BACKSTOP_HEADERS;

const HEARTBEAT_INTERVAL_MS = 3_000;

/** The consumer settings of a mapping (session 30 s, heartbeat 3 s, rebalance 300 s). */
export function mappingConsumerConfig(mapping: EmulatedMapping): ConsumerConfig {
  return {
    groupId: mapping.consumerGroupId,
    sessionTimeout: 30_000,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
    rebalanceTimeout: 300_000,
    maxWaitTimeInMs: Math.max(10, Math.round(mapping.maxBatchingWindowSeconds * 1000)),
    // Fresh groups start at TRIM_HORIZON; nothing is read past the last committed offset.
    allowAutoTopicCreation: false,
  };
}

function toMskRecord(topic: string, partition: number, message: KafkaMessage): MskRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: 'CREATE_TIME',
    key: message.key === null ? null : Buffer.from(message.key).toString('base64'),
    value: message.value === null ? null : Buffer.from(message.value).toString('base64'),
    headers: headersFromKafkaJs(message.headers).map((h) => ({
      [h.key]:
        h.value === null
          ? []
          : [...(typeof h.value === 'string' ? Buffer.from(h.value, 'utf8') : h.value)],
    })),
  };
}

interface Segment {
  readonly messages: KafkaMessage[];
  /** Retries already spent on these records. */
  readonly retries: number;
}

type Outcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly handled: number;
      readonly reason: string;
      /** What the handler threw, when it threw. */
      readonly error?: unknown;
    };

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startMapping(options: StartMappingOptions): Promise<RunningMapping> {
  const { mapping, topic, handler, logger, onFailureTopic, onFailureDirectory } = options;
  if (onFailureTopic !== undefined && onFailureDirectory !== undefined) {
    throw new Error('a mapping has one on-failure destination: a topic or a directory');
  }
  const hasOnFailure = onFailureTopic !== undefined || onFailureDirectory !== undefined;
  if (!Number.isInteger(mapping.batchSize) || mapping.batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${mapping.batchSize}`);
  }
  const backoff = options.retryBackoff ?? { baseMs: 200, maxMs: 10_000 };
  const bootstrapServers =
    options.kafkaEnv.auth === 'none' ? options.kafkaEnv.brokers.join(',') : '';
  const kafka = createKafka({
    clientId: `esm-${mapping.consumerGroupId}`,
    connection: options.kafkaEnv,
    logger,
  });
  const consumer: Consumer = kafka.consumer({
    ...mappingConsumerConfig(mapping),
    ...options.consumerSettings,
    groupId: mapping.consumerGroupId,
  });
  const producer: Producer | undefined =
    onFailureTopic === undefined ? undefined : kafka.producer({ idempotent: true });
  const stats = {
    invocations: 0,
    recordsDelivered: 0,
    retries: 0,
    bisects: 0,
    sentToOnFailure: 0,
    onFailureDocuments: 0,
    malformedResponses: 0,
    timeouts: 0,
  };
  let stopping = false;

  const eventOf = (partition: number, messages: readonly KafkaMessage[]): MskEvent => ({
    eventSource: 'aws:kafka',
    eventSourceArn: 'local',
    bootstrapServers,
    records: { [`${topic}-${partition}`]: messages.map((m) => toMskRecord(topic, partition, m)) },
  });

  /** Invokes the handler; on failure, how many leading records were handled. */
  async function invoke(partition: number, messages: KafkaMessage[]): Promise<Outcome> {
    stats.invocations += 1;
    stats.recordsDelivered += messages.length;
    const event = eventOf(partition, messages);
    let response: unknown;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = handler(event);
      if (options.timeoutMs === undefined) response = await answer;
      else {
        const limit = options.timeoutMs;
        const timedOut = Symbol('timed out');
        const first = await Promise.race([
          answer,
          new Promise<typeof timedOut>((resolve) => {
            timer = setTimeout(() => resolve(timedOut), limit);
          }),
        ]);
        if (first === timedOut) {
          stats.timeouts += 1;
          answer.catch(() => undefined);
          return { ok: false, handled: 0, reason: `function timed out after ${limit} ms` };
        }
        response = first;
      }
    } catch (error) {
      return { ok: false, handled: 0, reason: `handler threw: ${describe(error)}`, error };
    } finally {
      clearTimeout(timer);
    }
    // Without ReportBatchItemFailures Lambda ignores the response: the batch succeeded.
    if (!mapping.reportBatchItemFailures) return { ok: true };
    // The Kafka partial batch contract: a response Lambda cannot read fails the whole batch.
    const verdict = readBatchResponse(event, response);
    if (!verdict.ok) {
      stats.malformedResponses += 1;
      return { ok: false, handled: 0, reason: `unreadable batch response: ${verdict.reason}` };
    }
    const resumeAt = verdict.resumeFrom.get(`${topic}-${partition}`);
    if (resumeAt === undefined) return { ok: true };
    const handled = messages.findIndex((m) => Number(m.offset) === resumeAt);
    return { ok: false, handled, reason: `batch item failure at offset ${resumeAt}` };
  }

  async function commitThrough(
    payload: EachBatchPayload,
    partition: number,
    message: KafkaMessage | undefined,
  ): Promise<void> {
    if (message === undefined) return;
    payload.resolveOffset(message.offset);
    await consumer.commitOffsets([
      { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
    ]);
  }

  /** Lambda's S3 destination: one invocation record per discarded batch, records included. */
  async function writeOnFailureDocument(
    partition: number,
    segment: Segment,
    outcome: Outcome & { ok: false },
  ): Promise<boolean> {
    if (onFailureDirectory === undefined) return false;
    const timestamp = new Date();
    try {
      const document = buildOnFailureRecord({
        event: eventOf(partition, segment.messages),
        functionArn: onFailureDirectory.functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: segment.retries + 1,
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        timestamp,
      });
      const key = onFailureObjectKey({
        mappingUuid: onFailureDirectory.mappingUuid,
        shard: `${topic}-${partition}`,
        timestamp,
      });
      const file = path.join(onFailureDirectory.path, ...key.split('/'));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify(document));
      stats.onFailureDocuments += 1;
      stats.sentToOnFailure += segment.messages.length;
      logger.warn('esm emulator: batch written to the on-failure directory', {
        topic,
        partition,
        file,
        offsets: segment.messages.map((m) => m.offset),
        reason: outcome.reason,
      });
      return true;
    } catch (error) {
      logger.error('esm emulator: on-failure directory write failed; retrying the records', {
        topic,
        partition,
        error: describe(error),
      });
      return false;
    }
  }

  async function sendToOnFailure(
    partition: number,
    segment: Segment,
    outcome: Outcome & { ok: false },
  ): Promise<boolean> {
    if (onFailureDirectory !== undefined) {
      return writeOnFailureDocument(partition, segment, outcome);
    }
    const reason = outcome.reason;
    if (producer === undefined || onFailureTopic === undefined) return false;
    try {
      await producer.send({
        topic: onFailureTopic,
        messages: segment.messages.map((m) => ({
          key: m.key,
          value: m.value,
          timestamp: m.timestamp,
          headers: {
            ...toKafkaJsHeaders(headersFromKafkaJs(m.headers)),
            [ON_FAILURE_HEADERS.reason]: reason,
            [ON_FAILURE_HEADERS.sourceTopic]: topic,
            [ON_FAILURE_HEADERS.sourcePartition]: String(partition),
            [ON_FAILURE_HEADERS.sourceOffset]: m.offset,
            [ON_FAILURE_HEADERS.attempts]: String(segment.retries + 1),
            [ON_FAILURE_HEADERS.consumerGroup]: mapping.consumerGroupId,
          },
        })),
      });
    } catch (error) {
      logger.error('esm emulator: on-failure destination rejected records; retrying them', {
        topic,
        partition,
        onFailureTopic,
        error: describe(error),
      });
      return false;
    }
    stats.sentToOnFailure += segment.messages.length;
    logger.warn('esm emulator: records sent to the on-failure destination', {
      topic,
      partition,
      onFailureTopic,
      offsets: segment.messages.map((m) => m.offset),
      reason,
    });
    return true;
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    const running = () => !stopping && payload.isRunning() && !payload.isStale();
    // Work in offset order: a failed segment's retries or halves go to the front.
    const queue: Segment[] = chunks(batch.messages, mapping.batchSize).map((messages) => ({
      messages,
      retries: 0,
    }));
    while (queue.length > 0) {
      if (!running()) return; // unresolved offsets are fetched again by the next owner
      const segment = queue.shift() as Segment;
      // Lambda's pollers keep the group membership while a function runs (up to 15 min);
      // kafkajs only heartbeats between batches, so beat while the invocation lasts.
      const beating = setInterval(() => {
        payload.heartbeat().catch(() => undefined);
      }, HEARTBEAT_INTERVAL_MS);
      const outcome = await invoke(partition, segment.messages).finally(() =>
        clearInterval(beating),
      );
      await payload.heartbeat();
      if (outcome.ok) {
        await commitThrough(payload, partition, segment.messages.at(-1));
        continue;
      }
      // Records before the first failed one were handled: commit them, retry from there.
      await commitThrough(payload, partition, segment.messages[outcome.handled - 1]);
      const failed: Segment = {
        messages: segment.messages.slice(outcome.handled),
        retries: segment.retries,
      };
      logger.warn('esm emulator: batch failed', {
        topic,
        partition,
        firstOffset: failed.messages[0]?.offset,
        records: failed.messages.length,
        retriesSpent: failed.retries,
        reason: outcome.reason,
      });
      if (mapping.bisectBatchOnError && failed.messages.length > 1) {
        // Splitting does not count against the retry quota (as with Lambda's bisect).
        const half = Math.ceil(failed.messages.length / 2);
        stats.bisects += 1;
        queue.unshift(
          { messages: failed.messages.slice(0, half), retries: failed.retries },
          { messages: failed.messages.slice(half), retries: failed.retries },
        );
        continue;
      }
      if (failed.retries < mapping.retryAttempts || !hasOnFailure) {
        if (failed.retries >= mapping.retryAttempts) {
          logger.error(
            'esm emulator: RETRIES EXHAUSTED and no on-failure destination; retrying the ' +
              'records until they succeed (the partition is blocked)',
            {
              topic,
              partition,
              consumerGroupId: mapping.consumerGroupId,
              offsets: failed.messages.map((m) => m.offset),
              reason: outcome.reason,
            },
          );
        }
        const retries = failed.retries + 1;
        stats.retries += 1;
        await sleep(Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(retries - 1, 20)));
        await payload.heartbeat();
        queue.unshift({ messages: failed.messages, retries });
        continue;
      }
      if (await sendToOnFailure(partition, failed, outcome)) {
        await commitThrough(payload, partition, failed.messages.at(-1));
      } else {
        await sleep(backoff.maxMs);
        queue.unshift(failed);
      }
    }
  }

  await producer?.connect();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionConcurrency ?? 16,
      eachBatch,
    });
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    throw error;
  }
  logger.info('esm emulator: mapping started', {
    topic,
    consumerGroupId: mapping.consumerGroupId,
    batchSize: mapping.batchSize,
    retryAttempts: mapping.retryAttempts,
    bisectBatchOnError: mapping.bisectBatchOnError,
    reportBatchItemFailures: mapping.reportBatchItemFailures,
    onFailureTopic,
    onFailureDirectory: onFailureDirectory?.path,
  });

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopping = true;
      stopped ??= (async () => {
        await consumer.disconnect();
        await producer?.disconnect();
      })();
      return stopped;
    },
    stats: () => ({ ...stats }),
  };
}
