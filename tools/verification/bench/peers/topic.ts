// The peers' topics on the local broker: created with LogAppendTime timestamps (a record's
// timestamp is the broker's append time), their end offsets polled while a peer works, and
// read back in full afterwards, so reading never competes with the peer being measured.
import { type Admin, Kafka, logLevel } from 'kafkajs';
import type { TopicRecord } from './peer-stats';
import { totalOffsets } from './peer-stats';

export const EVENT_ID_HEADER = 'eventId';

export interface Topics {
  readonly admin: Admin;
  create(name: string, partitions: number): Promise<string>;
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  total(topic: string): Promise<bigint>;
  /** Every record up to `until` (per-partition end offsets), from the beginning. */
  read(
    topic: string,
    until: ReadonlyMap<number, bigint>,
    timeoutMs?: number,
  ): Promise<TopicRecord[]>;
  deleteAll(): Promise<void>;
  close(): Promise<void>;
}

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return headerText(value[0]);
  return String(value);
}

function valueCarries(value: Buffer | null, eventId: string | undefined): boolean {
  if (value === null || eventId === undefined) return false;
  try {
    const parsed = JSON.parse(value.toString('utf8')) as { eventId?: unknown };
    return parsed.eventId === eventId;
  } catch {
    return false;
  }
}

export async function openTopics(brokers: string, clientId: string): Promise<Topics> {
  const kafka = new Kafka({
    clientId,
    brokers: brokers.split(',').map((b) => b.trim()),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const created: string[] = [];
  const groups: string[] = [];

  async function endOffsets(topic: string): Promise<Map<number, bigint>> {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  return {
    admin,
    async create(name, partitions) {
      await admin.createTopics({
        topics: [
          {
            topic: name,
            numPartitions: partitions,
            replicationFactor: 1,
            configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
          },
        ],
        waitForLeaders: true,
      });
      created.push(name);
      return name;
    },
    endOffsets,
    async total(topic) {
      return totalOffsets(await endOffsets(topic));
    },
    async read(topic, until, timeoutMs = 180_000) {
      const records: TopicRecord[] = [];
      const next = new Map<number, bigint>([...until.keys()].map((p) => [p, 0n]));
      const done = () => [...until].every(([p, end]) => (next.get(p) ?? 0n) >= end);
      if (done()) return records;
      const groupId = `${clientId}-read-${topic}-${groups.length}`;
      groups.push(groupId);
      const consumer = kafka.consumer({ groupId, maxBytes: 64 * 1024 * 1024 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                new Error(
                  `reading ${topic}: ${records.length} records after ${timeoutMs / 1000} s, ` +
                    `short of the end offsets ${JSON.stringify([...until].map(([p, o]) => [p, String(o)]))}`,
                ),
              ),
            timeoutMs,
          );
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                const end = until.get(batch.partition) ?? 0n;
                for (const m of batch.messages) {
                  const offset = BigInt(m.offset);
                  if (offset >= end) break;
                  const eventId = headerText(m.headers?.[EVENT_ID_HEADER]);
                  records.push({
                    partition: batch.partition,
                    offset: m.offset,
                    timestampMs: Number(m.timestamp),
                    key: m.key === null ? null : m.key.toString('utf8'),
                    eventId,
                    valueMatches: valueCarries(m.value, eventId),
                  });
                  next.set(batch.partition, offset + 1n);
                }
                if (done()) {
                  clearTimeout(timer);
                  resolve();
                }
              },
            })
            .catch((error: unknown) => {
              clearTimeout(timer);
              reject(error);
            });
        });
      } finally {
        await consumer.disconnect().catch(() => undefined);
      }
      return records;
    },
    async deleteAll() {
      if (created.length > 0) await admin.deleteTopics({ topics: created.splice(0) });
      if (groups.length > 0) await admin.deleteGroups(groups.splice(0)).catch(() => undefined);
    },
    async close() {
      await admin.disconnect();
    },
  };
}
