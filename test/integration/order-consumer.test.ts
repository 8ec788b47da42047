import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Context } from 'aws-lambda';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeBatch } from '../../lambdas/order-consumer/consumer';
import { idempotencyKey } from '../../lambdas/order-consumer/idempotency-key';
import { type ConsumerRuntime, createConsumerRuntime } from '../../lambdas/order-consumer/runtime';
import { parseConsumerEnv, parseKafkaEnv, parseRedisEnv } from '../../lambdas/shared/env';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import type { MskEventLike } from '../../lambdas/shared/kafka/msk-event';
import { orderEvent } from '../../tools/fixtures/order-events';
import { configuredEnv } from '../fixtures/function-env';
import {
  consumeUntil,
  createTestDatabase,
  createTopic,
  quietLogger,
  type Received,
  silentConsumerTelemetry,
  type TestDatabase,
  testKafka,
} from './support';

let db: TestDatabase;
let admin: Admin;
let rt: ConsumerRuntime;
let dlqTopic: string;
let offset = 0;
// Unique per run: attempt counters live in Redis (keyed by topic/partition/offset) for a day.
const sourceTopic = `order-events-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  db = await createTestDatabase('consumer_it');
  admin = testKafka().admin();
  await admin.connect();
  dlqTopic = await createTopic(admin, 'consumer-dlq', 1);
  rt = await createConsumerRuntime({
    pgEnv: db.env,
    kafkaEnv: parseKafkaEnv(process.env),
    redisEnv: parseRedisEnv(process.env),
    consumerEnv: parseConsumerEnv(
      configuredEnv({ DLQ_TOPIC: dlqTopic, CONSUMER_CHUNK_SIZE: '50' }),
    ),
    logger: quietLogger,
    telemetry: silentConsumerTelemetry,
    pool: db.pool,
  });
  // Outside Lambda there is no invocation deadline; give Powertools one.
  rt.idempotencyConfig.registerLambdaContext({ getRemainingTimeInMillis: () => 60_000 } as Context);
});

afterAll(async () => {
  await rt?.close();
  await admin?.disconnect();
  await db?.drop();
});

/** An MSK-shaped event: one partition, consecutive offsets, base64 values like Lambda sends. */
function mskEvent(values: Array<OrderEvent | string>, partition = 0): MskEventLike {
  const records = values.map((v) => {
    const value = typeof v === 'string' ? v : JSON.stringify(v);
    const key = typeof v === 'string' ? null : v.aggregateId;
    return {
      topic: sourceTopic,
      partition,
      offset: offset++,
      timestamp: Date.now(),
      key: key === null ? null : Buffer.from(key).toString('base64'),
      value: Buffer.from(value).toString('base64'),
      headers: [],
    };
  });
  return { records: { [`${sourceTopic}-${partition}`]: records } };
}

async function order(id: string): Promise<{ status: string; version: number } | undefined> {
  const { rows } = await db.pool.query<{ status: string; version: number }>(
    'SELECT status, version FROM orders WHERE id = $1',
    [id],
  );
  return rows[0];
}

function lifecycle(id: string): OrderEvent[] {
  return [
    orderEvent('OrderPlaced', id, 0, randomUUID()),
    orderEvent('PaymentCaptured', id, 1, randomUUID()),
    orderEvent('OrderShipped', id, 2, randomUUID()),
  ];
}

describe('order-consumer against PostgreSQL, Redis and Kafka', () => {
  it('applies each event once under duplicate delivery', async () => {
    const id = `o-${randomUUID()}`;
    const events = lifecycle(id);
    const first = await consumeBatch(mskEvent(events), rt.deps, rt.options);
    const again = await consumeBatch(mskEvent(events), rt.deps, rt.options);
    expect(first).toMatchObject({
      applied: 3,
      duplicates: 0,
      deadLettered: 0,
      batchItemFailures: [],
    });
    expect(again).toMatchObject({
      applied: 0,
      duplicates: 3,
      deadLettered: 0,
      batchItemFailures: [],
    });
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
  });

  it('applies each event once under concurrent delivery of the same batch', async () => {
    const id = `o-${randomUUID()}`;
    const events = lifecycle(id);
    const [a, b] = await Promise.all([
      consumeBatch(mskEvent(events), rt.deps, rt.options),
      consumeBatch(mskEvent(events), rt.deps, rt.options),
    ]);
    // A key in progress in the other batch goes to PostgreSQL, whose row locks and
    // processed_events let one batch apply it and show it to the other as a duplicate.
    expect([...a.batchItemFailures, ...b.batchItemFailures]).toEqual([]);
    expect([a.applied + b.applied, a.duplicates + b.duplicates]).toEqual([3, 3]);
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
  });

  it('applies an event whose key a crashed invocation left in progress, once, without waiting', async () => {
    const id = `o-${randomUUID()}`;
    const [placed, paid, shipped] = lifecycle(id) as [OrderEvent, OrderEvent, OrderEvent];
    await consumeBatch(mskEvent([placed]), rt.deps, rt.options);
    // Another invocation took the key in Redis and never finished (it holds it for 60 s).
    let release: (v: 'duplicate') => void = () => undefined;
    const held = rt.deps.gate.run(
      idempotencyKey(paid),
      { eventType: paid.eventType, data: paid.data },
      () => new Promise((resolve) => (release = resolve)),
    );
    try {
      const summary = await consumeBatch(mskEvent([paid, shipped]), rt.deps, rt.options);
      expect(summary).toMatchObject({ applied: 2, deadLettered: 0, batchItemFailures: [] });
      expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
    } finally {
      release('duplicate');
      await held;
    }
    const again = await consumeBatch(mskEvent([paid, shipped]), rt.deps, rt.options);
    expect(again).toMatchObject({ applied: 0, duplicates: 2, batchItemFailures: [] });
  });

  it('applies nothing twice after Redis loses its data: PostgreSQL is the ground truth', async () => {
    const id = `o-${randomUUID()}`;
    const events = lifecycle(id);
    await consumeBatch(mskEvent(events), rt.deps, rt.options);
    const { host, port } = parseRedisEnv(process.env);
    const redis = createClient({ socket: { host, port } });
    await redis.connect();
    await redis.flushDb();
    await redis.quit();
    const after = await consumeBatch(mskEvent(events), rt.deps, rt.options);
    expect(after).toMatchObject({ applied: 0, duplicates: 3, batchItemFailures: [] });
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
  });

  it('never moves an order backwards on replayed or late events', async () => {
    const id = `o-${randomUUID()}`;
    await consumeBatch(mskEvent(lifecycle(id)), rt.deps, rt.options);
    const late = orderEvent('PaymentCaptured', id, 10, randomUUID()); // a new fact, too late
    const summary = await consumeBatch(mskEvent([late]), rt.deps, rt.options);
    expect(summary).toMatchObject({ applied: 0, deadLettered: 1, batchItemFailures: [] });
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
  });

  it('dead-letters each bad event with its type while the rest of the batch applies', async () => {
    const good = `o-${randomUUID()}`;
    const conflictId = `o-${randomUUID()}`;
    const placed = orderEvent('OrderPlaced', conflictId, 0, randomUUID());
    await consumeBatch(mskEvent([placed]), rt.deps, rt.options);
    // Same business fields (order, type, time), different payload: an idempotency conflict.
    const conflicting = {
      ...placed,
      eventId: randomUUID(),
      data: {
        ...placed.data,
        totalMinor: 9_999,
        items: [{ sku: 'X', quantity: 1, unitPriceMinor: 9_999 }],
      },
    } as OrderEvent;
    const unknownMajor = {
      ...orderEvent('OrderPlaced', `o-${randomUUID()}`, 0, randomUUID()),
      schemaVersion: '9.0.0',
    };
    const { data: _dropped, ...noData } = orderEvent(
      'OrderPlaced',
      `o-${randomUUID()}`,
      0,
      randomUUID(),
    );
    const badTransition = orderEvent('OrderShipped', `o-${randomUUID()}`, 5, randomUUID());
    const batch = mskEvent([
      '{not json',
      JSON.stringify(noData),
      unknownMajor as OrderEvent,
      orderEvent('OrderPlaced', good, 0, randomUUID()),
      badTransition,
      conflicting,
      orderEvent('PaymentCaptured', good, 1, randomUUID()),
    ]);

    const summary = await consumeBatch(batch, rt.deps, rt.options);
    expect(summary).toMatchObject({ applied: 2, deadLettered: 5, batchItemFailures: [] });
    expect(await order(good)).toEqual({ status: 'PAYMENT_CAPTURED', version: 2 });

    const offsets = new Set(
      Object.values(batch.records)
        .flat()
        .map((r) => String(r.offset)),
    );
    const ours = (r: readonly Received[]) =>
      r.filter((m) => offsets.has(String((m.value.source as { offset: string }).offset)));
    const dead = ours(await consumeUntil(dlqTopic, (r) => ours(r).length >= 5, 30_000));
    const types = dead.map((r) => r.headers.errorType);
    expect(types).toEqual([
      'SCHEMA_VIOLATION',
      'SCHEMA_VIOLATION',
      'SCHEMA_VIOLATION',
      'INVALID_TRANSITION',
      'IDEMPOTENCY_CONFLICT',
    ]);
    // Each dead letter names its source record and keeps the original bytes.
    const first = dead[0]?.value as {
      source: { topic: string; offset: string };
      original: unknown;
    };
    expect(first.source.topic).toBe(sourceTopic);
    expect(JSON.stringify(first)).toContain(Buffer.from('{not json').toString('base64'));
  });
});
