// Reads a whole topic, from the start to the high watermarks taken when the read begins: what
// the accounting counts as "on the topic". A throwaway consumer group per read, no commits.

import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { headersFromKafkaJs, type KafkaHeader } from '../../../lambdas/shared/dead-letter/headers';
import type { KafkaEnv } from '../../../lambdas/shared/env';
import { createKafka } from '../../../lambdas/shared/kafka/client';
import { quietLogger } from './setup';

export interface TopicRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly KafkaHeader[];
}

export async function readTopic(
  kafkaEnv: KafkaEnv,
  topic: string,
  timeoutMs = 120_000,
): Promise<TopicRecord[]> {
  const kafka = createKafka({
    clientId: 'drill-reader',
    connection: kafkaEnv,
    logger: quietLogger,
  });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(
      offsets
        .filter((o) => BigInt(o.high) > BigInt(o.low))
        .map((o) => [o.partition, BigInt(o.high)] as const),
    );
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return [];

  const groupId = `drill-reader-${topic}-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 100,
    // Dead letters of large records can approach the broker's 1 MB message limit.
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    allowAutoTopicCreation: false,
  });
  const records: TopicRecord[] = [];
  const pending = new Set(ends.keys());
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `reading ${topic}: partitions ${[...pending].join(',')} not read to their end in ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            for (const m of batch.messages) {
              if (end !== undefined && BigInt(m.offset) >= end) break;
              records.push({
                partition: batch.partition,
                offset: m.offset,
                key: m.key === null ? null : Buffer.from(m.key),
                value: m.value === null ? null : Buffer.from(m.value),
                headers: headersFromKafkaJs(m.headers),
              });
            }
            const last = batch.messages.at(-1);
            if (end !== undefined && last !== undefined && BigInt(last.offset) + 1n >= end) {
              pending.delete(batch.partition);
            }
            if (pending.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const cleanup = kafka.admin();
    await cleanup
      .connect()
      .then(() => cleanup.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => cleanup.disconnect().catch(() => undefined));
  }
  return records;
}
