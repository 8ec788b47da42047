import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  type EnvelopeErrorKind,
  formatPath,
  InvalidEventError,
  type ParseEnvelopeResult,
  parseEnvelope,
} from '../../../lambdas/shared/events/envelope';
import { ORDER_EVENT_TYPES } from '../../../lambdas/shared/events/orders';
import { ORDER_ID, rawEvent, VALID_DATA } from './fixtures';

function expectError(result: ParseEnvelopeResult, kind: EnvelopeErrorKind) {
  if (result.ok) throw new Error(`expected ${kind}, got a parsed event`);
  expect(result.error.kind).toBe(kind);
  return result.error;
}

function expectOk(result: ParseEnvelopeResult) {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.event;
}

const REQUIRED_FIELDS = [
  'schemaVersion',
  'eventId',
  'eventType',
  'aggregateId',
  'timestamp',
  'correlationId',
  'data',
] as const;

describe('parseEnvelope: valid events', () => {
  it.each(ORDER_EVENT_TYPES)('accepts a valid %s as an object, a string and bytes', (type) => {
    const raw = rawEvent(type);
    for (const input of [raw, JSON.stringify(raw), Buffer.from(JSON.stringify(raw))]) {
      const event = expectOk(parseEnvelope(input));
      expect(event).toEqual(raw);
    }
  });

  it.each(['1.0.1', '1.1.0', '1.99.7'])('accepts a newer minor/patch of a known major: %s', (v) => {
    expect(
      expectOk(parseEnvelope(rawEvent('OrderPlaced', { schemaVersion: v }))).schemaVersion,
    ).toBe(v);
  });

  it('strips unknown top-level and payload fields instead of rejecting them', () => {
    const raw = rawEvent('OrderShipped', {
      futureField: 'x',
      data: { ...VALID_DATA.OrderShipped, estimatedArrival: '2026-03-03' },
    });
    const event = expectOk(parseEnvelope(raw));
    expect(event).not.toHaveProperty('futureField');
    expect(event.data).not.toHaveProperty('estimatedArrival');
    expect(event.data).toEqual(VALID_DATA.OrderShipped);
  });

  it('narrows data by eventType', () => {
    const event = expectOk(parseEnvelope(rawEvent('PaymentCaptured')));
    if (event.eventType !== 'PaymentCaptured') throw new Error('wrong type');
    expect(event.data.paymentId).toBe('pay-1');
  });
});

describe('parseEnvelope: NOT_JSON', () => {
  it.each([
    ['truncated JSON', '{"eventId":'],
    ['empty string', ''],
    ['plain text', 'hello'],
    ['truncated bytes', Buffer.from('{"a":')],
    ['invalid UTF-8 bytes', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
  ])('%s', (_name, input) => {
    const error = expectError(parseEnvelope(input), 'NOT_JSON');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toBe('');
    expect(error.context).toEqual({});
  });
});

describe('parseEnvelope: ENVELOPE_INVALID', () => {
  it.each(REQUIRED_FIELDS)('missing %s', (field) => {
    const raw = rawEvent();
    delete raw[field];
    const error = expectError(parseEnvelope(raw), 'ENVELOPE_INVALID');
    expect(error.issues.map((i) => i.path)).toEqual([field]);
  });

  it.each([
    ['no zone', '2026-03-01T12:00:00'],
    ['offset instead of Z', '2026-03-01T12:00:00+01:00'],
    ['zero offset instead of Z', '2026-03-01T12:00:00+00:00'],
    ['date only', '2026-03-01'],
    ['impossible date', '2026-02-30T12:00:00Z'],
    ['epoch millis', 1772366400000],
    ['not a date', 'yesterday'],
  ])('bad timestamp: %s', (_name, timestamp) => {
    const error = expectError(
      parseEnvelope(rawEvent('OrderPlaced', { timestamp })),
      'ENVELOPE_INVALID',
    );
    expect(error.issues.map((i) => i.path)).toEqual(['timestamp']);
  });

  it.each([['1.0'], ['v1.0.0'], ['1.0.0-beta'], ['01.0.0'], [1]])(
    'bad schemaVersion %j',
    (schemaVersion) => {
      const error = expectError(
        parseEnvelope(rawEvent('OrderPlaced', { schemaVersion })),
        'ENVELOPE_INVALID',
      );
      expect(error.issues.map((i) => i.path)).toEqual(['schemaVersion']);
    },
  );

  it.each([
    ['eventId', ''],
    ['aggregateId', ''],
    ['correlationId', ''],
    ['eventType', ''],
    ['data', []],
    ['data', 'text'],
    ['data', null],
  ])('bad %s: %j', (field, value) => {
    const error = expectError(
      parseEnvelope(rawEvent('OrderPlaced', { [field]: value })),
      'ENVELOPE_INVALID',
    );
    expect(error.issues.map((i) => i.path)).toEqual([field]);
  });

  it.each([['42'], ['null'], ['[]'], ['"event"']])('JSON that is not an object: %s', (text) => {
    const error = expectError(parseEnvelope(text), 'ENVELOPE_INVALID');
    expect(error.issues[0]?.path).toBe('');
  });

  it('keeps string identifiers of a rejected event for tracing', () => {
    const error = expectError(
      parseEnvelope(rawEvent('OrderPlaced', { timestamp: 'x', eventId: 7 })),
      'ENVELOPE_INVALID',
    );
    expect(error.context).toEqual({
      eventType: 'OrderPlaced',
      aggregateId: ORDER_ID,
      correlationId: 'req-123',
      schemaVersion: '1.0.0',
    });
  });
});

describe('parseEnvelope: UNKNOWN_EVENT_TYPE', () => {
  it.each(['OrderRefunded', 'orderplaced', 'toString', '__proto__', 'constructor'])('%s', (t) => {
    const error = expectError(
      parseEnvelope(rawEvent('OrderPlaced', { eventType: t })),
      'UNKNOWN_EVENT_TYPE',
    );
    expect(error.issues.map((i) => i.path)).toEqual(['eventType']);
    expect(error.context.eventType).toBe(t);
  });
});

describe('parseEnvelope: UNKNOWN_MAJOR', () => {
  it.each(['0.9.0', '2.0.0', '10.1.3'])('%s is a schema violation', (schemaVersion) => {
    const error = expectError(
      parseEnvelope(rawEvent('OrderCancelled', { schemaVersion })),
      'UNKNOWN_MAJOR',
    );
    expect(error.issues).toEqual([{ path: 'schemaVersion', message: 'known majors: 1' }]);
    expect(error.context.schemaVersion).toBe(schemaVersion);
  });
});

describe('parseEnvelope: PAYLOAD_INVALID', () => {
  it.each([
    ['OrderPlaced', { ...VALID_DATA.OrderPlaced, items: [] }, 'data.items'],
    [
      'OrderPlaced',
      { ...VALID_DATA.OrderPlaced, items: [{ sku: 'A', quantity: 0, unitPriceMinor: 1 }] },
      'data.items[0].quantity',
    ],
    ['PaymentCaptured', { ...VALID_DATA.PaymentCaptured, currency: 'eur' }, 'data.currency'],
    ['OrderShipped', { orderId: ORDER_ID, carrier: 'DHL' }, 'data.trackingNumber'],
    ['OrderCancelled', { orderId: ORDER_ID, reason: '' }, 'data.reason'],
    // Valid payload of another event type: the eventType decides the schema.
    ['OrderShipped', VALID_DATA.OrderCancelled, 'data.carrier'],
  ] as const)('%s with bad data at %s', (type, data, path) => {
    const error = expectError(parseEnvelope(rawEvent(type, { data })), 'PAYLOAD_INVALID');
    expect(error.issues.map((i) => i.path)).toContain(path);
    expect(error.context.eventType).toBe(type);
  });

  it('rejects data.orderId that differs from aggregateId (the Kafka key)', () => {
    const error = expectError(
      parseEnvelope(rawEvent('OrderShipped', { aggregateId: 'another-order' })),
      'PAYLOAD_INVALID',
    );
    expect(error.issues).toEqual([
      { path: 'data.orderId', message: 'must equal aggregateId "another-order"' },
    ]);
  });
});

describe('createEnvelope', () => {
  it.each(ORDER_EVENT_TYPES)('builds a %s that parseEnvelope accepts', (eventType) => {
    const event = createEnvelope({ eventType, data: VALID_DATA[eventType] });
    expect(event.schemaVersion).toBe('1.0.0');
    expect(event.eventType).toBe(eventType);
    expect(event.aggregateId).toBe(ORDER_ID);
    expect(event.eventId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(event.timestamp).toMatch(/Z$/);
    expect(event.correlationId).toBe(event.eventId);
    expect(parseEnvelope(JSON.stringify(event))).toEqual({ ok: true, event });
  });

  it('uses the given clock, id source, correlation id and occurrence time', () => {
    const deps = { newId: () => 'id-1', now: () => new Date('2026-01-02T03:04:05.678Z') };
    const base = { eventType: 'OrderCancelled' as const, data: VALID_DATA.OrderCancelled };
    expect(createEnvelope({ ...base, correlationId: 'corr-9' }, deps)).toEqual({
      schemaVersion: '1.0.0',
      eventId: 'id-1',
      eventType: 'OrderCancelled',
      aggregateId: ORDER_ID,
      timestamp: '2026-01-02T03:04:05.678Z',
      correlationId: 'corr-9',
      data: VALID_DATA.OrderCancelled,
    });
    const occurredAt = new Date('2025-12-31T23:59:59.000Z');
    expect(createEnvelope({ ...base, occurredAt }, deps).timestamp).toBe(occurredAt.toISOString());
  });

  it('gives every event a new id', () => {
    const data = VALID_DATA.OrderShipped;
    const a = createEnvelope({ eventType: 'OrderShipped', data });
    const b = createEnvelope({ eventType: 'OrderShipped', data });
    expect(a.eventId).not.toBe(b.eventId);
  });

  it('refuses invalid data with the failing paths', () => {
    const build = () =>
      createEnvelope({
        eventType: 'PaymentCaptured',
        data: { ...VALID_DATA.PaymentCaptured, amountMinor: 12.5 },
      });
    expect(build).toThrow(InvalidEventError);
    expect(build).toThrow(/data\.amountMinor/);
  });

  it('refuses an empty correlation id', () => {
    expect(() =>
      createEnvelope({
        eventType: 'OrderShipped',
        data: VALID_DATA.OrderShipped,
        correlationId: '',
      }),
    ).toThrow(/correlationId/);
  });
});

describe('formatPath', () => {
  it.each([
    [[], ''],
    [['data'], 'data'],
    [['data', 'items', 0, 'sku'], 'data.items[0].sku'],
    [[0, 'a'], '[0].a'],
  ] as const)('%j → %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});
