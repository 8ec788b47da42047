import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  isOrderEventType,
  ORDER_EVENT_REGISTRY,
  ORDER_EVENT_TYPES,
  orderCancelledSchema,
  orderPlacedSchema,
  orderShippedSchema,
  paymentCapturedSchema,
} from '../../../lambdas/shared/events/orders';
import { parseSchemaVersion } from '../../../lambdas/shared/events/version';
import { VALID_DATA } from './fixtures';

const item = VALID_DATA.OrderPlaced.items[0];

describe('OrderPlaced data', () => {
  const base = VALID_DATA.OrderPlaced;
  it('accepts a valid order and strips unknown fields at every level', () => {
    const parsed = orderPlacedSchema.parse({
      ...base,
      coupon: 'X',
      items: [{ ...item, colour: 'red' }],
    });
    expect(parsed).toEqual({ ...base, items: [item] });
  });

  it.each([
    ['orderId', { orderId: '' }],
    ['customerId', { customerId: undefined }],
    ['items', { items: [] }],
    ['items', { items: 'SKU-1' }],
    ['items.0.sku', { items: [{ ...item, sku: '' }] }],
    ['items.0.quantity', { items: [{ ...item, quantity: 0 }] }],
    ['items.0.quantity', { items: [{ ...item, quantity: -1 }] }],
    ['items.0.quantity', { items: [{ ...item, quantity: 1.5 }] }],
    ['items.0.unitPriceMinor', { items: [{ ...item, unitPriceMinor: -1 }] }],
    ['items.0.unitPriceMinor', { items: [{ ...item, unitPriceMinor: 9.99 }] }],
    ['items.0.unitPriceMinor', { items: [{ ...item, unitPriceMinor: '100' }] }],
    ['totalMinor', { totalMinor: -1 }],
    ['totalMinor', { totalMinor: 25.5 }],
    ['totalMinor', { totalMinor: Number.MAX_SAFE_INTEGER + 1 }],
    ['currency', { currency: 'eur' }],
    ['currency', { currency: 'EURO' }],
    ['currency', { currency: 'E1R' }],
  ])('rejects bad %s: %j', (path, patch) => {
    const result = orderPlacedSchema.safeParse({ ...base, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual([path]);
  });

  it.each([
    ['zero unit price', { items: [{ ...item, unitPriceMinor: 0 }] }],
    ['zero total', { totalMinor: 0 }],
  ])('accepts %s', (_name, patch) => {
    expect(orderPlacedSchema.safeParse({ ...base, ...patch }).success).toBe(true);
  });
});

interface PayloadCase {
  readonly type: string;
  readonly schema: z.ZodType;
  readonly valid: Record<string, unknown>;
  readonly bad: readonly (readonly [path: string, patch: Record<string, unknown>])[];
}

const OTHER_PAYLOADS: readonly PayloadCase[] = [
  {
    type: 'PaymentCaptured',
    schema: paymentCapturedSchema,
    valid: VALID_DATA.PaymentCaptured,
    bad: [
      ['paymentId', { paymentId: '' }],
      ['amountMinor', { amountMinor: -5 }],
      ['amountMinor', { amountMinor: 0.5 }],
      ['currency', { currency: 'usd' }],
      ['orderId', { orderId: undefined }],
    ],
  },
  {
    type: 'OrderShipped',
    schema: orderShippedSchema,
    valid: VALID_DATA.OrderShipped,
    bad: [
      ['carrier', { carrier: '' }],
      ['trackingNumber', { trackingNumber: undefined }],
      ['trackingNumber', { trackingNumber: 12345 }],
    ],
  },
  {
    type: 'OrderCancelled',
    schema: orderCancelledSchema,
    valid: VALID_DATA.OrderCancelled,
    bad: [
      ['reason', { reason: '' }],
      ['reason', { reason: 'x'.repeat(1001) }],
      ['orderId', { orderId: 7 }],
    ],
  },
];

describe.each(OTHER_PAYLOADS)('$type data', ({ schema, valid, bad }) => {
  it('accepts the valid payload and strips unknown fields', () => {
    expect(schema.parse({ ...valid, extra: true })).toEqual(valid);
  });
  it.each(bad)('rejects bad %s: %j', (path, patch) => {
    const result = schema.safeParse({ ...valid, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual([path]);
  });
});

describe('event registry', () => {
  it('lists exactly the four order event types', () => {
    expect([...ORDER_EVENT_TYPES].sort()).toEqual([
      'OrderCancelled',
      'OrderPlaced',
      'OrderShipped',
      'PaymentCaptured',
    ]);
  });

  it.each(ORDER_EVENT_TYPES)('%s: current version is valid and its major is known', (type) => {
    const spec = ORDER_EVENT_REGISTRY[type];
    const version = parseSchemaVersion(spec.currentVersion);
    expect(version).toBeDefined();
    expect(spec.knownMajors).toContain(version?.major);
    expect(spec.schema.safeParse(VALID_DATA[type]).success).toBe(true);
  });

  it.each([
    ['OrderPlaced', true],
    ['OrderRefunded', false],
    ['toString', false],
    ['hasOwnProperty', false],
    ['', false],
    [42, false],
    [undefined, false],
  ])('isOrderEventType(%j) is %s', (value, expected) => {
    expect(isOrderEventType(value)).toBe(expected);
  });
});
