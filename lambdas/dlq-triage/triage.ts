// Dead-letter triage (DESIGN §2): per dead-letter record, redrive the original record to its
// source topic after a growing delay, or park it in `dead_letters`. Each partition is handled
// in offset order; a record is reported as failed unless it was parked or redriven.
import type { Producer } from 'kafkajs';
import { toKafkaJsHeaders, utf8Text } from '../shared/dead-letter/headers';
import {
  buildDeadLetter,
  DEAD_LETTER_ROW_COLUMNS,
  type DeadLetterDecodeError,
  type DeadLetterMessage,
  deadLetterRowValues,
  decodeDeadLetter,
  toDeadLetterRow,
  toRedriveRecord,
} from '../shared/dead-letter/message';
import {
  CircuitOpenError,
  classify,
  dispositionFor,
  type ErrorType,
  ProcessingFailureError,
} from '../shared/errors/taxonomy';
import {
  type BatchItemFailure,
  type BatchResponse,
  batchItemFailures,
  batchItemIdentifier,
  type KafkaRecord,
  type MskEventLike,
  type MskRecordLike,
  partitionsOf,
  type RecordPosition,
} from '../shared/kafka/msk-event';
import type { LogSink } from '../shared/log-sink';
import { sleep as realSleep } from '../shared/resilience/backoff';

// --- input --------------------------------------------------------------------------------

/** A record read from the dead-letter topic. */
export type DlqRecord = KafkaRecord;
export type { BatchItemFailure, BatchResponse, MskEventLike, MskRecordLike, RecordPosition };
export { batchItemIdentifier, partitionsOf };

// --- decisions ----------------------------------------------------------------------------

export interface RedrivePolicy {
  /** Redrives of a TRANSIENT message before it is parked. */
  readonly maxRedrives: number;
  /** Redrives of a PROCESSING_FAILURE message (may be smaller: usually a bug). */
  readonly maxProcessingFailureRedrives: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * Fraction of the delay removed at random (0 = exact). Spreads redrives of messages that
   * failed together (e.g. one outage) without ever making a later redrive come sooner.
   */
  readonly jitterRatio?: number;
}

export const DEFAULT_JITTER_RATIO = 0.2;

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
  const jitter = Math.min(Math.max(policy.jitterRatio ?? DEFAULT_JITTER_RATIO, 0), 1);
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

/**
 * A dead-letter record that cannot be read (the mapping's own backstop, garbage, a future
 * format) becomes a PROCESSING_FAILURE dead letter around its exact bytes, to be parked.
 */
export function unreadableDeadLetter(
  record: DlqRecord,
  error: DeadLetterDecodeError,
  now: number,
): DeadLetterMessage {
  const written = record.timestamp !== undefined ? Math.min(record.timestamp, now) : now;
  const details = error.issues
    .slice(0, 3)
    .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
    .join('; ');
  return buildDeadLetter({
    value: record.value,
    key: record.key,
    headers: record.headers,
    // Its own position: the original source is unknown, and the offset dedupes redelivery.
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    error: new ProcessingFailureError(
      `unreadable dead-letter record (${error.kind}): ${error.message}${details === '' ? '' : ` (${details})`}`,
    ),
    attempts: 1,
    firstFailureAt: new Date(written),
    lastFailureAt: new Date(now),
  });
}

// --- effects ------------------------------------------------------------------------------

export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

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
}

const INSERT_DEAD_LETTER = `INSERT INTO dead_letters (${[...DEAD_LETTER_ROW_COLUMNS, 'message'].join(', ')})
VALUES (${[...DEAD_LETTER_ROW_COLUMNS, 'message']
  .map((c, i) => (c === 'payload' || c === 'message' ? `$${i + 1}::jsonb` : `$${i + 1}`))
  .join(', ')})
ON CONFLICT ON CONSTRAINT dead_letters_record_key DO NOTHING`;

// jsonb cannot hold NUL; same rule as message.ts' row payload (an escape preceded by an even
// number of backslashes). The exact bytes stay base64 in original.value.
function jsonbSafe(json: string): string {
  return json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd');
}

/** True when inserted, false when this record at this source position was parked before. */
export async function parkDeadLetter(
  db: Queryable,
  message: DeadLetterMessage,
  /** The message as received, so fields of a newer minor version are kept. */
  messageJson: string = JSON.stringify(message),
): Promise<boolean> {
  const values = [...deadLetterRowValues(toDeadLetterRow(message)), jsonbSafe(messageJson)];
  const result = await db.query(INSERT_DEAD_LETTER, values);
  return result.rowCount === 1;
}

export { toKafkaJsHeaders };

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

export interface Parkable {
  readonly message: DeadLetterMessage;
  /** The record's value as text, stored as received (undefined: store `message`). */
  readonly messageJson: string | undefined;
  /** Set when the record is not a readable dead letter (parked around its raw bytes). */
  readonly unreadable?: DeadLetterDecodeError;
}

/**
 * What triage parks for a record of the dead-letter topic: a readable dead letter as received
 * (decoding drops fields of a newer minor version), its source the original record's position;
 * anything else a PROCESSING_FAILURE around its exact bytes, sourced at its own DLQ position.
 * Shared with `npm run dlq -- recover`, which parks records of discarded batches.
 */
export function parkableDeadLetter(record: DlqRecord, now: number): Parkable {
  const decoded = decodeDeadLetter(record.value);
  if (!decoded.ok) {
    return {
      message: unreadableDeadLetter(record, decoded.error, now),
      messageJson: undefined,
      unreadable: decoded.error,
    };
  }
  return { message: decoded.message, messageJson: utf8Text(record.value) };
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

  const position = {
    dlqTopic: record.topic,
    dlqPartition: record.partition,
    dlqOffset: record.offset,
  };
  const parkable = parkableDeadLetter(record, now());
  if (parkable.unreadable !== undefined) {
    deps.logger.warn('unreadable dead-letter record: parking its raw bytes', {
      ...position,
      kind: parkable.unreadable.kind,
      error: parkable.unreadable.message,
    });
    return park(
      parkable.message,
      undefined,
      'unreadable dead-letter record',
      deps,
      counts,
      position,
    );
  }

  const message = parkable.message;
  const decision = decide(message, options, topics, deps.random);
  if (decision.action === 'PARK') {
    return park(message, parkable.messageJson, decision.reason, deps, counts, position);
  }

  const waitMs = decision.dueAt - now();
  if (waitMs > 0) {
    if (waitMs + options.stopBeforeTimeoutMs > deps.remainingMs()) {
      return { stop: `redrive due in ${waitMs} ms: does not fit in this invocation` };
    }
    await (deps.sleep ?? realSleep)(waitMs);
  }
  try {
    await deps.breakers.kafka.execute(() => redrive(deps.producer, message));
  } catch (error) {
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
  message: DeadLetterMessage,
  messageJson: string | undefined,
  reason: string,
  deps: TriageDeps,
  counts: Counts,
  position: Record<string, unknown>,
): Promise<Stop | undefined> {
  let inserted: boolean;
  try {
    inserted = await deps.breakers.postgres.execute(() =>
      parkDeadLetter(deps.db, message, messageJson),
    );
  } catch (error) {
    return failed('park', error, deps, position);
  }
  const fields = { ...position, ...identity(message), reason };
  if (!inserted) {
    counts.alreadyParked++;
    deps.logger.info('dead letter already parked (redelivered): not parked again', fields);
    return undefined;
  }
  counts.parked++;
  deps.telemetry.parked(message);
  deps.logger.info('dead letter parked', fields);
  return undefined;
}

function failed(
  action: 'park' | 'redrive',
  error: unknown,
  deps: TriageDeps,
  position: Record<string, unknown>,
): Stop {
  const c = classify(error);
  if (error instanceof CircuitOpenError) {
    return { stop: `${action} not attempted: circuit breaker "${error.breaker}" is open` };
  }
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
