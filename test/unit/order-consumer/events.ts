// Order events for the consumer tests, built with the producers' own createEnvelope.
import { createEnvelope, type OrderEvent } from '../../../lambdas/shared/events/envelope';
import type { OrderEventDataInput, OrderEventType } from '../../../lambdas/shared/events/orders';

export function dataFor<T extends OrderEventType>(
  eventType: T,
  orderId: string,
): OrderEventDataInput<T> {
  const data: { [K in OrderEventType]: OrderEventDataInput<K> } = {
    OrderPlaced: {
      orderId,
      customerId: 'cust-1',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceMinor: 1250 }],
      totalMinor: 2500,
      currency: 'EUR',
    },
    PaymentCaptured: { orderId, paymentId: `pay-${orderId}`, amountMinor: 2500, currency: 'EUR' },
    OrderShipped: { orderId, carrier: 'DHL', trackingNumber: `trk-${orderId}` },
    OrderCancelled: { orderId, reason: 'customer request' },
  };
  return data[eventType];
}

const BASE = Date.parse('2026-03-01T12:00:00.000Z');
let sequence = 0;

/**
 * A valid event; `second` sets its timestamp (seconds after a fixed base), so the same
 * (orderId, type, second) is the same business fact and thus the same idempotency key.
 */
export function orderEvent<T extends OrderEventType>(
  eventType: T,
  orderId: string,
  second = 0,
  eventId = `evt-${++sequence}`,
): OrderEvent<T> {
  return createEnvelope(
    { eventType, data: dataFor(eventType, orderId), occurredAt: new Date(BASE + second * 1000) },
    { newId: () => eventId },
  );
}

/** Placed → paid → shipped for one order, one second apart. */
export function lifecycle(orderId: string): OrderEvent[] {
  return [
    orderEvent('OrderPlaced', orderId, 0),
    orderEvent('PaymentCaptured', orderId, 1),
    orderEvent('OrderShipped', orderId, 2),
  ];
}
