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

/** The partial batch response's item identifier: the one place its format is decided. */
export function batchItemIdentifier(position: RecordPosition): string {
  return `${position.topic}-${position.partition}-${String(position.offset)}`;
}

export interface BatchItemFailure {
  readonly itemIdentifier: string;
}

export interface BatchResponse {
  readonly batchItemFailures: BatchItemFailure[];
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
