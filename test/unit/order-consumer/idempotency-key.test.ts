import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idempotencyKey, payloadHash } from '../../../lambdas/order-consumer/idempotency-key';
import { orderEvent } from '../../../tools/fixtures/order-events';

const fields = {
  aggregateId: 'order-1',
  eventType: 'OrderPlaced',
  timestamp: '2026-03-01T12:00:00.000Z',
};

describe('idempotencyKey', () => {
  it('is the hex SHA-256 of the JSON array [aggregateId, eventType, timestamp]', () => {
    const expected = createHash('sha256')
      .update('["order-1","OrderPlaced","2026-03-01T12:00:00.000Z"]')
      .digest('hex');
    expect(idempotencyKey(fields)).toBe(expected);
    expect(idempotencyKey(fields)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores every other field and the order of properties (a relay duplicate matches)', () => {
    const event = orderEvent('OrderPlaced', 'order-1', 0, 'evt-a');
    const redelivered = {
      ...event,
      eventId: 'evt-b',
      correlationId: 'other',
      schemaVersion: '1.9.3',
      data: { ...event.data, totalMinor: 1 },
      topic: 'order-events',
      partition: 4,
      offset: '99',
    };
    const reordered = {
      timestamp: event.timestamp,
      eventType: event.eventType,
      aggregateId: event.aggregateId,
    };
    expect(idempotencyKey(redelivered)).toBe(idempotencyKey(event));
    expect(idempotencyKey(reordered)).toBe(idempotencyKey(event));
  });

  it.each([
    ['aggregateId', { ...fields, aggregateId: 'order-2' }],
    ['eventType', { ...fields, eventType: 'PaymentCaptured' }],
    ['timestamp', { ...fields, timestamp: '2026-03-01T12:00:00.001Z' }],
  ])('changes when %s changes', (_field, changed) => {
    expect(idempotencyKey(changed)).not.toBe(idempotencyKey(fields));
  });

  it.each([
    [
      'a boundary moved between aggregateId and eventType',
      { aggregateId: 'a', eventType: 'bc', timestamp: 't' },
      { aggregateId: 'ab', eventType: 'c', timestamp: 't' },
    ],
    [
      'a separator-like character inside a field',
      { aggregateId: 'a|b', eventType: 'c', timestamp: 't' },
      { aggregateId: 'a', eventType: 'b|c', timestamp: 't' },
    ],
    [
      'a quote and comma inside a field',
      { aggregateId: 'a","b', eventType: 'c', timestamp: 't' },
      { aggregateId: 'a', eventType: 'b","c', timestamp: 't' },
    ],
  ])('cannot collide by %s', (_case, left, right) => {
    expect(idempotencyKey(left)).not.toBe(idempotencyKey(right));
  });
});

describe('payloadHash', () => {
  const event = orderEvent('PaymentCaptured', 'order-1', 1, 'evt-a');

  it('is the hex SHA-256 of type and data with keys sorted at every level', () => {
    const expected = createHash('sha256')
      .update(
        JSON.stringify({
          data: Object.fromEntries(Object.entries(event.data).sort(([a], [b]) => (a < b ? -1 : 1))),
          eventType: event.eventType,
        }),
      )
      .digest('hex');
    expect(payloadHash(event)).toBe(expected);
  });

  it('ignores the delivery (event id, correlation id) and the order of data keys', () => {
    const reversed = Object.fromEntries(Object.entries(event.data).reverse());
    const redelivered = { ...event, eventId: 'evt-b', correlationId: 'other', data: reversed };
    expect(payloadHash(redelivered)).toBe(payloadHash(event));
  });

  it('ignores the timestamp: a republished fact keeps its hash under a new key', () => {
    const republished = orderEvent('PaymentCaptured', 'order-1', 9, 'evt-c');
    expect(idempotencyKey(republished)).not.toBe(idempotencyKey(event));
    expect(payloadHash(republished)).toBe(payloadHash(event));
  });

  it('changes with any data value or the type', () => {
    expect(payloadHash({ ...event, data: { ...event.data, amountMinor: 1 } })).not.toBe(
      payloadHash(event),
    );
    expect(payloadHash({ ...event, eventType: 'OrderShipped' })).not.toBe(payloadHash(event));
  });
});
