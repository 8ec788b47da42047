// The benchmark's data: a fresh database (tools/fixtures, as the integration tests: migrated with the real
// migrations), fresh topics with the stage's partition counts, orders as the order API leaves
// them (CREATED), their lifecycle events, and dead letters for triage.
import type { Message, Producer } from 'kafkajs';
import type pg from 'pg';
import { buildDeadLetter, encodeDeadLetter } from '../../../lambdas/shared/dead-letter/message';
import { SchemaViolationError } from '../../../lambdas/shared/errors/taxonomy';
import { createEnvelope, type OrderEvent } from '../../../lambdas/shared/events/envelope';
import { outboxHeaders } from '../../../lambdas/shared/outbox/outbox';
import { dataFor } from '../../fixtures/order-events';
import type { WorkloadEventType } from './stats';

export { createTestDatabase, createTopic, testKafka } from '../../fixtures/services';

/** `count` order ids with a run-unique prefix. */
export function orderIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

const LIFECYCLE: readonly WorkloadEventType[] = ['OrderPlaced', 'PaymentCaptured', 'OrderShipped'];

/**
 * Placed → captured → shipped for every order, in blocks: a block's OrderPlaced events, then
 * its PaymentCaptured, then its OrderShipped. Each order's events keep their order (and share a
 * partition, keyed by order id) while a consumer chunk touches many different orders, as it
 * does under real traffic.
 */
export function lifecycleEvents(ids: readonly string[], blockSize = 1_000): OrderEvent[] {
  const events: OrderEvent[] = [];
  for (let start = 0; start < ids.length; start += blockSize) {
    const block = ids.slice(start, start + blockSize);
    for (const eventType of LIFECYCLE) {
      for (const id of block)
        events.push(createEnvelope({ eventType, data: dataFor(eventType, id) }));
    }
  }
  return events;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Orders as POST /orders leaves them: CREATED, version 1 (the consumer moves them on). */
export async function insertOrders(pool: pg.Pool, ids: readonly string[]): Promise<void> {
  const data = dataFor('OrderPlaced', '');
  for (const part of chunks(ids, 10_000)) {
    await pool.query(
      `INSERT INTO orders (id, customer_id, status, total_amount_minor, currency)
       SELECT id, $2, 'CREATED', $3, $4 FROM unnest($1::text[]) AS t(id)`,
      [part, data.customerId, data.totalMinor, data.currency],
    );
  }
}

/** Pending outbox rows in `events` order, as appendEvent writes them, in a few statements. */
export async function fillOutbox(pool: pg.Pool, events: readonly OrderEvent[]): Promise<void> {
  for (const part of chunks(events, 5_000)) {
    await pool.query(
      `INSERT INTO outbox (id, aggregate_id, event_type, payload, headers)
       SELECT id, aggregate_id, event_type, payload::jsonb, headers::jsonb
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
           WITH ORDINALITY AS t(id, aggregate_id, event_type, payload, headers, n)
        ORDER BY n`,
      [
        part.map((e) => e.eventId),
        part.map((e) => e.aggregateId),
        part.map((e) => e.eventType),
        part.map((e) => JSON.stringify(e)),
        part.map((e) => JSON.stringify(outboxHeaders(e))),
      ],
    );
  }
}

/** The record the relay would publish for this event (relay.ts toMessage). */
export function eventMessage(event: OrderEvent): Message {
  return { key: event.aggregateId, value: JSON.stringify(event), headers: outboxHeaders(event) };
}

export async function produceAll(
  producer: Producer,
  topic: string,
  messages: readonly Message[],
): Promise<void> {
  for (const part of chunks(messages, 1_000)) {
    await producer.send({ topic, acks: -1, messages: part });
  }
}

/** Dead letters triage parks at once (SCHEMA_VIOLATION), each from its own source offset. */
export function deadLetterMessages(count: number, sourceTopic: string): Message[] {
  const at = new Date();
  return Array.from({ length: count }, (_, i) => {
    const encoded = encodeDeadLetter(
      buildDeadLetter({
        value: Buffer.from(`{"not":"an order event","n":${i}}`),
        key: `bench-${i}`,
        source: { topic: sourceTopic, partition: i % 6, offset: i },
        error: new SchemaViolationError('bench: not an order event'),
        attempts: 1,
        firstFailureAt: at,
      }),
    );
    return { key: encoded.key, value: encoded.value, headers: encoded.headers };
  });
}
