// Dead letters and MSK events for triage tests (unit and integration).
import { Buffer } from 'node:buffer';
import type { MskRecordLike } from '../../../lambdas/dlq-triage/triage';
import {
  buildDeadLetter,
  type DeadLetterMessage,
  encodeDeadLetter,
} from '../../../lambdas/shared/dead-letter/message';
import {
  type ErrorType,
  IdempotencyConflictError,
  InvalidTransitionError,
  ProcessingFailureError,
  SchemaViolationError,
  TransientError,
} from '../../../lambdas/shared/errors/taxonomy';
import { nextState } from '../../../lambdas/shared/events/state-machine';

export function errorOf(type: ErrorType): Error {
  switch (type) {
    case 'SCHEMA_VIOLATION':
      return new SchemaViolationError('unknown major version 9');
    case 'INVALID_TRANSITION': {
      const rejected = nextState('CREATED', 'OrderShipped');
      if (rejected.ok) throw new Error('fixture should be rejected');
      return new InvalidTransitionError(rejected.rejection);
    }
    case 'IDEMPOTENCY_CONFLICT':
      return new IdempotencyConflictError('same key, different payload');
    case 'TRANSIENT':
      return new TransientError('connection refused');
    case 'PROCESSING_FAILURE':
      return new ProcessingFailureError('unexpected');
  }
}

export interface DeadLetterFixture {
  readonly errorType?: ErrorType;
  readonly redriveCount?: number;
  readonly lastFailureAt?: Date;
  readonly sourceTopic?: string;
  readonly sourceOffset?: string;
  readonly aggregateId?: string;
  readonly eventId?: string;
}

/** A dead letter as the consumer would write it for an OrderPlaced event. */
export function deadLetter(f: DeadLetterFixture = {}): DeadLetterMessage {
  const aggregateId = f.aggregateId ?? 'order-1';
  const eventId = f.eventId ?? 'evt-1';
  const envelope = {
    schemaVersion: '1.0.0',
    eventId,
    eventType: 'OrderPlaced',
    aggregateId,
    timestamp: '2026-03-01T11:59:00.000Z',
    correlationId: 'corr-1',
    data: { total: 1 },
  };
  const last = f.lastFailureAt ?? new Date('2026-03-01T12:00:00.000Z');
  return buildDeadLetter({
    value: Buffer.from(JSON.stringify(envelope), 'utf8'),
    key: aggregateId,
    headers: [
      { key: 'eventId', value: eventId },
      { key: 'correlationId', value: 'corr-1' },
      { key: 'bin', value: Uint8Array.from([0xff, 0x00, 0x01]) },
    ],
    source: {
      topic: f.sourceTopic ?? 'order-events',
      partition: 2,
      offset: f.sourceOffset ?? '41',
    },
    error: errorOf(f.errorType ?? 'TRANSIENT'),
    attempts: 3,
    firstFailureAt: new Date(last.getTime() - 60_000),
    lastFailureAt: last,
    redriveCount: f.redriveCount ?? 0,
  });
}

export interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** An MSK event record (base64 key/value, headers as byte arrays) at a DLQ position. */
export function mskRecord(
  raw: RawRecord,
  topic: string,
  partition: number,
  offset: number,
  timestamp = Date.parse('2026-03-01T12:00:01.000Z'),
): MskRecordLike {
  return {
    topic,
    partition,
    offset,
    timestamp,
    ...(raw.key === null ? {} : { key: raw.key.toString('base64') }),
    ...(raw.value === null ? {} : { value: raw.value.toString('base64') }),
    headers: Object.entries(raw.headers ?? {}).map(([k, v]) => ({
      [k]: [...Buffer.from(v, 'utf8')],
    })),
  };
}

export function dlqRecord(
  message: DeadLetterMessage,
  topic: string,
  partition: number,
  offset: number,
): MskRecordLike {
  return mskRecord(encodeDeadLetter(message), topic, partition, offset);
}

export function mskEvent(records: readonly MskRecordLike[]): {
  records: Record<string, MskRecordLike[]>;
} {
  const out: Record<string, MskRecordLike[]> = {};
  for (const r of records) {
    const key = `${r.topic}-${r.partition}`;
    out[key] = [...(out[key] ?? []), r];
  }
  return { records: out };
}
