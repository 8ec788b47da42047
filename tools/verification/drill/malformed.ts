// Generated malformed inputs (fast-check): every record is bad by construction, with the error
// type it must be dead-lettered with. Construction, not the consumer's parser, decides the
// expected type, so the parser is tested rather than consulted.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { ErrorType } from '../../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../../lambdas/shared/events/envelope';
import { ORDER_EVENT_TYPES, type OrderEventType } from '../../../lambdas/shared/events/orders';
import { orderEvent } from './inputs';

export interface MalformedInput {
  readonly category: string;
  readonly expected: ErrorType;
  /** null is a tombstone. */
  readonly value: Buffer | null;
  /** Readable order events only (their order must not exist afterwards either). */
  readonly aggregateId?: string;
  readonly eventId?: string;
}

const ENVELOPE_KEYS = [
  'schemaVersion',
  'eventId',
  'eventType',
  'aggregateId',
  'timestamp',
  'correlationId',
  'data',
] as const;

/** A superset of the ISO-8601 UTC forms the envelope accepts: generated junk must miss it. */
const LOOKS_LIKE_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/;
const LOOKS_LIKE_VERSION = /^\d+\.\d+\.\d+$/;

/** True for anything shaped like a full envelope (such a value is not junk by construction). */
function couldBeEnvelope(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return ENVELOPE_KEYS.every((k) => k in value);
}

function bytesCouldBeEnvelope(bytes: Uint8Array): boolean {
  try {
    return couldBeEnvelope(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch {
    return false;
  }
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');
const schema = (category: string, value: Buffer | null): MalformedInput => ({
  category,
  expected: 'SCHEMA_VIOLATION',
  value,
});

/** A valid event of any type for a throwaway order; mutants start from one. */
const validEvent: fc.Arbitrary<OrderEvent> = fc
  .constantFrom(...ORDER_EVENT_TYPES)
  .map((type) => orderEvent(`malformed-${randomUUID()}`, type, new Date()));

const nonString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 }),
);

type Mutation = (event: Record<string, unknown>) => fc.Arbitrary<Record<string, unknown>>;

const without = (event: Record<string, unknown>, key: string) => {
  const copy = { ...event };
  delete copy[key];
  return copy;
};

/** Each mutation breaks one rule of the envelope or the payload schema. */
const MUTATIONS: Readonly<Record<string, Mutation>> = {
  'drop-field': (e) => fc.constantFrom(...ENVELOPE_KEYS).map((k) => without(e, k)),
  'non-string-field': (e) =>
    fc
      .tuple(fc.constantFrom(...ENVELOPE_KEYS.filter((k) => k !== 'data')), nonString)
      .map(([k, v]) => ({ ...e, [k]: v })),
  'empty-id': (e) =>
    fc
      .constantFrom('eventId', 'eventType', 'aggregateId', 'correlationId')
      .map((k) => ({ ...e, [k]: '' })),
  'bad-version': (e) =>
    fc
      .string({ maxLength: 12 })
      .filter((s) => !LOOKS_LIKE_VERSION.test(s))
      .map((s) => ({ ...e, schemaVersion: s })),
  'unknown-major': (e) =>
    fc
      .tuple(fc.integer({ min: 2, max: 999 }), fc.nat(99), fc.nat(99))
      .map(([a, b, c]) => ({ ...e, schemaVersion: `${a}.${b}.${c}` })),
  'unknown-event-type': (e) =>
    fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => !Object.hasOwn(Object.fromEntries(ORDER_EVENT_TYPES.map((t) => [t, 1])), s))
      .map((s) => ({ ...e, eventType: s })),
  'bad-timestamp': (e) =>
    fc
      .oneof(
        fc.string({ maxLength: 30 }),
        fc.date({ noInvalidDate: true }).map((d) => d.toString()),
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString().replace('Z', '+00:00')),
      )
      .filter((s) => !LOOKS_LIKE_UTC.test(s))
      .map((s) => ({ ...e, timestamp: s })),
  'data-not-object': (e) =>
    fc
      .oneof(
        fc.string(),
        fc.integer(),
        fc.constant(null),
        fc.array(fc.jsonValue(), { maxLength: 3 }),
      )
      .map((d) => ({ ...e, data: d })),
  'data-other-order': (e) =>
    fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => s !== e.aggregateId)
      .map((s) => ({ ...e, data: { ...(e.data as object), orderId: s } })),
  'data-drops-order-id': (e) =>
    fc.constant({ ...e, data: without(e.data as Record<string, unknown>, 'orderId') }),
};

type PayloadBreak = (d: Record<string, unknown>) => fc.Arbitrary<Record<string, unknown>>;

/** OrderPlaced payload rules (items, quantities, money, currency, ids), broken one at a time. */
const PAYLOAD_BREAKS: readonly PayloadBreak[] = [
  (d) => fc.constant({ ...d, items: [] }),
  (d) =>
    fc
      .integer({ max: 0 })
      .map((q) => ({ ...d, items: [{ sku: 'SKU-1', quantity: q, unitPriceMinor: 1 }] })),
  (d) => fc.integer({ max: -1 }).map((t) => ({ ...d, totalMinor: t })),
  (d) =>
    fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .filter((t) => !Number.isInteger(t))
      .map((t) => ({ ...d, totalMinor: t })),
  (d) =>
    fc
      .string({ maxLength: 5 })
      .filter((c) => !/^[A-Z]{3}$/.test(c))
      .map((c) => ({ ...d, currency: c })),
  (d) => fc.constant(without(d, 'customerId')),
  (d) => fc.string({ minLength: 201, maxLength: 260 }).map((c) => ({ ...d, customerId: c })),
];

const placedPayload: fc.Arbitrary<MalformedInput> = fc
  .constantFrom(...PAYLOAD_BREAKS)
  .chain((breakIt) => {
    const event = orderEvent(`malformed-${randomUUID()}`, 'OrderPlaced', new Date());
    return breakIt({ ...event.data }).map((data) =>
      schema('payload-schema', json({ ...event, data })),
    );
  });

const mutant: fc.Arbitrary<MalformedInput> = fc
  .tuple(validEvent, fc.constantFrom(...Object.keys(MUTATIONS)))
  .chain(([event, name]) =>
    (MUTATIONS[name] as Mutation)({ ...event } as Record<string, unknown>).map((m) =>
      schema(`envelope:${name}`, json(m)),
    ),
  );

/** Readable and valid, but the order does not exist: the state machine rejects it. */
const orphanTransition: fc.Arbitrary<MalformedInput> = fc
  .constantFrom<OrderEventType>('PaymentCaptured', 'OrderShipped', 'OrderCancelled')
  .map((type) => {
    const event = orderEvent(`malformed-orphan-${randomUUID()}`, type, new Date());
    return {
      category: 'transition:order-not-found',
      expected: 'INVALID_TRANSITION' as const,
      value: json(event),
      aggregateId: event.aggregateId,
      eventId: event.eventId,
    };
  });

export const malformedInput: fc.Arbitrary<MalformedInput> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc
      .uint8Array({ maxLength: 300 })
      .filter((b) => !bytesCouldBeEnvelope(b))
      .map((b) => schema('random-bytes', Buffer.from(b))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.uint8Array({ maxLength: 60 }), fc.uint8Array({ maxLength: 60 }))
      // 0xFF never occurs in UTF-8.
      .map(([a, b]) => schema('invalid-utf8', Buffer.concat([a, Buffer.from([0xff]), b]))),
  },
  { weight: 1, arbitrary: fc.constant(schema('tombstone', null)) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.string(),
        fc.array(fc.jsonValue()),
      )
      .map((v) => schema('json-not-object', json(v))),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.object(), fc.dictionary(fc.constantFrom(...ENVELOPE_KEYS), fc.jsonValue()))
      .filter((o) => !couldBeEnvelope(o))
      .map((o) => schema('json-object', json(o))),
  },
  { weight: 6, arbitrary: mutant },
  { weight: 2, arbitrary: placedPayload },
  { weight: 2, arbitrary: orphanTransition },
);

/** `count` inputs, reproducible from `seed`. */
export function generateMalformed(count: number, seed: number): MalformedInput[] {
  return fc.sample(malformedInput, { numRuns: count, seed });
}
