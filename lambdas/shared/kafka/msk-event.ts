// The MSK Lambda event, structurally (domain code does not import aws-lambda types): records
// grouped per topic-partition in offset order, and the partial batch response. Shared by every
// function fed by an MSK event source mapping.
import { Buffer } from 'node:buffer';
import type { KafkaHeader, MskHeaders } from '../dead-letter/headers';
import { headersFromMsk } from '../dead-letter/headers';

// --- input --------------------------------------------------------------------------------

/** The MSK event's record, structurally (domain code does not import aws-lambda types). */
export interface MskRecordLike {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number | string;
  readonly timestamp?: number;
  /** base64; absent for a null key. */
  readonly key?: string | null;
  /** base64; absent for a tombstone. */
  readonly value?: string | null;
  readonly headers?: MskHeaders;
}

export interface MskEventLike {
  readonly records: Readonly<Record<string, readonly MskRecordLike[]>>;
}

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  /** int64 as a decimal string. */
  readonly offset: string;
  /** Epoch ms the record was written to its topic, when known. */
  readonly timestamp: number | undefined;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: KafkaHeader[];
}

export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string | number | bigint;
}

/**
 * The partial batch response of a Kafka event source (MSK or self-managed, provisioned mode):
 * the identifier is an object, not the string SQS, Kinesis and DynamoDB streams use. Shape per
 * Powertools for AWS Lambda (Python) `KafkaItemIdentifier` (batch/types.py) and the Lambda guide,
 * "Configuring error handling controls for Kafka event sources" (checked 2026-12-03).
 */
export interface KafkaItemIdentifier {
  /** `<topic>-<partition>`, the key of the event's `records` map. */
  readonly partition: string;
  readonly offset: number;
}

export interface BatchItemFailure {
  readonly itemIdentifier: KafkaItemIdentifier;
}

export interface BatchResponse {
  readonly batchItemFailures: BatchItemFailure[];
}

/** The partial batch response's item identifier: the one place its format is decided. */
export function batchItemIdentifier(position: RecordPosition): KafkaItemIdentifier {
  const offset = Number(position.offset);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset ${String(position.offset)} is not a non-negative safe integer`);
  }
  return { partition: `${position.topic}-${position.partition}`, offset };
}

/** One failure per partition: its earliest unprocessed record (Lambda resumes from there). */
export function batchItemFailures(fromRecords: readonly RecordPosition[]): BatchItemFailure[] {
  const earliest = new Map<string, KafkaItemIdentifier>();
  for (const position of fromRecords) {
    const id = batchItemIdentifier(position);
    const seen = earliest.get(id.partition);
    if (seen === undefined || id.offset < seen.offset) earliest.set(id.partition, id);
  }
  return [...earliest.values()].map((itemIdentifier) => ({ itemIdentifier }));
}

export type BatchResponseVerdict =
  | { readonly ok: true; readonly resumeFrom: ReadonlyMap<string, number> }
  | { readonly ok: false; readonly reason: string };

const PARTITION_KEY = /^(.+)-(\d+)$/;

/**
 * Reads a function's response to a Kafka batch as Lambda does. Success with no failures (null,
 * undefined, `{}` or an empty list) resumes nowhere; each valid failure names the offset its
 * partition resumes from (the lowest per partition). Anything else (a string identifier, an
 * offset or partition not in the batch, a non-object) is unreadable: the whole batch failed.
 */
export function readBatchResponse(event: MskEventLike, response: unknown): BatchResponseVerdict {
  const fail = (reason: string): BatchResponseVerdict => ({ ok: false, reason });
  if (response === null || response === undefined) return { ok: true, resumeFrom: new Map() };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return fail('the response is not an object');
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { ok: true, resumeFrom: new Map() };
  if (!Array.isArray(failures)) return fail('batchItemFailures is not a list');
  const offsets = new Map<string, Set<number>>();
  for (const [key, records] of Object.entries(event.records)) {
    offsets.set(key, new Set(records.map((r) => Number(r.offset))));
  }
  const resumeFrom = new Map<string, number>();
  for (const failure of failures) {
    const id: unknown = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'object' || id === null || Array.isArray(id)) {
      return fail(`itemIdentifier ${JSON.stringify(id) ?? 'undefined'} is not a Kafka identifier`);
    }
    const { partition, offset } = id as { partition?: unknown; offset?: unknown };
    if (typeof partition !== 'string' || !PARTITION_KEY.test(partition)) {
      return fail(
        `itemIdentifier.partition ${JSON.stringify(partition)} is not <topic>-<partition>`,
      );
    }
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      return fail(`itemIdentifier.offset ${JSON.stringify(offset)} is not a non-negative integer`);
    }
    if (!offsets.get(partition)?.has(offset)) {
      return fail(`itemIdentifier ${partition}@${offset} is not a record of this batch`);
    }
    const seen = resumeFrom.get(partition);
    if (seen === undefined || offset < seen) resumeFrom.set(partition, offset);
  }
  return { ok: true, resumeFrom };
}

function fromBase64(value: string | null | undefined): Buffer | null {
  return value === null || value === undefined ? null : Buffer.from(value, 'base64');
}

/** Records grouped per topic-partition, each group in offset order. */
export function partitionsOf(event: MskEventLike): KafkaRecord[][] {
  const groups = new Map<string, KafkaRecord[]>();
  for (const records of Object.values(event.records)) {
    for (const r of records) {
      const record: KafkaRecord = {
        topic: r.topic,
        partition: r.partition,
        offset: String(r.offset),
        timestamp: Number.isFinite(r.timestamp) ? r.timestamp : undefined,
        key: fromBase64(r.key),
        value: fromBase64(r.value),
        headers: headersFromMsk(r.headers),
      };
      const group = `${r.topic}\u0000${r.partition}`;
      groups.set(group, [...(groups.get(group) ?? []), record]);
    }
  }
  return [...groups.values()].map((group) =>
    group.sort((a, b) => {
      const d = BigInt(a.offset) - BigInt(b.offset);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    }),
  );
}
