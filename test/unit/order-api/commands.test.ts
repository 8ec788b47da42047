// Validation paths of the commands: they must answer before touching the database.
import { describe, expect, it } from 'vitest';
import { placeOrder, recordOrderEvent } from '../../../lambdas/order-api/commands';
import type { Database } from '../../../lambdas/order-api/orders-repository';

const untouchable: Database = {
  connect: () => {
    throw new Error('validation must not reach the database');
  },
  query: () => {
    throw new Error('validation must not reach the database');
  },
} as unknown as Database;

const ids = { eventId: '00000000-0000-4000-8000-000000000001', correlationId: 'c-1' };

describe('placeOrder validation', () => {
  it.each([
    ['an array', [], [''] as string[]],
    ['a string', 'order', ['']],
    ['null', null, ['']],
    ['an empty object', {}, ['customerId', 'items', 'totalMinor', 'currency']],
    [
      'bad nested fields',
      {
        customerId: 'c',
        items: [{ sku: '', quantity: 1.5, unitPriceMinor: -1 }],
        totalMinor: 1,
        currency: 'EURO',
      },
      ['items[0].sku', 'items[0].quantity', 'items[0].unitPriceMinor', 'currency'],
    ],
    [
      'a non-string orderId',
      {
        orderId: 7,
        customerId: 'c',
        items: [{ sku: 's', quantity: 1, unitPriceMinor: 1 }],
        totalMinor: 1,
        currency: 'EUR',
      },
      ['orderId'],
    ],
  ])('reports the paths for %s', async (_name, input, paths) => {
    const result = await placeOrder(untouchable, input, ids);
    expect(result.kind).toBe('invalid');
    if (result.kind !== 'invalid') return;
    expect(result.issues.map((i) => i.path).sort()).toEqual([...paths].sort());
  });
});

describe('recordOrderEvent validation', () => {
  it.each([
    ['no eventType', { data: {} }, ['eventType']],
    ['OrderPlaced (not recordable here)', { eventType: 'OrderPlaced', data: {} }, ['eventType']],
    ['an inherited key as eventType', { eventType: 'toString', data: {} }, ['eventType']],
    ['data that is not an object', { eventType: 'OrderCancelled', data: 'x' }, ['data']],
    [
      'data naming another order',
      { eventType: 'OrderCancelled', data: { orderId: 'o-2', reason: 'r' } },
      ['data.orderId'],
    ],
    [
      'a payload failing its schema',
      { eventType: 'PaymentCaptured', data: { paymentId: 'p' } },
      ['data.amountMinor', 'data.currency'],
    ],
  ])('reports the paths for %s', async (_name, input, paths) => {
    const result = await recordOrderEvent(untouchable, 'o-1', input, ids);
    expect(result.kind).toBe('invalid');
    if (result.kind !== 'invalid') return;
    expect(result.issues.map((i) => i.path).sort()).toEqual([...paths].sort());
  });
});
