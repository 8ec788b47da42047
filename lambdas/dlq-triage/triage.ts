// Dead-letter triage: per dead-letter record, redrive the original record to its source topic
// after a growing delay, or park it in `dead_letters` with a reason. Each partition is handled
// in offset order; a record is reported as failed only when a dependency fails (PostgreSQL or
// the broker unreachable, the invocation out of time): nothing in a record can fail it.
import type { Producer } from 'kafkajs';
import { toKafkaJsHeaders } from '../shared/dead-letter/headers';
import { type DeadLetterMessage, toRedriveRecord } from '../shared/dead-letter/message';
import { classify, dispositionFor, type ErrorType } from '../shared/errors/taxonomy';
import {
  type BatchItemFailure,
  type BatchResponse,
  batchItemFailures,
  batchItemIdentifier,
  type MskEventLike,
  type MskRecordLike,
  partitionsOf,
  type RecordPosition,
} from '../shared/kafka/msk-event';
import {
  BATCH_OVERHEAD_BYTES,
  HEADER_OVERHEAD_BYTES,
  RECORD_OVERHEAD_BYTES,
} from '../shared/kafka/record-size';
import type { LogSink } from '../shared/log-sink';
import { type BackoffPolicy, sleep as realSleep } from '../shared/resilience/backoff';
import { type OutageWaitOptions, untilAvailable } from '../shared/resilience/outage';
import {
  type DlqRecord,
  minimalParkable,
  type Parkable,
  parkableDeadLetter,
  parkDeadLetter,
  parkReason,
  type Queryable,
  type ReadAs,
} from './park';

// --- input --------------------------------------------------------------------------------

export { unreadableDeadLetter } from './park';
export type {
  BatchItemFailure,
  BatchResponse,
  DlqRecord,
  MskEventLike,
  MskRecordLike,
  Parkable,
  Queryable,
  ReadAs,
  RecordPosition,
};
export { batchItemIdentifier, parkableDeadLetter, parkDeadLetter, parkReason, partitionsOf };

// --- decisions ----------------------------------------------------------------------------

export interface RedrivePolicy {
  /** Redrives of a TRANSIENT message before it is parked. */
  readonly maxRedrives: number;
  /** Redrives of a PROCESSING_FAILURE message (may be smaller: usually a bug). */
  readonly maxProcessingFailureRedrives: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * Fraction of the delay removed at random (0 = exact; the stage config's
   * `triage.redriveJitterPercent` / 100). Spreads redrives of messages that failed together
   * (e.g. one outage) without ever making a later redrive come sooner.
   */
  readonly jitterRatio: number;
}

/** Redrives allowed for a type that triage redrives at all. */
export function redriveLimit(errorType: ErrorType, policy: RedrivePolicy): number {
  return errorType === 'PROCESSING_FAILURE'
    ? Math.min(policy.maxProcessingFailureRedrives, policy.maxRedrives)
    : policy.maxRedrives;
}

/**
 * Delay before redrive number `redriveCount + 1`: min(max, base · 2^redriveCount), minus up
 * to `jitterRatio` of it. With a ratio below 0.5 a higher count never waits less.
 */
export function redriveDelayMs(
  redriveCount: number,
  policy: RedrivePolicy,
  random: () => number = Math.random,
): number {
  if (!Number.isSafeInteger(redriveCount) || redriveCount < 0)
    throw new RangeError(`redriveCount must be ≥ 0, got ${redriveCount}`);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(redriveCount, 40));
  const jitter = Math.min(Math.max(policy.jitterRatio, 0), 1);
  return Math.round(ceiling * (1 - jitter * random()));
}

export type TriageDecision =
  | { readonly action: 'PARK'; readonly reason: string }
  | {
      readonly action: 'REDRIVE';
      readonly delayMs: number;
      /** Epoch ms: lastFailureAt + delay. */
      readonly dueAt: number;
    };

export function decide(
  message: DeadLetterMessage,
  policy: RedrivePolicy,
  redriveTopics: ReadonlySet<string>,
  random: () => number = Math.random,
): TriageDecision {
  if (dispositionFor(message.errorType).triage === 'PARK') {
    return { action: 'PARK', reason: `${message.errorType} is never redriven` };
  }
  const limit = redriveLimit(message.errorType, policy);
  if (message.redriveCount >= limit) {
    return {
      action: 'PARK',
      reason: `redriven ${message.redriveCount} times; limit for ${message.errorType} is ${limit}`,
    };
  }
  // Never produce to a topic the function is not meant to write (e.g. a forged source).
  if (!redriveTopics.has(message.source.topic)) {
    return { action: 'PARK', reason: `source topic "${message.source.topic}" is not redrivable` };
  }
  const delayMs = redriveDelayMs(message.redriveCount, policy, random);
  return { action: 'REDRIVE', delayMs, dueAt: Date.parse(message.lastFailureAt) + delayMs };
}

// --- effects ------------------------------------------------------------------------------

/** The slice of CircuitBreaker used here. */
export interface Breaker {
  execute<T>(fn: () => Promise<T>): Promise<T>;
}

export interface TriageTelemetry {
  received(): void;
  redriven(message: DeadLetterMessage): void;
  parked(message: DeadLetterMessage): void;
}

export interface TriageDeps {
  readonly db: Queryable;
  readonly producer: Pick<Producer, 'send'>;
  readonly breakers: { readonly postgres: Breaker; readonly kafka: Breaker };
  readonly logger: LogSink;
  readonly telemetry: TriageTelemetry;
  /** Time left in this invocation (Lambda: context.getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface TriageOptions extends RedrivePolicy {
  readonly redriveTopics: readonly string[];
  /** Stop taking on work when less than this remains; no wait may end inside it. */
  readonly stopBeforeTimeoutMs: number;
  /** The source topic's message size limit: a larger original record is parked, not sent. */
  readonly maxRedriveBytes: number;
  /** Between tries while PostgreSQL or the broker cannot be reached (see untilAvailable). */
  readonly outageWait: BackoffPolicy;
  /** While waiting out an outage, the first check and every this-many-th one are logged. */
  readonly outageLogEvery: number;
}

export { toKafkaJsHeaders };

/** What the redriven record weighs against the source topic's `max.message.bytes`. */
export function redriveRecordBytes(message: DeadLetterMessage): number {
  const record = toRedriveRecord(message);
  const bytes = (v: Uint8Array | string | null) =>
    v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
  // Alone in its batch, as the relay's estimate counts it (an upper bound).
  return (
    BATCH_OVERHEAD_BYTES +
    RECORD_OVERHEAD_BYTES +
    bytes(record.key) +
    bytes(record.value) +
    record.headers.reduce(
      (n, h) => n + HEADER_OVERHEAD_BYTES + Buffer.byteLength(h.key) + bytes(h.value),
      0,
    )
  );
}

export async function redrive(
  producer: Pick<Producer, 'send'>,
  message: DeadLetterMessage,
): Promise<void> {
  const record = toRedriveRecord(message);
  await producer.send({
    topic: record.topic,
    acks: -1,
    messages: [{ key: record.key, value: record.value, headers: toKafkaJsHeaders(record.headers) }],
  });
}

// --- the batch ----------------------------------------------------------------------------

export interface TriageSummary extends BatchResponse {
  readonly received: number;
  readonly redriven: number;
  readonly parked: number;
  /** Parked before (a redelivered dead-letter record): handled, not inserted again. */
  readonly alreadyParked: number;
}

type Stop = { readonly stop: string };

class Counts {
  received = 0;
  redriven = 0;
  parked = 0;
  alreadyParked = 0;
}

export async function triageBatch(
  event: MskEventLike,
  deps: TriageDeps,
  options: TriageOptions,
): Promise<TriageSummary> {
  const counts = new Counts();
  const failed: DlqRecord[] = [];
  const topics = new Set(options.redriveTopics);
  // Partitions are independent; within one, order matters (Lambda resumes at the lowest failure).
  await Promise.all(
    partitionsOf(event).map(async (records) => {
      for (const [i, record] of records.entries()) {
        const outcome = await handleRecord(record, deps, options, topics, counts);
        if (outcome !== undefined) {
          const rest = records.slice(i);
          deps.logger.warn('triage stopped for partition; remaining records reported as failed', {
            topic: record.topic,
            partition: record.partition,
            fromOffset: record.offset,
            failedRecords: rest.length,
            reason: outcome.stop,
          });
          failed.push(record);
          return;
        }
      }
    }),
  );
  // Lambda resumes each partition at its earliest failure, so that one identifier is enough.
  return { batchItemFailures: batchItemFailures(failed), ...counts };
}

/** The first words of every park_reason: what kind of park it was. */
export const PARK_KINDS = {
  policy: 'policy',
  outOfRange: 'out of range',
  tooLarge: 'too large to redrive',
  redriveRefused: 'redrive refused',
  salvaged: 'salvaged',
  backstop: 'backstop record',
  unreadable: 'unreadable',
  failed: 'triage failed',
  recovered: 'recovered',
} as const;

const READ_AS_KIND: Readonly<Record<ReadAs, string>> = {
  salvaged: PARK_KINDS.salvaged,
  backstop: PARK_KINDS.backstop,
  unreadable: PARK_KINDS.unreadable,
};

/**
 * Why a record is parked whatever its type says: it is not a readable dead letter, or its
 * values are out of range. Undefined for a dead letter that can be triaged as received.
 */
export function intrinsicReason(parkable: Parkable): string | undefined {
  if (parkable.readAs !== undefined) {
    return `${READ_AS_KIND[parkable.readAs]}: ${parkable.readDetail ?? ''}`;
  }
  if (parkable.problems.length > 0) {
    return `${PARK_KINDS.outOfRange}: ${parkable.problems.join('; ')}`;
  }
  return undefined;
}

interface Position {
  readonly dlqTopic: string;
  readonly dlqPartition: number;
  readonly dlqOffset: string;
}

async function handleRecord(
  record: DlqRecord,
  deps: TriageDeps,
  options: TriageOptions,
  topics: ReadonlySet<string>,
  counts: Counts,
): Promise<Stop | undefined> {
  const now = deps.now ?? Date.now;
  if (deps.remainingMs() <= options.stopBeforeTimeoutMs) return { stop: 'invocation time is up' };
  counts.received++;
  deps.telemetry.received();
  const position: Position = {
    dlqTopic: record.topic,
    dlqPartition: record.partition,
    dlqOffset: record.offset,
  };
  try {
    return await triageRecord(record, deps, options, topics, counts, position);
  } catch (error) {
    // A bug, not the record: still park it (bytes only) rather than block the partition.
    const message = classify(error).message;
    deps.logger.error('triage failed on a record: parking its raw bytes', {
      ...position,
      error: message,
    });
    const parkable = minimalParkable(record, now(), 'triage failed');
    return park(
      parkable,
      `${PARK_KINDS.failed}: ${message}`,
      record,
      deps,
      options,
      counts,
      position,
    );
  }
}

async function triageRecord(
  record: DlqRecord,
  deps: TriageDeps,
  options: TriageOptions,
  topics: ReadonlySet<string>,
  counts: Counts,
  position: Position,
): Promise<Stop | undefined> {
  const now = deps.now ?? Date.now;
  const parkable = parkableDeadLetter(record, now());
  const parkAs = (decision: string) =>
    park(parkable, parkReason(parkable, decision), record, deps, options, counts, position);

  const intrinsic = intrinsicReason(parkable);
  if (intrinsic !== undefined) {
    deps.logger.warn('dead letter cannot be triaged as received: parking it', {
      ...position,
      reason: intrinsic,
    });
    return parkAs(intrinsic);
  }

  const message = parkable.message;
  const decision = decide(message, options, topics, deps.random);
  if (decision.action === 'PARK') return parkAs(`${PARK_KINDS.policy}: ${decision.reason}`);

  const size = redriveRecordBytes(message);
  if (size > options.maxRedriveBytes) {
    return parkAs(
      `${PARK_KINDS.tooLarge}: the original record is ${size} bytes; ${message.source.topic} takes at most ${options.maxRedriveBytes}`,
    );
  }
  // A failure time within the allowed clock skew ahead of now counts from now.
  const waitMs = Math.min(decision.dueAt, now() + decision.delayMs) - now();
  if (waitMs > 0) {
    if (waitMs + options.stopBeforeTimeoutMs > deps.remainingMs()) {
      return { stop: `redrive due in ${waitMs} ms: does not fit in this invocation` };
    }
    await (deps.sleep ?? realSleep)(waitMs);
  }
  try {
    await untilAvailable(
      () => deps.breakers.kafka.execute(() => redrive(deps.producer, message)),
      outageWaitOptions(deps, options, position, 'redrive'),
    );
  } catch (error) {
    const c = classify(error);
    // The broker refusing this record (too large, not authorised) refuses it every time.
    if (c.errorType !== 'TRANSIENT') {
      deps.logger.warn('redrive refused: parking the dead letter', {
        ...position,
        error: c.message,
      });
      return parkAs(`${PARK_KINDS.redriveRefused}: ${c.message}`);
    }
    return failed('redrive', error, deps, position);
  }
  counts.redriven++;
  deps.telemetry.redriven(message);
  deps.logger.info('dead letter redriven to its source topic', {
    ...position,
    ...identity(message),
    redriveCount: message.redriveCount + 1,
    delayMs: decision.delayMs,
  });
  return undefined;
}

async function park(
  parkable: Parkable,
  reason: string,
  record: DlqRecord,
  deps: TriageDeps,
  options: TriageOptions,
  counts: Counts,
  position: Position,
): Promise<Stop | undefined> {
  const now = deps.now ?? Date.now;
  let result: Awaited<ReturnType<typeof parkDeadLetter>>;
  try {
    result = await untilAvailable(
      () =>
        deps.breakers.postgres.execute(() =>
          parkDeadLetter(deps.db, parkable, reason, record, now()),
        ),
      outageWaitOptions(deps, options, position, 'park'),
    );
  } catch (error) {
    return failed('park', error, deps, position);
  }
  const fields = { ...position, ...identity(parkable.message), reason: result.reason };
  if (!result.inserted) {
    counts.alreadyParked++;
    deps.logger.info('dead letter already parked (redelivered): not parked again', fields);
    return undefined;
  }
  counts.parked++;
  deps.telemetry.parked(parkable.message);
  deps.logger.info('dead letter parked', fields);
  return undefined;
}

/**
 * A database or broker outage is waited out inside the invocation (the partition keeps its
 * place); handing the batch back at once would spend the mapping's retries within one failover
 * and send the dead letters to the S3 backstop.
 */
function outageWaitOptions(
  deps: TriageDeps,
  options: TriageOptions,
  position: Position,
  action: 'park' | 'redrive',
): OutageWaitOptions {
  return {
    policy: options.outageWait,
    remainingMs: deps.remainingMs,
    stopBeforeTimeoutMs: options.stopBeforeTimeoutMs,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    onWait: (delayMs, attempt, error) => {
      if (attempt === 1 || attempt % options.outageLogEvery === 0) {
        deps.logger.warn(`${action} waits for an unavailable dependency`, {
          ...position,
          attempt,
          delayMs,
          error: classify(error).message,
        });
      }
    },
  };
}

function failed(
  action: 'park' | 'redrive',
  error: unknown,
  deps: TriageDeps,
  position: Position,
): Stop {
  const c = classify(error);
  if (c.circuitOpen) return { stop: `${action} not attempted: ${c.message}` };
  deps.logger.error(`${action} failed`, { ...position, errorType: c.errorType, error: c.message });
  return { stop: `${action} failed: ${c.message}` };
}

function identity(message: DeadLetterMessage): Record<string, unknown> {
  return {
    errorType: message.errorType,
    eventId: message.eventId,
    eventType: message.eventType,
    aggregateId: message.aggregateId,
    correlationId: message.correlationId,
    source: message.source,
    redriveCount: message.redriveCount,
  };
}
