// What a drill feeds the pipeline and what must become of each input: valid order events
// written to the outbox (expected: applied once) and bad records written straight to the
// topic (expected: dead-lettered with a given error type). The accounting matches outcomes
// back to inputs by id: the eventId of an outbox event, the `drillInputId` header otherwise.
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { ErrorType } from '../../../lambdas/shared/errors/taxonomy';
import { createEnvelope, type OrderEvent } from '../../../lambdas/shared/events/envelope';
import type { OrderEventType } from '../../../lambdas/shared/events/orders';
import type { OrderState } from '../../../lambdas/shared/events/state-machine';
import { appendEvent, wakeRelay } from '../../../lambdas/shared/outbox/outbox';

/** Header carrying an injected record's input id; dead letters and redrives keep headers. */
export const DRILL_INPUT_HEADER = 'drillInputId';

export type Expectation = 'apply' | ErrorType;

export interface DrillInput {
  /** eventId for outbox events; the DRILL_INPUT_HEADER value for injected records. */
  readonly id: string;
  /** Short kind, e.g. "OrderPlaced" or "not-json"; tables group by it. */
  readonly label: string;
  readonly expected: Expectation;
  /** The order the input's event is about (readable order events only). */
  readonly aggregateId?: string;
  /** The event's eventId when it differs from `id` (an injected but readable event). */
  readonly eventId?: string;
}

/** An order's events in lifecycle order, and the state they leave it in. */
export interface OrderPlan {
  readonly orderId: string;
  readonly events: readonly OrderEvent[];
  readonly finalState: OrderState;
}

const LIFECYCLES: ReadonlyArray<readonly OrderEventType[]> = [
  ['OrderPlaced', 'PaymentCaptured', 'OrderShipped'],
  ['OrderPlaced', 'OrderCancelled'],
  ['OrderPlaced', 'PaymentCaptured', 'OrderCancelled'],
  ['OrderPlaced'],
];

const FINAL: Readonly<Record<OrderEventType, OrderState>> = {
  OrderPlaced: 'CREATED',
  PaymentCaptured: 'PAYMENT_CAPTURED',
  OrderShipped: 'SHIPPED',
  OrderCancelled: 'CANCELLED',
};

/** A valid event of `type` for `orderId` at `at` (distinct timestamps keep keys distinct). */
export function orderEvent(orderId: string, type: OrderEventType, at: Date): OrderEvent {
  const correlationId = `drill-${orderId}`;
  switch (type) {
    case 'OrderPlaced':
      return createEnvelope({
        eventType: type,
        correlationId,
        occurredAt: at,
        data: {
          orderId,
          customerId: `customer-${orderId.slice(-6)}`,
          items: [{ sku: 'SKU-1', quantity: 2, unitPriceMinor: 1_250 }],
          totalMinor: 2_500,
          currency: 'EUR',
        },
      });
    case 'PaymentCaptured':
      return createEnvelope({
        eventType: type,
        correlationId,
        occurredAt: at,
        data: { orderId, paymentId: `pay-${randomUUID()}`, amountMinor: 2_500, currency: 'EUR' },
      });
    case 'OrderShipped':
      return createEnvelope({
        eventType: type,
        correlationId,
        occurredAt: at,
        data: { orderId, carrier: 'drill-post', trackingNumber: `TRK-${randomUUID()}` },
      });
    case 'OrderCancelled':
      return createEnvelope({
        eventType: type,
        correlationId,
        occurredAt: at,
        data: { orderId, reason: 'drill: customer changed their mind' },
      });
  }
}

/** `count` orders, lifecycles chosen by `random`, ids prefixed so drills never collide. */
export function planOrders(count: number, prefix: string, random: () => number): OrderPlan[] {
  const base = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const orderId = `${prefix}-${i}-${randomUUID().slice(0, 8)}`;
    const types = LIFECYCLES[Math.floor(random() * LIFECYCLES.length)] ?? ['OrderPlaced'];
    const events = types.map((t, n) => orderEvent(orderId, t, new Date(base + i * 10 + n)));
    return { orderId, events, finalState: FINAL[types.at(-1) ?? 'OrderPlaced'] };
  });
}

export function inputsOf(plans: readonly OrderPlan[]): DrillInput[] {
  return plans.flatMap((p) =>
    p.events.map((e) => ({
      id: e.eventId,
      label: e.eventType,
      expected: 'apply' as const,
      aggregateId: p.orderId,
    })),
  );
}

/**
 * Interleaves the orders' events into transactions of `perTransaction` events, each order's
 * events in lifecycle order (what a service touching several orders at once would commit).
 */
export function interleave(plans: readonly OrderPlan[], random: () => number): OrderEvent[] {
  const queues = plans.map((p) => [...p.events]);
  const out: OrderEvent[] = [];
  while (queues.some((q) => q.length > 0)) {
    const live = queues.filter((q) => q.length > 0);
    const q = live[Math.floor(random() * live.length)] as OrderEvent[];
    out.push(q.shift() as OrderEvent);
  }
  return out;
}

/**
 * Appends events to the outbox, `perTransaction` per committed transaction, like a service
 * would. A transaction that fails on a connection error (the database restarting) is retried
 * until `deadlineMs`; if its COMMIT had in fact gone through, the retry hits the outbox primary
 * key (23505), which proves the rows are there.
 */
export async function writeOutbox(
  pool: Pool,
  events: readonly OrderEvent[],
  options: { perTransaction?: number; deadlineMs?: number; pace?: () => Promise<void> } = {},
): Promise<void> {
  const per = options.perTransaction ?? 10;
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  for (let i = 0; i < events.length; i += per) {
    await options.pace?.();
    const batch = events.slice(i, i + per);
    for (let attempt = 1; ; attempt++) {
      try {
        await appendTransaction(pool, batch);
        break;
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') {
          if (attempt > 1) break;
          throw error;
        }
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
      }
    }
  }
}

async function appendTransaction(pool: Pool, events: readonly OrderEvent[]): Promise<void> {
  const client = await pool.connect();
  let failed: Error | undefined;
  // A checked-out client has no 'error' listener (pg-pool removes its idle one): a server that
  // dies between two statements must fail this transaction, not crash the process.
  const onError = (error: Error) => {
    failed = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    for (const e of events) await appendEvent(client, e);
    await client.query('COMMIT');
    // As the order API does after its commit; committed either way, a lost wake-up only
    // delays the relay by one poll (and the client is discarded).
    await wakeRelay(client).catch((error: unknown) => {
      failed = error instanceof Error ? error : new Error(String(error));
    });
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    client.release(failed);
  }
}
