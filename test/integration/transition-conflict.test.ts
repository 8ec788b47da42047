// Business conflicts through the real Lambda handlers against PostgreSQL, Redis and Kafka: a
// second PaymentCaptured with another paymentId (another charge, so another timestamp and key)
// is dead-lettered as IDEMPOTENCY_CONFLICT (a type triage parks), never skipped as a duplicate;
// a replay of the same capture under a new timestamp stays a duplicate.
import { randomUUID } from 'node:crypto';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  MSKEvent,
} from 'aws-lambda';
import type { Admin } from 'kafkajs';
import type { ClientBase } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ApplyOutcome, applyBatch } from '../../lambdas/order-consumer/apply-batch';
import type { DeadLetterMessage } from '../../lambdas/shared/dead-letter/message';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import { orderEvent } from '../../tools/fixtures/order-events';
import {
  lambdaContext as apiContext,
  type HttpEventInput,
  httpEvent,
  parseBody,
} from '../../tools/local-runtime/http-event';
import { lambdaContext } from '../contract/fixtures';
import { mskEvent, mskRecord } from '../unit/dlq-triage/fixtures';
import {
  consumeUntil,
  createTestDatabase,
  createTopic,
  type TestDatabase,
  testKafka,
} from './support';

type MskHandler = (event: MSKEvent, context: Context) => Promise<unknown>;
type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

let db: TestDatabase;
let admin: Admin;
let dlqTopic: string;
let consumer: MskHandler;
let api: ApiHandler;
let closePool: (() => Promise<void>) | undefined;
// Unique per run: attempt counters (per topic, partition, offset) live in Redis for a day.
const sourceTopic = `order-events-${randomUUID().slice(0, 8)}`;
let offset = 0;

beforeAll(async () => {
  db = await createTestDatabase('conflict_it');
  admin = testKafka().admin();
  await admin.connect();
  dlqTopic = await createTopic(admin, 'conflict-dlq', 1);
  for (const [name, value] of Object.entries({
    ...db.envVars,
    KAFKA_AUTH: 'none',
    DLQ_TOPIC: dlqTopic,
    POWERTOOLS_SERVICE_NAME: 'transition-conflict-it',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  })) {
    vi.stubEnv(name, value);
  }
  // Fresh modules read the stubbed variables (one runtime per module, as per environment).
  vi.resetModules();
  ({ handler: consumer } = (await import('../../lambdas/order-consumer/handler')) as {
    handler: MskHandler;
  });
  ({ handler: api } = await import('../../lambdas/order-api/handler'));
  ({ closePool } = await import('../../lambdas/shared/db/pool'));
});

afterAll(async () => {
  await closePool?.();
  await admin?.deleteTopics({ topics: [dlqTopic] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
  vi.unstubAllEnvs();
});

interface SourceRecord {
  readonly key: string;
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Runs the consumer handler on records of the source topic at fresh offsets. */
async function consume(records: readonly SourceRecord[]): Promise<void> {
  const msk = mskEvent(
    records.map((r) =>
      mskRecord(
        { key: Buffer.from(r.key), value: Buffer.from(r.value), headers: r.headers ?? {} },
        sourceTopic,
        0,
        offset++,
      ),
    ),
  ) as unknown as MSKEvent;
  const response = await consumer(msk, lambdaContext('order-consumer', 60_000));
  expect(response).toEqual({ batchItemFailures: [] });
}

const asRecord = (event: OrderEvent): SourceRecord => ({
  key: event.aggregateId,
  value: JSON.stringify(event),
});

/** A capture of `orderId` at `second` (its timestamp, hence its key) charging `paymentId`. */
function capture(orderId: string, second: number, paymentId: string): OrderEvent {
  const event = orderEvent('PaymentCaptured', orderId, second, randomUUID());
  return { ...event, data: { ...event.data, paymentId } } as OrderEvent;
}

/** The dead letters of `orderId`, once `count` are on the topic (and a settle for extras). */
async function deadLettersOf(orderId: string, count: number): Promise<DeadLetterMessage[]> {
  const ours = (received: readonly { value: Record<string, unknown> }[]) =>
    received
      .map((r) => r.value as unknown as DeadLetterMessage)
      .filter((m) => m.aggregateId === orderId);
  return ours(await consumeUntil(dlqTopic, (r) => ours(r).length >= count, 30_000));
}

async function orderRow(id: string) {
  const { rows } = await db.pool.query<{ status: string; version: number }>(
    'SELECT status, version FROM orders WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** processed_events of an order: event id → event type. */
async function processedOf(orderId: string): Promise<Record<string, string>> {
  const { rows } = await db.pool.query<{ event_id: string; event_type: string }>(
    'SELECT event_id, event_type FROM processed_events WHERE aggregate_id = $1',
    [orderId],
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, r.event_type]));
}

const conflictMessage = (orderId: string, appliedEventId: string, paymentId: string) =>
  `PaymentCaptured conflicts with the PaymentCaptured already applied to order ${orderId} ` +
  `(event ${appliedEventId}): different business data (paymentId="${paymentId}", ` +
  'amountMinor=2500, currency="EUR"); a business conflict, not a duplicate';

describe('a repeat of an applied transition with other business data (real consumer handler)', () => {
  it('dead-letters a second capture as IDEMPOTENCY_CONFLICT; a replay of the first stays a duplicate', async () => {
    const id = `o-${randomUUID()}`;
    const placed = orderEvent('OrderPlaced', id, 0, randomUUID());
    const first = capture(id, 1, 'pay-1');
    await consume([placed, first].map(asRecord));

    const second = capture(id, 5, 'pay-2');
    // Same business fact as `first`, republished with a new timestamp and eventId.
    const replay = capture(id, 9, 'pay-1');
    await consume([second, replay].map(asRecord));

    expect(await orderRow(id)).toEqual({ status: 'PAYMENT_CAPTURED', version: 2 });
    expect(await processedOf(id)).toEqual({
      [placed.eventId]: 'OrderPlaced',
      [first.eventId]: 'PaymentCaptured',
      [replay.eventId]: 'PaymentCaptured',
    });
    const dead = await deadLettersOf(id, 1);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      errorType: 'IDEMPOTENCY_CONFLICT',
      eventId: second.eventId,
      eventType: 'PaymentCaptured',
      errorMessage: conflictMessage(id, first.eventId, 'pay-2'),
    });
  });

  it('compares captures within one batch too', async () => {
    const id = `o-${randomUUID()}`;
    const first = capture(id, 1, 'pay-1');
    const second = capture(id, 2, 'pay-2');
    await consume([orderEvent('OrderPlaced', id, 0, randomUUID()), first, second].map(asRecord));

    expect(await orderRow(id)).toEqual({ status: 'PAYMENT_CAPTURED', version: 2 });
    const dead = await deadLettersOf(id, 1);
    expect(dead.map((m) => [m.errorType, m.eventId, m.errorMessage])).toEqual([
      ['IDEMPOTENCY_CONFLICT', second.eventId, conflictMessage(id, first.eventId, 'pay-2')],
    ]);
  });
});

describe('applyBatch: the comparison with applied transitions', () => {
  /** Runs applyBatch on a pool client, counting the statements it sends. */
  async function applyCounting(events: readonly OrderEvent[]) {
    const client = await db.pool.connect();
    try {
      let statements = 0;
      const counting = new Proxy(client, {
        get(target, name, receiver) {
          if (name !== 'query') return Reflect.get(target, name, receiver);
          return (...args: unknown[]) => {
            statements++;
            return (target.query as (...a: unknown[]) => unknown)(...args);
          };
        },
      }) as ClientBase;
      // One run: no concurrent writer here.
      const outcomes = await applyBatch(counting, events, { maxAttempts: 1 });
      return { outcomes: outcomes.map(describeOutcome), statements };
    } finally {
      client.release();
    }
  }

  function describeOutcome(outcome: ApplyOutcome): string {
    if (outcome.status === 'rejected') return `rejected ${outcome.error.name}`;
    return outcome.status === 'applied' ? 'applied' : `duplicate ${outcome.reason}`;
  }

  it('judges a batch of many paid orders with one lookup, however many repeats', async () => {
    const ids = Array.from({ length: 20 }, () => `o-${randomUUID()}`);
    const firsts = ids.map((id) => capture(id, 1, 'pay-1'));
    await applyCounting([
      ...ids.map((id) => orderEvent('OrderPlaced', id, 0, randomUUID())),
      ...firsts,
    ]);

    const repeats = ids.flatMap((id) => [capture(id, 5, 'pay-2'), capture(id, 9, 'pay-1')]);
    const { outcomes, statements } = await applyCounting(repeats);
    expect(outcomes).toEqual(
      ids.flatMap(() => ['rejected TransitionConflictError', 'duplicate ALREADY_APPLIED']),
    );
    // BEGIN, lock, one lookup of keys and transitions, record the replays, COMMIT.
    expect(statements).toBe(5);
  });

  it('takes a repeat of a transition recorded before its columns existed as a duplicate', async () => {
    const id = `o-${randomUUID()}`;
    const first = capture(id, 1, 'pay-1');
    await applyCounting([orderEvent('OrderPlaced', id, 0, randomUUID()), first]);
    // As 0007 left the rows recorded before it: nothing to compare with.
    await db.pool.query(
      'UPDATE processed_events SET aggregate_id = NULL, event_type = NULL WHERE event_id = $1',
      [first.eventId],
    );
    const { outcomes } = await applyCounting([capture(id, 5, 'pay-2')]);
    expect(outcomes).toEqual(['duplicate ALREADY_APPLIED']);
  });
});

describe('two captures posted to the real order API, then the consumer', () => {
  async function call(input: HttpEventInput) {
    const result = await api(httpEvent(input), apiContext);
    return { status: result.statusCode, json: parseBody(result) as Record<string, unknown> };
  }

  it('ends with one dead letter, IDEMPOTENCY_CONFLICT', async () => {
    const placed = await call({
      method: 'POST',
      path: '/orders',
      body: {
        customerId: 'cust-conflict',
        items: [{ sku: 'sku-1', quantity: 1, unitPriceMinor: 2_500 }],
        totalMinor: 2_500,
        currency: 'EUR',
      },
    });
    expect(placed.status).toBe(202);
    const orderId = String(placed.json.orderId);
    const captures: string[] = [];
    for (const paymentId of ['pay-A', 'pay-B']) {
      const res = await call({
        method: 'POST',
        path: `/orders/${orderId}/events`,
        body: {
          eventType: 'PaymentCaptured',
          data: { paymentId, amountMinor: 2_500, currency: 'EUR' },
        },
      });
      expect(res.status).toBe(202);
      captures.push(String(res.json.eventId));
      // Another millisecond, so another timestamp: the second capture has its own key.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    // What the relay publishes: each outbox row's envelope, keyed by order, with its headers.
    const { rows } = await db.pool.query<{
      payload: Record<string, unknown>;
      headers: Record<string, string>;
    }>('SELECT payload, headers FROM outbox WHERE aggregate_id = $1 ORDER BY seq', [orderId]);
    expect(rows.map((r) => r.payload.eventType)).toEqual([
      'OrderPlaced',
      'PaymentCaptured',
      'PaymentCaptured',
    ]);
    expect(rows[1]?.payload.timestamp).not.toBe(rows[2]?.payload.timestamp);
    await consume(
      rows.map((r) => ({ key: orderId, value: JSON.stringify(r.payload), headers: r.headers })),
    );

    expect((await orderRow(orderId))?.status).toBe('PAYMENT_CAPTURED');
    // The API's OrderPlaced is confirmed and the first capture applied; the second is not.
    expect(await processedOf(orderId)).toEqual({
      [String(placed.json.eventId)]: 'OrderPlaced',
      [captures[0] as string]: 'PaymentCaptured',
    });
    const dead = await deadLettersOf(orderId, 1);
    expect(dead).toHaveLength(1);
    const [message] = dead as [DeadLetterMessage];
    expect(message).toMatchObject({
      errorType: 'IDEMPOTENCY_CONFLICT',
      eventId: captures[1],
      errorMessage: conflictMessage(orderId, captures[0] as string, 'pay-B'),
    });
  });
});
