// The event-source-mapping emulator against the real broker: MSK-shaped events, commits only
// after success, partial batch responses, retries, bisect and the on-failure destination.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKafkaEnv } from '../../../lambdas/shared/env';
import { batchItemIdentifier } from '../../../lambdas/shared/kafka/msk-event';
import {
  type EmulatedMapping,
  type MskEvent,
  type MskRecord,
  ON_FAILURE_HEADERS,
  startMapping,
} from '../../../tools/local-runtime/esm-emulator';
import {
  consumeUntil,
  createTopic,
  quietLogger,
  sleep,
  testKafka,
} from '../../integration/support';

let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  const kafka = testKafka();
  admin = kafka.admin();
  producer = kafka.producer();
  await admin.connect();
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
});

function mapping(overrides: Partial<EmulatedMapping>): EmulatedMapping {
  return {
    consumerGroupId: `esm-it-${randomUUID().slice(0, 8)}`,
    batchSize: 100,
    maxBatchingWindowSeconds: 0.1,
    retryAttempts: 2,
    bisectBatchOnError: false,
    reportBatchItemFailures: true,
    ...overrides,
  };
}

/** Polls until `done()` holds or the deadline passes (the assertions that follow decide). */
async function waitUntil(done: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(50);
}

async function committed(groupId: string, topic: string): Promise<Map<number, string>> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(offsets.flatMap((t) => t.partitions).map((p) => [p.partition, p.offset]));
}

const text = (base64: string | null | undefined) =>
  base64 === null || base64 === undefined ? null : Buffer.from(base64, 'base64').toString('utf8');

const recordsOf = (event: MskEvent): MskRecord[] => Object.values(event.records).flat();

describe('esm emulator', () => {
  it('delivers MSK-shaped events per partition in offset order, within the batch size', async () => {
    const topic = await createTopic(admin, 'esm-shape', 2);
    const perPartition = 7;
    const produced = new Map<string, { partition: number; value: string }>();
    for (const partition of [0, 1]) {
      const messages = Array.from({ length: perPartition }, (_, n) => {
        const value = JSON.stringify({ partition, n });
        produced.set(value, { partition, value });
        return {
          key: `k-${partition}-${n}`,
          value,
          partition,
          headers: { eventId: `e-${partition}-${n}`, bin: Buffer.from([0, 255, n]) },
        };
      });
      await producer.send({ topic, messages });
    }
    const events: MskEvent[] = [];
    const m = mapping({ batchSize: 3 });
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: m,
      handler: async (event) => {
        events.push(event);
      },
      logger: quietLogger,
    });
    try {
      await waitUntil(() => events.flatMap(recordsOf).length >= 2 * perPartition);
    } finally {
      await running.stop();
    }

    expect(events.flatMap(recordsOf)).toHaveLength(2 * perPartition);
    for (const event of events) {
      expect(event.eventSource).toBe('aws:kafka');
      expect(event.eventSourceArn).toBe('local');
      expect(event.bootstrapServers).toMatch(/:\d+/);
      const groups = Object.entries(event.records);
      expect(groups).toHaveLength(1);
      for (const [group, records] of groups) {
        expect(records.length).toBeGreaterThan(0);
        expect(records.length).toBeLessThanOrEqual(3);
        const offsets = records.map((r) => r.offset);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
        for (const r of records) {
          expect(group).toBe(`${topic}-${r.partition}`);
          expect(r.topic).toBe(topic);
          expect(typeof r.offset).toBe('number');
          expect(typeof r.timestamp).toBe('number');
          expect(r.timestampType).toBe('CREATE_TIME');
          const value = text(r.value) ?? '';
          const source = produced.get(value);
          expect(source?.partition).toBe(r.partition);
          const { n } = JSON.parse(value) as { n: number };
          expect(r.offset).toBe(n);
          expect(text(r.key)).toBe(`k-${r.partition}-${n}`);
          expect(r.headers).toEqual([
            { eventId: [...Buffer.from(`e-${r.partition}-${n}`)] },
            { bin: [0, 255, n] },
          ]);
        }
      }
    }
    for (const partition of [0, 1]) {
      const offsets = events
        .flatMap(recordsOf)
        .filter((r) => r.partition === partition)
        .map((r) => r.offset);
      expect(offsets).toEqual(Array.from({ length: perPartition }, (_, i) => i));
    }
    expect(running.stats()).toMatchObject({
      invocations: events.length,
      recordsDelivered: 2 * perPartition,
      retries: 0,
      bisects: 0,
      sentToOnFailure: 0,
      malformedResponses: 0,
    });
    const offsets = await committed(m.consumerGroupId, topic);
    expect(offsets.get(0)).toBe(String(perPartition));
    expect(offsets.get(1)).toBe(String(perPartition));
  });

  it('commits before a reported item failure and redelivers from it', async () => {
    const topic = await createTopic(admin, 'esm-partial', 1);
    const total = 10;
    const k = 4;
    await producer.send({
      topic,
      messages: Array.from({ length: total }, (_, n) => ({ value: JSON.stringify({ n }) })),
    });
    const invocations: number[][] = [];
    const m = mapping({ retryAttempts: 2, reportBatchItemFailures: true });
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: m,
      // Always fails record k and, without an on-failure destination, is retried until stopped.
      handler: async (event) => {
        const records = recordsOf(event);
        invocations.push(records.map((r) => r.offset));
        const failed = records.find((r) => r.offset === k);
        return {
          batchItemFailures:
            failed === undefined ? [] : [{ itemIdentifier: batchItemIdentifier(failed) }],
        };
      },
      logger: quietLogger,
      retryBackoff: { baseMs: 20, maxMs: 100 },
    });
    const withK = () => invocations.filter((offsets) => offsets.includes(k));
    try {
      await waitUntil(() => withK().length >= 5);
    } finally {
      await running.stop();
    }

    expect(withK().length).toBeGreaterThanOrEqual(5);
    const firstWithK = invocations.findIndex((offsets) => offsets.includes(k));
    // Every later invocation starts again at k.
    for (const offsets of invocations.slice(firstWithK + 1)) {
      expect(offsets[0]).toBe(k);
    }
    // Records before k were handled once and never redelivered.
    for (let offset = 0; offset < k; offset++) {
      expect(invocations.flat().filter((o) => o === offset)).toHaveLength(1);
    }
    expect(running.stats().retries).toBeGreaterThanOrEqual(4);
    expect(running.stats().sentToOnFailure).toBe(0);
    const offsets = await committed(m.consumerGroupId, topic);
    expect(offsets.get(0)).toBe(String(k));
  });

  it('an invocation past the function timeout fails its batch, which is retried', async () => {
    const topic = await createTopic(admin, 'esm-timeout', 1);
    await producer.send({
      topic,
      messages: Array.from({ length: 3 }, (_, n) => ({ value: JSON.stringify({ n }) })),
    });
    const invocations: number[][] = [];
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: mapping({ retryAttempts: 2 }),
      // The first invocation never answers; Lambda would stop it at the timeout.
      handler: (event) => {
        invocations.push(recordsOf(event).map((r) => r.offset));
        return invocations.length === 1
          ? new Promise(() => undefined)
          : Promise.resolve({ batchItemFailures: [] });
      },
      timeoutMs: 1_000,
      logger: quietLogger,
      retryBackoff: { baseMs: 20, maxMs: 100 },
    });
    try {
      await waitUntil(() => invocations.length >= 2);
    } finally {
      await running.stop();
    }
    expect(invocations).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(running.stats()).toMatchObject({ timeouts: 1, retries: 1 });
  });

  it('keeps the group while an invocation runs longer than the session timeout', async () => {
    const topic = await createTopic(admin, 'esm-long', 1);
    await producer.send({ topic, messages: [{ value: 'slow' }, { value: 'then-done' }] });
    const invocations: number[][] = [];
    const m = mapping({ retryAttempts: 2 });
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: m,
      handler: async (event) => {
        invocations.push(recordsOf(event).map((r) => r.offset));
        await sleep(14_000);
        return { batchItemFailures: [] };
      },
      timeoutMs: 120_000,
      logger: quietLogger,
      // 10 s instead of the mapping's 30 s keeps the test short; the invocation outlasts it.
      consumerSettings: { sessionTimeout: 10_000 },
    });
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await committed(m.consumerGroupId, topic)).get(0) !== '2')
        await sleep(500);
    } finally {
      await running.stop();
    }
    expect((await committed(m.consumerGroupId, topic)).get(0)).toBe('2');
    // Delivered once: no rebalance took the partition away mid-invocation.
    expect(invocations).toEqual([[0, 1]]);
    expect(running.stats()).toMatchObject({ invocations: 1, timeouts: 0, retries: 0 });
  }, 90_000);

  it('retries a poison record, bisects it out and sends only it to the on-failure topic', async () => {
    const topic = await createTopic(admin, 'esm-poison', 2);
    const onFailureTopic = await createTopic(admin, 'esm-poison-failed', 1);
    const perPartition = 12;
    const poison = JSON.stringify({ partition: 1, n: 5, poison: true });
    for (const partition of [0, 1]) {
      await producer.send({
        topic,
        messages: Array.from({ length: perPartition }, (_, n) => ({
          key: `k-${partition}-${n}`,
          value: partition === 1 && n === 5 ? poison : JSON.stringify({ partition, n }),
          partition,
          headers: { origin: 'it' },
        })),
      });
    }
    const retryAttempts = 2;
    const handled = new Set<string>();
    let poisonAlone = 0;
    const m = mapping({ batchSize: 8, retryAttempts, bisectBatchOnError: true });
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: m,
      handler: async (event) => {
        const values = recordsOf(event).map((r) => text(r.value) ?? '');
        if (values.includes(poison)) {
          if (values.length === 1) poisonAlone += 1;
          throw new Error('poison record');
        }
        for (const v of values) handled.add(v);
      },
      onFailureTopic,
      logger: quietLogger,
      retryBackoff: { baseMs: 20, maxMs: 100 },
    });
    try {
      await waitUntil(
        () => handled.size >= 2 * perPartition - 1 && running.stats().sentToOnFailure >= 1,
      );
    } finally {
      await running.stop();
    }

    expect(handled.size).toBe(2 * perPartition - 1);
    expect(handled.has(poison)).toBe(false);
    // The poison record alone: its first invocation plus retryAttempts retries.
    expect(poisonAlone).toBe(retryAttempts + 1);
    const stats = running.stats();
    expect(stats.retries).toBe(retryAttempts);
    expect(stats.bisects).toBeGreaterThanOrEqual(1);
    expect(stats.sentToOnFailure).toBe(1);

    const failed = await consumeUntil(onFailureTopic, (r) => r.length >= 1, 30_000);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.value).toEqual(JSON.parse(poison));
    expect(failed[0]?.key).toBe('k-1-5');
    expect(failed[0]?.headers).toMatchObject({
      origin: 'it',
      [ON_FAILURE_HEADERS.sourceTopic]: topic,
      [ON_FAILURE_HEADERS.sourcePartition]: '1',
      [ON_FAILURE_HEADERS.sourceOffset]: '5',
    });
    expect(failed[0]?.headers[ON_FAILURE_HEADERS.reason]).toContain('poison record');

    const offsets = await committed(m.consumerGroupId, topic);
    expect(offsets.get(0)).toBe(String(perPartition));
    expect(offsets.get(1)).toBe(String(perPartition));
  });
  it('fails the whole batch on a response that breaks the Kafka contract (string identifier)', async () => {
    const topic = await createTopic(admin, 'esm-contract', 1);
    const onFailureTopic = await createTopic(admin, 'esm-contract-failed', 1);
    const total = 6;
    const k = 3;
    await producer.send({
      topic,
      messages: Array.from({ length: total }, (_, n) => ({ value: JSON.stringify({ n }) })),
    });
    const retryAttempts = 1;
    const m = mapping({ retryAttempts, bisectBatchOnError: false });
    let invocations = 0;
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: m,
      // The SQS/Kinesis-style string: Lambda cannot read it for a Kafka source.
      handler: async () => {
        invocations += 1;
        return { batchItemFailures: [{ itemIdentifier: `${topic}-0-${k}` }] };
      },
      onFailureTopic,
      logger: quietLogger,
      retryBackoff: { baseMs: 20, maxMs: 100 },
    });
    try {
      await waitUntil(() => running.stats().sentToOnFailure >= total);
    } finally {
      await running.stop();
    }
    const stats = running.stats();
    expect(stats.malformedResponses).toBe(retryAttempts + 1);
    expect(invocations).toBe(retryAttempts + 1);
    // Records before k, which the handler had finished, are discarded with the rest.
    expect(stats.sentToOnFailure).toBe(total);
    const failed = await consumeUntil(onFailureTopic, (r) => r.length >= total, 30_000);
    expect(failed.map((r) => r.headers[ON_FAILURE_HEADERS.sourceOffset])).toEqual(
      Array.from({ length: total }, (_, n) => String(n)),
    );
    expect(failed[0]?.headers[ON_FAILURE_HEADERS.reason]).toContain('unreadable batch response');
  });

  it('with the same failure as an object identifier, resumes at it and discards only the rest', async () => {
    const topic = await createTopic(admin, 'esm-contract-ok', 1);
    const onFailureTopic = await createTopic(admin, 'esm-contract-ok-failed', 1);
    const total = 6;
    const k = 3;
    await producer.send({
      topic,
      messages: Array.from({ length: total }, (_, n) => ({ value: JSON.stringify({ n }) })),
    });
    const m = mapping({ retryAttempts: 1, bisectBatchOnError: false });
    const running = await startMapping({
      kafkaEnv: parseKafkaEnv(process.env),
      topic,
      mapping: m,
      handler: async (event) => {
        const failed = recordsOf(event).find((r) => r.offset === k);
        return {
          batchItemFailures:
            failed === undefined ? [] : [{ itemIdentifier: batchItemIdentifier(failed) }],
        };
      },
      onFailureTopic,
      logger: quietLogger,
      retryBackoff: { baseMs: 20, maxMs: 100 },
    });
    try {
      await waitUntil(() => running.stats().sentToOnFailure >= total - k);
    } finally {
      await running.stop();
    }
    expect(running.stats().malformedResponses).toBe(0);
    expect(running.stats().sentToOnFailure).toBe(total - k);
    const failed = await consumeUntil(onFailureTopic, (r) => r.length >= total - k, 30_000);
    expect(failed.map((r) => r.headers[ON_FAILURE_HEADERS.sourceOffset])).toEqual(['3', '4', '5']);
  });
});
