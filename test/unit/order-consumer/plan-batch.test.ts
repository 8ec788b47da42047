import { describe, expect, it } from 'vitest';
import {
  type ApplyOutcome,
  planBatch,
  type RecordedTransition,
  transitionKey,
} from '../../../lambdas/order-consumer/apply-batch';
import { idempotencyKey, payloadHash } from '../../../lambdas/order-consumer/idempotency-key';
import {
  IdempotencyConflictError,
  InvalidTransitionError,
  TransitionConflictError,
} from '../../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../../lambdas/shared/events/envelope';
import { ORDER_EVENT_TYPES, type OrderEventType } from '../../../lambdas/shared/events/orders';
import { type OrderState, TRANSITIONS } from '../../../lambdas/shared/events/state-machine';
import { orderEvent } from '../../../tools/fixtures/order-events';

type Spec = readonly [OrderEventType, string, number];

/** One outcome as a short string, so a table row reads like the expected story. */
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

interface Case {
  readonly name: string;
  readonly states?: Readonly<Record<string, OrderState>>;
  /** Indexes of input events whose keys are already in processed_events. */
  readonly processedBefore?: readonly number[];
  readonly events: readonly Spec[];
  readonly outcomes: readonly string[];
  readonly newOrders?: readonly [id: string, status: OrderState, version: number][];
  readonly updates?: readonly [id: string, status: OrderState, transitions: number][];
  /** Indexes of input events whose keys the plan records. */
  readonly recorded?: readonly number[];
}

const CASES: readonly Case[] = [
  {
    name: 'a new order placed, paid and shipped is created in its final state',
    events: [
      ['OrderPlaced', 'o1', 0],
      ['PaymentCaptured', 'o1', 1],
      ['OrderShipped', 'o1', 2],
    ],
    outcomes: [
      'applied NONE>CREATED',
      'applied CREATED>PAYMENT_CAPTURED',
      'applied PAYMENT_CAPTURED>SHIPPED',
    ],
    newOrders: [['o1', 'SHIPPED', 3]],
    recorded: [0, 1, 2],
  },
  {
    name: 'OrderPlaced for an order the API created is ALREADY_APPLIED and recorded',
    states: { o1: 'CREATED' },
    events: [['OrderPlaced', 'o1', 0]],
    outcomes: ['duplicate ALREADY_APPLIED'],
    recorded: [0],
  },
  {
    name: 'an existing order moves once, by the number of transitions',
    states: { o1: 'CREATED' },
    events: [
      ['OrderPlaced', 'o1', 0],
      ['PaymentCaptured', 'o1', 1],
      ['OrderShipped', 'o1', 2],
    ],
    outcomes: [
      'duplicate ALREADY_APPLIED',
      'applied CREATED>PAYMENT_CAPTURED',
      'applied PAYMENT_CAPTURED>SHIPPED',
    ],
    updates: [['o1', 'SHIPPED', 2]],
    recorded: [0, 1, 2],
  },
  {
    name: 'keys already in processed_events are PROCESSED and change nothing',
    states: { o1: 'SHIPPED' },
    processedBefore: [0, 1, 2],
    events: [
      ['OrderPlaced', 'o1', 0],
      ['PaymentCaptured', 'o1', 1],
      ['OrderShipped', 'o1', 2],
    ],
    outcomes: ['duplicate PROCESSED', 'duplicate PROCESSED', 'duplicate PROCESSED'],
  },
  {
    name: 'the same key twice in one batch: the second is PROCESSED, recorded once',
    states: { o1: 'CREATED' },
    events: [
      ['PaymentCaptured', 'o1', 1],
      ['PaymentCaptured', 'o1', 1],
    ],
    outcomes: ['applied CREATED>PAYMENT_CAPTURED', 'duplicate PROCESSED'],
    updates: [['o1', 'PAYMENT_CAPTURED', 1]],
    recorded: [0],
  },
  {
    name: 'shipped before paid is rejected (SKIPS_STATE) and the rest still applies',
    states: { o1: 'CREATED' },
    events: [
      ['OrderShipped', 'o1', 2],
      ['PaymentCaptured', 'o1', 1],
    ],
    outcomes: ['rejected SKIPS_STATE', 'applied CREATED>PAYMENT_CAPTURED'],
    updates: [['o1', 'PAYMENT_CAPTURED', 1]],
    recorded: [1],
  },
  {
    name: 'late events never move a shipped order backwards',
    states: { o1: 'SHIPPED' },
    events: [
      ['PaymentCaptured', 'o1', 1],
      ['OrderCancelled', 'o1', 5],
      ['OrderPlaced', 'o1', 0],
    ],
    outcomes: ['rejected TERMINAL_STATE', 'rejected TERMINAL_STATE', 'rejected TERMINAL_STATE'],
  },
  {
    name: 'OrderPlaced on a paid order is BACKWARDS',
    states: { o1: 'PAYMENT_CAPTURED' },
    events: [['OrderPlaced', 'o1', 0]],
    outcomes: ['rejected BACKWARDS'],
  },
  {
    name: 'an event for a missing order without its OrderPlaced is ORDER_NOT_FOUND',
    events: [
      ['PaymentCaptured', 'o1', 1],
      ['OrderShipped', 'o1', 2],
    ],
    outcomes: ['rejected ORDER_NOT_FOUND', 'rejected ORDER_NOT_FOUND'],
  },
  {
    name: 'a rejected key is not recorded, so its redelivery is judged again',
    states: { o1: 'CREATED' },
    events: [
      ['OrderShipped', 'o1', 2],
      ['PaymentCaptured', 'o1', 1],
      ['OrderShipped', 'o1', 2],
    ],
    outcomes: [
      'rejected SKIPS_STATE',
      'applied CREATED>PAYMENT_CAPTURED',
      'applied PAYMENT_CAPTURED>SHIPPED',
    ],
    updates: [['o1', 'SHIPPED', 2]],
    recorded: [1, 2],
  },
  {
    name: 'cancel after payment, then a late shipment is TERMINAL_STATE',
    states: { o1: 'PAYMENT_CAPTURED' },
    events: [
      ['OrderCancelled', 'o1', 3],
      ['OrderShipped', 'o1', 2],
    ],
    outcomes: ['applied PAYMENT_CAPTURED>CANCELLED', 'rejected TERMINAL_STATE'],
    updates: [['o1', 'CANCELLED', 1]],
    recorded: [0],
  },
  {
    name: 'interleaved orders each follow their own state; rows come out sorted by id',
    states: { b: 'CREATED' },
    events: [
      ['OrderPlaced', 'c', 0],
      ['PaymentCaptured', 'b', 1],
      ['OrderPlaced', 'a', 0],
      ['PaymentCaptured', 'c', 1],
      ['OrderCancelled', 'b', 2],
    ],
    outcomes: [
      'applied NONE>CREATED',
      'applied CREATED>PAYMENT_CAPTURED',
      'applied NONE>CREATED',
      'applied CREATED>PAYMENT_CAPTURED',
      'applied PAYMENT_CAPTURED>CANCELLED',
    ],
    newOrders: [
      ['a', 'CREATED', 1],
      ['c', 'PAYMENT_CAPTURED', 2],
    ],
    updates: [['b', 'CANCELLED', 2]],
    recorded: [0, 1, 2, 3, 4],
  },
  {
    name: 'a second OrderPlaced (another timestamp) for a new order is ALREADY_APPLIED',
    events: [
      ['OrderPlaced', 'o1', 0],
      ['OrderPlaced', 'o1', 9],
    ],
    outcomes: ['applied NONE>CREATED', 'duplicate ALREADY_APPLIED'],
    newOrders: [['o1', 'CREATED', 1]],
    recorded: [0, 1],
  },
  { name: 'an empty batch plans nothing', events: [], outcomes: [] },
];

describe('planBatch', () => {
  it.each(CASES)('$name', (c) => {
    const events = c.events.map(([type, id, second]) => orderEvent(type, id, second));
    const states = new Map(Object.entries(c.states ?? {}));
    const processed = new Map(
      (c.processedBefore ?? []).map((i) => [keyAt(events, i), hashAt(events, i)] as const),
    );

    const plan = planBatch(events, states, processed);

    expect(plan.outcomes.map(describeOutcome)).toEqual(c.outcomes);
    expect(plan.newOrders.map((o) => [o.id, o.status, o.version])).toEqual(c.newOrders ?? []);
    expect(plan.stateUpdates.map((u) => [u.id, u.status, u.transitions])).toEqual(c.updates ?? []);
    expect(plan.processed).toEqual(
      (c.recorded ?? []).map((i) => ({
        idempotencyKey: keyAt(events, i),
        eventId: events[i]?.eventId,
        payloadHash: hashAt(events, i),
        aggregateId: events[i]?.aggregateId,
        eventType: events[i]?.eventType,
      })),
    );
  });

  it('takes the new order row from the OrderPlaced data', () => {
    const placed = orderEvent('OrderPlaced', 'o1', 0);
    const plan = planBatch([placed], new Map(), new Map());
    expect(plan.newOrders).toEqual([
      {
        id: 'o1',
        customerId: placed.data.customerId,
        totalMinor: placed.data.totalMinor,
        currency: placed.data.currency,
        status: 'CREATED',
        version: 1,
      },
    ]);
  });

  it('rejects with an InvalidTransitionError carrying the event context', () => {
    const shipped = orderEvent('OrderShipped', 'o1', 2);
    const [outcome] = planBatch([shipped], new Map([['o1', 'CREATED']]), new Map()).outcomes;
    if (outcome?.status !== 'rejected') throw new Error(`expected rejected, got ${outcome}`);
    expect(outcome.error).toBeInstanceOf(InvalidTransitionError);
    expect(outcome.error.errorType).toBe('INVALID_TRANSITION');
    expect(outcome.error.context).toEqual({
      eventId: shipped.eventId,
      eventType: 'OrderShipped',
      aggregateId: 'o1',
      correlationId: shipped.correlationId,
    });
  });

  it('uses the keys it is given, in input order', () => {
    const events = [orderEvent('OrderPlaced', 'o1', 0), orderEvent('OrderPlaced', 'o2', 0)];
    // Both events given the same key: the second counts as seen in this batch.
    const plan = planBatch(events, new Map(), new Map(), ['k', 'k'], ['h', 'h']);
    expect(plan.outcomes.map(describeOutcome)).toEqual([
      'applied NONE>CREATED',
      'duplicate PROCESSED',
    ]);
    expect(plan.processed).toEqual([
      {
        idempotencyKey: 'k',
        eventId: events[0]?.eventId,
        payloadHash: 'h',
        aggregateId: 'o1',
        eventType: 'OrderPlaced',
      },
    ]);
  });

  it('refuses keys that do not match the events one to one', () => {
    const one = [orderEvent('OrderPlaced', 'o1')];
    expect(() => planBatch(one, new Map(), new Map(), [])).toThrow(RangeError);
    expect(() => planBatch(one, new Map(), new Map(), undefined, ['h', 'h'])).toThrow(RangeError);
  });

  describe('a key processed before with other data (IDEMPOTENCY_CONFLICT from PostgreSQL)', () => {
    const paid = orderEvent('PaymentCaptured', 'o1', 1);
    const altered = { ...paid, eventId: 'evt-altered', data: { ...paid.data, amountMinor: 1 } };
    const key = idempotencyKey(paid);

    it('rejects a repeat whose payload hash differs from the stored one', () => {
      const plan = planBatch(
        [altered],
        new Map([['o1', 'PAYMENT_CAPTURED']]),
        new Map([[key, payloadHash(paid)]]),
      );
      const [outcome] = plan.outcomes;
      if (outcome?.status !== 'rejected') throw new Error(`expected rejected, got ${outcome}`);
      expect(outcome.error).toBeInstanceOf(IdempotencyConflictError);
      expect(outcome.error.context).toMatchObject({ eventId: 'evt-altered', aggregateId: 'o1' });
      expect(plan.processed).toEqual([]);
      expect(plan.stateUpdates).toEqual([]);
    });

    it('takes a repeat with the same hash, or of a row stored without one, as a duplicate', () => {
      const states = new Map<string, OrderState>([['o1', 'PAYMENT_CAPTURED']]);
      for (const stored of [payloadHash(paid), null]) {
        const plan = planBatch(
          [stored === null ? altered : paid],
          states,
          new Map([[key, stored]]),
        );
        expect(plan.outcomes.map(describeOutcome)).toEqual(['duplicate PROCESSED']);
      }
    });

    it('rejects a repeat within the batch whose data differs from the first', () => {
      const plan = planBatch([paid, altered], new Map([['o1', 'CREATED']]), new Map());
      expect(plan.outcomes.map(describeOutcome)).toEqual([
        'applied CREATED>PAYMENT_CAPTURED',
        'rejected IDEMPOTENCY_CONFLICT',
      ]);
    });
  });

  describe('a repeat of an applied transition under another key', () => {
    /** A capture of `o1` at `second` with its own paymentId (another charge when it differs). */
    const capture = (second: number, paymentId: string, eventId?: string) => {
      const e = orderEvent('PaymentCaptured', 'o1', second, eventId);
      return { ...e, data: { ...e.data, paymentId } };
    };
    const first = capture(1, 'pay-1', 'evt-first');
    const paid = new Map<string, OrderState>([['o1', 'PAYMENT_CAPTURED']]);
    const recordedAs = (...rows: RecordedTransition[]) =>
      new Map([[transitionKey('o1', 'PaymentCaptured'), rows]]);
    const applied = recordedAs({ eventId: first.eventId, payloadHash: payloadHash(first) });

    it('with other business data is a TransitionConflictError, not a duplicate', () => {
      const second = capture(7, 'pay-2', 'evt-second');
      const plan = planBatch([second], paid, new Map(), undefined, undefined, applied);

      expect(plan.outcomes.map(describeOutcome)).toEqual(['rejected IDEMPOTENCY_CONFLICT']);
      const [outcome] = plan.outcomes;
      if (outcome?.status !== 'rejected') throw new Error(`expected rejected, got ${outcome}`);
      expect(outcome.error).toBeInstanceOf(TransitionConflictError);
      expect(outcome.error.message).toBe(
        'PaymentCaptured conflicts with the PaymentCaptured already applied to order o1 ' +
          '(event evt-first): different business data (paymentId="pay-2", amountMinor=2500, ' +
          'currency="EUR"); a business conflict, not a duplicate',
      );
      expect(outcome.error.context).toEqual({
        eventId: 'evt-second',
        eventType: 'PaymentCaptured',
        aggregateId: 'o1',
        correlationId: second.correlationId,
        appliedEventId: 'evt-first',
      });
      // Not recorded: its redelivery is judged again, and dead-lettered again.
      expect(plan.processed).toEqual([]);
      expect(plan.stateUpdates).toEqual([]);
    });

    it('with the same business data (a replay with a new timestamp) stays a duplicate', () => {
      const replay = capture(7, 'pay-1');
      const plan = planBatch([replay], paid, new Map(), undefined, undefined, applied);
      expect(plan.outcomes.map(describeOutcome)).toEqual(['duplicate ALREADY_APPLIED']);
      expect(plan.processed).toMatchObject([
        { eventId: replay.eventId, aggregateId: 'o1', eventType: 'PaymentCaptured' },
      ]);
    });

    it('is a duplicate when nothing comparable was recorded (old, purged or hashless rows)', () => {
      const second = capture(7, 'pay-2');
      for (const transitions of [
        new Map(),
        recordedAs({ eventId: 'evt-old', payloadHash: null }),
        // Another order's or another type's transition says nothing about this one.
        new Map([
          [transitionKey('o2', 'PaymentCaptured'), [{ eventId: 'x', payloadHash: 'f'.repeat(64) }]],
          [transitionKey('o1', 'OrderPlaced'), [{ eventId: 'y', payloadHash: 'e'.repeat(64) }]],
        ]),
      ]) {
        const plan = planBatch([second], paid, new Map(), undefined, undefined, transitions);
        expect(plan.outcomes.map(describeOutcome)).toEqual(['duplicate ALREADY_APPLIED']);
      }
    });

    it('is a duplicate when any recorded row has the same business data', () => {
      const replay = capture(7, 'pay-1');
      const rows = recordedAs(
        { eventId: 'evt-other', payloadHash: 'f'.repeat(64) },
        { eventId: first.eventId, payloadHash: payloadHash(first) },
      );
      const plan = planBatch([replay], paid, new Map(), undefined, undefined, rows);
      expect(plan.outcomes.map(describeOutcome)).toEqual(['duplicate ALREADY_APPLIED']);
    });

    it('is compared with the transition applied earlier in the same batch', () => {
      const created = new Map<string, OrderState>([['o1', 'CREATED']]);
      const plan = planBatch(
        [first, capture(5, 'pay-1'), capture(7, 'pay-2'), capture(7, 'pay-2')],
        created,
        new Map(),
      );
      expect(plan.outcomes.map(describeOutcome)).toEqual([
        'applied CREATED>PAYMENT_CAPTURED',
        'duplicate ALREADY_APPLIED',
        'rejected IDEMPOTENCY_CONFLICT',
        // The same key again: the conflict was not recorded, so it is judged (and refused) again.
        'rejected IDEMPOTENCY_CONFLICT',
      ]);
      expect(plan.processed.map((p) => p.eventId)).toEqual([
        first.eventId,
        plan.processed[1]?.eventId,
      ]);
      expect(plan.stateUpdates).toEqual([{ id: 'o1', status: 'PAYMENT_CAPTURED', transitions: 1 }]);
    });

    it('confirms the OrderPlaced of an API-created order, then refuses one with other data', () => {
      const placed = orderEvent('OrderPlaced', 'o1', 0);
      const other = orderEvent('OrderPlaced', 'o1', 3);
      const altered = { ...other, data: { ...other.data, totalMinor: 1, currency: 'USD' } };
      const plan = planBatch([placed, altered], new Map([['o1', 'CREATED']]), new Map());
      expect(plan.outcomes.map(describeOutcome)).toEqual([
        'duplicate ALREADY_APPLIED',
        'rejected IDEMPOTENCY_CONFLICT',
      ]);
      const rejected = plan.outcomes[1];
      expect(rejected?.status === 'rejected' && rejected.error.message).toContain(
        'different business data (customerId="cust-1", items=[1 entries], totalMinor=1, currency="USD")',
      );
    });

    it('relies on each order applying each event type at most once', () => {
      // Each state is entered by one event type, never from itself, and the graph has no cycle.
      const targets = ORDER_EVENT_TYPES.map((t) => TRANSITIONS[t].to);
      expect(new Set(targets).size).toBe(targets.length);
      const reachable = (from: OrderState | undefined, seen = new Set<OrderState>()) => {
        for (const t of ORDER_EVENT_TYPES) {
          const { from: allowed, to } = TRANSITIONS[t];
          if (!allowed.includes(from) || seen.has(to)) continue;
          seen.add(to);
          reachable(to, seen);
        }
        return seen;
      };
      for (const state of targets) expect(reachable(state).has(state), state).toBe(false);
    });
  });

  it('does not modify its inputs', () => {
    const states = new Map<string, OrderState>([['o1', 'CREATED']]);
    const processed = new Map<string, string | null>();
    planBatch([orderEvent('PaymentCaptured', 'o1', 1)], states, processed);
    expect([...states]).toEqual([['o1', 'CREATED']]);
    expect(processed.size).toBe(0);
  });
});

function hashAt(events: readonly OrderEvent[], index: number): string {
  const event = events[index];
  if (event === undefined) throw new Error(`no event at ${index}`);
  return payloadHash(event);
}

function keyAt(events: readonly OrderEvent[], index: number): string {
  const event = events[index];
  if (event === undefined) throw new Error(`no event at ${index}`);
  return idempotencyKey(event);
}
