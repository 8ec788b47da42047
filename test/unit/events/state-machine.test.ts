import { describe, expect, it } from 'vitest';
import type { OrderEventType } from '../../../lambdas/shared/events/orders';
import {
  isTerminal,
  nextState,
  ORDER_STATES,
  type OrderState,
  type TransitionRejectionReason,
} from '../../../lambdas/shared/events/state-machine';

type From = OrderState | undefined;

const ALLOWED: readonly [From, OrderEventType, OrderState][] = [
  [undefined, 'OrderPlaced', 'CREATED'],
  ['CREATED', 'PaymentCaptured', 'PAYMENT_CAPTURED'],
  ['CREATED', 'OrderCancelled', 'CANCELLED'],
  ['PAYMENT_CAPTURED', 'OrderShipped', 'SHIPPED'],
  ['PAYMENT_CAPTURED', 'OrderCancelled', 'CANCELLED'],
];

// Every other (state, event) pair, with the reason the consumer sees.
const REJECTED: readonly [From, OrderEventType, TransitionRejectionReason][] = [
  [undefined, 'PaymentCaptured', 'ORDER_NOT_FOUND'],
  [undefined, 'OrderShipped', 'ORDER_NOT_FOUND'],
  [undefined, 'OrderCancelled', 'ORDER_NOT_FOUND'],
  ['CREATED', 'OrderPlaced', 'ALREADY_APPLIED'],
  ['CREATED', 'OrderShipped', 'SKIPS_STATE'],
  ['PAYMENT_CAPTURED', 'OrderPlaced', 'BACKWARDS'],
  ['PAYMENT_CAPTURED', 'PaymentCaptured', 'ALREADY_APPLIED'],
  ['SHIPPED', 'OrderPlaced', 'TERMINAL_STATE'],
  ['SHIPPED', 'PaymentCaptured', 'TERMINAL_STATE'],
  ['SHIPPED', 'OrderShipped', 'ALREADY_APPLIED'],
  ['SHIPPED', 'OrderCancelled', 'TERMINAL_STATE'],
  ['CANCELLED', 'OrderPlaced', 'TERMINAL_STATE'],
  ['CANCELLED', 'PaymentCaptured', 'TERMINAL_STATE'],
  ['CANCELLED', 'OrderShipped', 'TERMINAL_STATE'],
  ['CANCELLED', 'OrderCancelled', 'ALREADY_APPLIED'],
];

const EVENT_TYPES: readonly OrderEventType[] = [
  'OrderPlaced',
  'PaymentCaptured',
  'OrderShipped',
  'OrderCancelled',
];

describe('nextState', () => {
  it.each(ALLOWED)('%s + %s → %s', (from, eventType, to) => {
    expect(nextState(from, eventType)).toEqual({ ok: true, state: to });
  });

  it.each(REJECTED)('%s + %s is rejected (%s)', (from, eventType, reason) => {
    const result = nextState(from, eventType);
    if (result.ok) throw new Error(`unexpectedly moved to ${result.state}`);
    expect(result.rejection).toMatchObject({ kind: 'INVALID_TRANSITION', reason, from, eventType });
    expect(result.rejection.message).toContain(eventType);
    expect(result.rejection.allowedFrom).not.toContain(from);
  });

  it('the two tables cover every (state, event) pair exactly once', () => {
    const key = ([from, type]: readonly [From, OrderEventType, unknown]) => `${from}/${type}`;
    const covered = [...ALLOWED.map(key), ...REJECTED.map(key)].sort();
    const all = [undefined, ...ORDER_STATES].flatMap((s) => EVENT_TYPES.map((t) => `${s}/${t}`));
    expect(covered).toEqual(all.sort());
  });

  it.each(EVENT_TYPES)('replaying %s after it applied never changes the state', (eventType) => {
    const path: Record<OrderEventType, OrderEventType[]> = {
      OrderPlaced: ['OrderPlaced'],
      PaymentCaptured: ['OrderPlaced', 'PaymentCaptured'],
      OrderShipped: ['OrderPlaced', 'PaymentCaptured', 'OrderShipped'],
      OrderCancelled: ['OrderPlaced', 'OrderCancelled'],
    };
    let state: From;
    for (const type of path[eventType]) {
      const step = nextState(state, type);
      if (!step.ok) throw new Error(step.rejection.message);
      state = step.state;
    }
    const replay = nextState(state, eventType);
    expect(replay.ok).toBe(false);
    expect(!replay.ok && replay.rejection.reason).toBe('ALREADY_APPLIED');
  });

  it('a late event never moves a shipped order backwards', () => {
    // Events arriving in delivery order with a duplicate and a late payment.
    const delivered: OrderEventType[] = [
      'OrderPlaced',
      'PaymentCaptured',
      'OrderShipped',
      'PaymentCaptured',
      'OrderPlaced',
      'OrderCancelled',
    ];
    let state: From;
    const applied: OrderEventType[] = [];
    for (const type of delivered) {
      const step = nextState(state, type);
      if (step.ok) {
        state = step.state;
        applied.push(type);
      }
    }
    expect(state).toBe('SHIPPED');
    expect(applied).toEqual(['OrderPlaced', 'PaymentCaptured', 'OrderShipped']);
  });
});

describe('isTerminal', () => {
  it.each([
    ['CREATED', false],
    ['PAYMENT_CAPTURED', false],
    ['SHIPPED', true],
    ['CANCELLED', true],
  ] as const)('%s → %s', (state, expected) => {
    expect(isTerminal(state)).toBe(expected);
  });
});
