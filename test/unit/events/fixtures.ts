// Valid wire-format events for the tests; each test changes one thing.
import type { OrderEventDataInput, OrderEventType } from '../../../lambdas/shared/events/orders';

export const ORDER_ID = '0b8f2c8e-5a55-4c1e-9d57-5f1f3c1e2a10';

export const VALID_DATA: { [T in OrderEventType]: OrderEventDataInput<T> } = {
  OrderPlaced: {
    orderId: ORDER_ID,
    customerId: 'cust-42',
    items: [
      { sku: 'SKU-1', quantity: 2, unitPriceMinor: 1250 },
      { sku: 'SKU-2', quantity: 1, unitPriceMinor: 0 },
    ],
    totalMinor: 2500,
    currency: 'EUR',
  },
  PaymentCaptured: {
    orderId: ORDER_ID,
    paymentId: 'pay-1',
    amountMinor: 2500,
    currency: 'EUR',
  },
  OrderShipped: { orderId: ORDER_ID, carrier: 'DHL', trackingNumber: 'JD014600006281230704' },
  OrderCancelled: { orderId: ORDER_ID, reason: 'customer request' },
};

export function rawEvent(
  eventType: OrderEventType = 'OrderPlaced',
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schemaVersion: '1.0.0',
    eventId: '7d444840-9dc0-11d1-b245-5ffdce74fad2',
    eventType,
    aggregateId: ORDER_ID,
    timestamp: '2026-03-01T12:00:00.000Z',
    correlationId: 'req-123',
    data: VALID_DATA[eventType],
    ...overrides,
  };
}
