// The consumer's ground-truth apply step against the real PostgreSQL: one transaction per
// batch, processed_events as the idempotency record, row locks against concurrent batches.
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOrder } from '../../lambdas/order-api/orders-repository';
import { type ApplyOutcome, applyBatch } from '../../lambdas/order-consumer/apply-batch';
import { idempotencyKey, payloadHash } from '../../lambdas/order-consumer/idempotency-key';
import { TransientError } from '../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import { dataFor, lifecycle, orderEvent } from '../../tools/fixtures/order-events';
import { TEST_STAGE_CONFIG } from '../fixtures/function-env';
import { createTestDatabase, type TestDatabase } from './support';

/** The consumer's transaction runs, as the stage config sets them. */
const APPLY = { maxAttempts: TEST_STAGE_CONFIG.consumer.applyAttempts };

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('apply_batch_it');
});

afterAll(async () => {
  await db?.drop();
});

function newId(): string {
  return `order-${randomUUID()}`;
}

function describeOutcome(outcome: ApplyOutcome): string {
  switch (outcome.status) {
    case 'applied':
      return `applied ${outcome.from ?? 'NONE'}>${outcome.to}`;
    case 'duplicate':
      return `duplicate ${outcome.reason}`;
    case 'rejected':
      return `rejected ${'reason' in outcome.error ? outcome.error.reason : outcome.error.errorType}`;
  }
}

async function withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  try {
    return await work(client);
  } finally {
    client.release();
  }
}

async function apply(events: readonly OrderEvent[]): Promise<string[]> {
  const outcomes = await withClient((client) => applyBatch(client, events, APPLY));
  expect(outcomes).toHaveLength(events.length);
  return outcomes.map(describeOutcome);
}

interface OrderRow {
  status: string;
  version: number;
  customer_id: string;
  total_amount_minor: string;
  currency: string;
  updated_at: Date;
}

async function orderRow(id: string): Promise<OrderRow | undefined> {
  const result = await db.pool.query<OrderRow>(
    `SELECT status, version, customer_id, total_amount_minor, currency, updated_at
       FROM orders WHERE id = $1`,
    [id],
  );
  return result.rows[0];
}

/** processed_events rows for the events' keys: key → event_id. */
async function recorded(events: readonly OrderEvent[]): Promise<Map<string, string>> {
  const result = await db.pool.query<{ idempotency_key: string; event_id: string }>(
    'SELECT idempotency_key, event_id FROM processed_events WHERE idempotency_key = ANY($1)',
    [events.map(idempotencyKey)],
  );
  return new Map(result.rows.map((r) => [r.idempotency_key, r.event_id]));
}

/** An order as the API creates it: CREATED, version 1, before its OrderPlaced is consumed. */
async function apiCreatedOrder(id: string): Promise<void> {
  const placed = dataFor('OrderPlaced', id);
  const inserted = await withClient((client) =>
    insertOrder(client, {
      id,
      customerId: placed.customerId,
      totalMinor: placed.totalMinor,
      currency: placed.currency,
    }),
  );
  expect(inserted).toBe(true);
}

const LIFECYCLE_APPLIED = [
  'applied NONE>CREATED',
  'applied CREATED>PAYMENT_CAPTURED',
  'applied PAYMENT_CAPTURED>SHIPPED',
];

/** Polls (no timing) until `count` backends of this database wait on a lock. */
async function waitUntilLockWaiters(count: number): Promise<void> {
  for (;;) {
    const result = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if ((result.rows[0]?.n ?? 0) >= count) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('applyBatch', () => {
  it('applies a lifecycle batch in order and records every key with its event id', async () => {
    const id = newId();
    const events = lifecycle(id);

    expect(await apply(events)).toEqual(LIFECYCLE_APPLIED);

    expect(await orderRow(id)).toMatchObject({
      status: 'SHIPPED',
      version: 3,
      customer_id: 'cust-1',
      total_amount_minor: '2500',
      currency: 'EUR',
    });
    expect(await recorded(events)).toEqual(
      new Map(events.map((e) => [idempotencyKey(e), e.eventId])),
    );
  });

  it('reports the same batch again as PROCESSED duplicates and changes nothing', async () => {
    const id = newId();
    const events = lifecycle(id);
    await apply(events);
    const before = await orderRow(id);

    expect(await apply(events)).toEqual(Array(3).fill('duplicate PROCESSED'));
    expect(await orderRow(id)).toEqual(before);
  });

  it('treats a relay duplicate (same business fields, new eventId) as a duplicate', async () => {
    const id = newId();
    const paid = orderEvent('PaymentCaptured', id, 1, `evt-${randomUUID()}`);
    await apply([orderEvent('OrderPlaced', id, 0), paid]);
    const before = await orderRow(id);

    const redelivered = orderEvent('PaymentCaptured', id, 1, `evt-${randomUUID()}`);
    expect(redelivered.eventId).not.toBe(paid.eventId);
    expect(await apply([redelivered])).toEqual(['duplicate PROCESSED']);

    expect(await orderRow(id)).toEqual(before);
    // The first delivery's row stays: the record is of the fact, not of the delivery.
    expect((await recorded([paid])).get(idempotencyKey(paid))).toBe(paid.eventId);
  });

  it('rejects a repeat with other data as IDEMPOTENCY_CONFLICT from the stored payload hash', async () => {
    const id = newId();
    const paid = orderEvent('PaymentCaptured', id, 1);
    await apply([orderEvent('OrderPlaced', id, 0), paid]);
    const before = await orderRow(id);
    const { rows } = await db.pool.query<{ payload_hash: string }>(
      'SELECT payload_hash FROM processed_events WHERE idempotency_key = $1',
      [idempotencyKey(paid)],
    );
    expect(rows.map((r) => r.payload_hash)).toEqual([payloadHash(paid)]);

    // Same key (aggregate, type, timestamp), another amount: no Redis involved at all.
    const altered = {
      ...paid,
      eventId: `evt-${randomUUID()}`,
      data: { ...paid.data, amountMinor: 1 },
    } as OrderEvent;
    expect(await apply([altered])).toEqual(['rejected IDEMPOTENCY_CONFLICT']);
    expect(await apply([paid])).toEqual(['duplicate PROCESSED']);
    expect(await orderRow(id)).toEqual(before);
  });

  it('never moves an order backwards: late events are rejected and not recorded', async () => {
    const shippedId = newId();
    const paidId = newId();
    await apply([...lifecycle(shippedId), ...lifecycle(paidId).slice(0, 2)]);
    const shippedBefore = await orderRow(shippedId);
    const paidBefore = await orderRow(paidId);

    // New facts (new timestamps), so these are not duplicates: the state machine decides.
    const late = [
      orderEvent('PaymentCaptured', shippedId, 10),
      orderEvent('OrderCancelled', shippedId, 11),
      orderEvent('OrderPlaced', paidId, 12),
    ];
    expect(await apply(late)).toEqual([
      'rejected TERMINAL_STATE',
      'rejected TERMINAL_STATE',
      'rejected BACKWARDS',
    ]);

    expect(await orderRow(shippedId)).toEqual(shippedBefore);
    expect(await orderRow(paidId)).toEqual(paidBefore);
    expect((await recorded(late)).size).toBe(0);
  });

  it('rejects shipped-before-paid (SKIPS_STATE) and a later redrive can apply it', async () => {
    const id = newId();
    await apply([orderEvent('OrderPlaced', id, 0)]);
    const shipped = orderEvent('OrderShipped', id, 2);

    const outcomes = await withClient((client) => applyBatch(client, [shipped], APPLY));
    expect(outcomes.map(describeOutcome)).toEqual(['rejected SKIPS_STATE']);
    const [rejected] = outcomes;
    if (rejected?.status !== 'rejected') throw new Error('expected a rejection');
    expect(rejected.error.context).toMatchObject({ eventId: shipped.eventId, aggregateId: id });
    expect(await orderRow(id)).toMatchObject({ status: 'CREATED', version: 1 });
    expect((await recorded([shipped])).size).toBe(0);

    // Not recorded, so once the payment is in, the same event applies.
    expect(await apply([orderEvent('PaymentCaptured', id, 1), shipped])).toEqual([
      'applied CREATED>PAYMENT_CAPTURED',
      'applied PAYMENT_CAPTURED>SHIPPED',
    ]);
  });

  it('reports OrderPlaced for an API-created order as ALREADY_APPLIED and records it', async () => {
    const id = newId();
    await apiCreatedOrder(id);
    const before = await orderRow(id);
    const placed = orderEvent('OrderPlaced', id, 0);

    expect(await apply([placed])).toEqual(['duplicate ALREADY_APPLIED']);
    expect(await orderRow(id)).toEqual(before);
    expect((await recorded([placed])).get(idempotencyKey(placed))).toBe(placed.eventId);
    // Recorded, so the redelivery is answered by processed_events.
    expect(await apply([placed])).toEqual(['duplicate PROCESSED']);
  });

  it('moves an API-created order once per batch, version by the transitions', async () => {
    const id = newId();
    await apiCreatedOrder(id);
    expect(await apply(lifecycle(id))).toEqual([
      'duplicate ALREADY_APPLIED',
      'applied CREATED>PAYMENT_CAPTURED',
      'applied PAYMENT_CAPTURED>SHIPPED',
    ]);
    expect(await orderRow(id)).toMatchObject({ status: 'SHIPPED', version: 3 });
  });

  it('reports the second of two events with the same key in one batch as a duplicate', async () => {
    const id = newId();
    const placed = orderEvent('OrderPlaced', id, 0);
    const paid = orderEvent('PaymentCaptured', id, 1);
    const paidAgain = orderEvent('PaymentCaptured', id, 1, `evt-${randomUUID()}`);

    expect(await apply([placed, paid, paidAgain])).toEqual([
      'applied NONE>CREATED',
      'applied CREATED>PAYMENT_CAPTURED',
      'duplicate PROCESSED',
    ]);
    expect(await orderRow(id)).toMatchObject({ status: 'PAYMENT_CAPTURED', version: 2 });
    expect((await recorded([paid])).get(idempotencyKey(paid))).toBe(paid.eventId);
  });

  it('rolls the whole batch back when a statement fails', async () => {
    const existing = newId();
    const created = newId();
    await apiCreatedOrder(existing);
    const before = await orderRow(existing);
    const good = [
      orderEvent('OrderPlaced', existing, 0),
      orderEvent('PaymentCaptured', existing, 1),
    ];
    const valid = orderEvent('OrderPlaced', created, 0);
    // Crafted past the envelope schema: the currency CHECK rejects the insert.
    const crafted = { ...valid, data: { ...valid.data, currency: 'eur' } } as OrderEvent;
    const batch = [...good, crafted];

    await withClient(async (client) => {
      await expect(applyBatch(client, batch, APPLY)).rejects.toMatchObject({
        code: '23514',
        constraint: 'orders_currency_check',
      });
      // The connection is out of the failed transaction and applies the next batch.
      expect(await applyBatch(client, [orderEvent('OrderPlaced', newId(), 0)], APPLY)).toEqual([
        { status: 'applied', from: undefined, to: 'CREATED' },
      ]);
    });

    expect(await orderRow(existing)).toEqual(before);
    expect(await orderRow(created)).toBeUndefined();
    expect((await recorded(batch)).size).toBe(0);
  });

  it('applies each event exactly once when two connections apply the same batch', async () => {
    // Fresh orders (no row to lock: the insert race) and an API-created one (the row lock).
    for (let round = 0; round < 5; round++) {
      const fresh = newId();
      const existing = newId();
      await apiCreatedOrder(existing);
      const events = [...lifecycle(fresh), ...lifecycle(existing)];

      // A third transaction holds the existing order, so both batches start before either
      // can finish: they really overlap instead of running one after the other.
      const blocker = await db.pool.connect();
      let results: [ApplyOutcome[], ApplyOutcome[]];
      try {
        await blocker.query('BEGIN');
        await blocker.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE', [existing]);
        const both = Promise.all([
          withClient((client) => applyBatch(client, events, APPLY)),
          withClient((client) => applyBatch(client, events, APPLY)),
        ]);
        await waitUntilLockWaiters(2);
        await blocker.query('COMMIT');
        results = await both;
      } finally {
        blocker.release();
      }
      const [left, right] = results;

      events.forEach((_event, i) => {
        const pair = [left[i], right[i]].map((o) => (o === undefined ? 'missing' : o.status));
        // Event 3 is the OrderPlaced of the API-created order: a duplicate on both sides.
        const applied = i === 3 ? 0 : 1;
        expect(
          pair.filter((s) => s === 'applied'),
          `round ${round} event ${i}`,
        ).toHaveLength(applied);
        expect(
          pair.filter((s) => s === 'duplicate'),
          `round ${round} event ${i}`,
        ).toHaveLength(2 - applied);
      });
      expect(await orderRow(fresh)).toMatchObject({ status: 'SHIPPED', version: 3 });
      expect(await orderRow(existing)).toMatchObject({ status: 'SHIPPED', version: 3 });
      expect((await recorded(events)).size).toBe(6);
    }
  });

  describe('when another writer creates a new order first', () => {
    /** Runs `applyBatch` while another transaction has inserted the order, then commits it. */
    async function raceOnInsert(
      id: string,
      maxAttempts = APPLY.maxAttempts,
    ): Promise<ApplyOutcome[]> {
      const other = await db.pool.connect();
      try {
        await other.query('BEGIN');
        await insertOrder(other, { id, customerId: 'cust-1', totalMinor: 2500, currency: 'EUR' });
        const applying = withClient(async (client) => {
          const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
            .rows[0]?.pid;
          const run = applyBatch(client, [orderEvent('OrderPlaced', id, 0)], { maxAttempts });
          let settled = false;
          const done = () => {
            settled = true;
          };
          run.then(done, done);
          // Commit the other insert only once applyBatch waits on it (the uncommitted row).
          while (!settled) {
            const waiting = await db.pool.query<{ wait_event_type: string | null }>(
              'SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1',
              [pid],
            );
            if (waiting.rows[0]?.wait_event_type === 'Lock') break;
            await new Promise((resolve) => setImmediate(resolve));
          }
          await other.query('COMMIT');
          return run;
        });
        return await applying;
      } finally {
        other.release();
      }
    }

    it('runs the batch again and sees the order', async () => {
      const id = newId();
      const outcomes = await raceOnInsert(id);
      expect(outcomes.map(describeOutcome)).toEqual(['duplicate ALREADY_APPLIED']);
      expect(await orderRow(id)).toMatchObject({ status: 'CREATED', version: 1 });
    });

    it('gives up with a TransientError when out of attempts, keeping nothing', async () => {
      const id = newId();
      const placed = orderEvent('OrderPlaced', id, 0);
      await expect(raceOnInsert(id, 1)).rejects.toBeInstanceOf(TransientError);
      expect((await recorded([placed])).size).toBe(0);
    });
  });

  it('applies 200 orders × 3 events in one batch', async () => {
    const ids = Array.from({ length: 200 }, newId);
    // Interleaved as partitions deliver them: every order's events in order, orders mixed.
    const perOrder = ids.map(lifecycle);
    const events = [0, 1, 2].flatMap((step) => perOrder.map((l) => l[step] as OrderEvent));

    const outcomes = await withClient((client) => applyBatch(client, events, APPLY));

    expect(outcomes.map(describeOutcome)).toEqual(
      [0, 1, 2].flatMap((step) => ids.map(() => LIFECYCLE_APPLIED[step])),
    );
    const rows = await db.pool.query<{ status: string; version: number; n: string }>(
      'SELECT status, version, count(*) AS n FROM orders WHERE id = ANY($1) GROUP BY 1, 2',
      [ids],
    );
    expect(rows.rows).toEqual([{ status: 'SHIPPED', version: 3, n: '200' }]);
    expect((await recorded(events)).size).toBe(600);
  });
});
