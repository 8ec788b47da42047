// The order state machine (docs/ARCHITECTURE.md §3), pure. A transition applies only from an allowed
// predecessor, so a replayed or late event is rejected instead of moving an order backwards.
import type { OrderEventType } from './orders';

export const ORDER_STATES = ['CREATED', 'PAYMENT_CAPTURED', 'SHIPPED', 'CANCELLED'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export const TERMINAL_STATES: readonly OrderState[] = ['SHIPPED', 'CANCELLED'];

/**
 * `undefined` in `from` means "no order yet". Each state is entered by one event type only and
 * never re-entered, so an order applies each event type at most once: the consumer names an
 * applied transition by (order, event type) to compare a repeat's business data with it.
 */
export const TRANSITIONS: Readonly<
  Record<
    OrderEventType,
    { readonly from: readonly (OrderState | undefined)[]; readonly to: OrderState }
  >
> = {
  OrderPlaced: { from: [undefined], to: 'CREATED' },
  PaymentCaptured: { from: ['CREATED'], to: 'PAYMENT_CAPTURED' },
  OrderShipped: { from: ['PAYMENT_CAPTURED'], to: 'SHIPPED' },
  OrderCancelled: { from: ['CREATED', 'PAYMENT_CAPTURED'], to: 'CANCELLED' },
};

// Progress along the lifecycle; only used to explain a rejection, never to allow one.
const RANK: Readonly<Record<OrderState, number>> = {
  CREATED: 0,
  PAYMENT_CAPTURED: 1,
  SHIPPED: 2,
  CANCELLED: 2,
};

/**
 * Why a transition was refused, so the consumer can tell a harmless replay from a real
 * business-rule violation:
 * - ALREADY_APPLIED: the order is already in the target state (replay of the same event type;
 *   the consumer still compares its business data with the applied event's).
 * - ORDER_NOT_FOUND: the event needs an existing order and there is none.
 * - TERMINAL_STATE: the order is SHIPPED or CANCELLED; nothing moves it any more.
 * - BACKWARDS: a late event whose target state the order has already passed.
 * - SKIPS_STATE: a forward jump over a required step (e.g. shipped before payment).
 */
export type TransitionRejectionReason =
  | 'ALREADY_APPLIED'
  | 'ORDER_NOT_FOUND'
  | 'TERMINAL_STATE'
  | 'BACKWARDS'
  | 'SKIPS_STATE';

export interface InvalidTransition {
  readonly kind: 'INVALID_TRANSITION';
  readonly reason: TransitionRejectionReason;
  readonly from: OrderState | undefined;
  readonly eventType: OrderEventType;
  readonly allowedFrom: readonly (OrderState | undefined)[];
  readonly message: string;
}

export type TransitionResult =
  | { readonly ok: true; readonly state: OrderState }
  | { readonly ok: false; readonly rejection: InvalidTransition };

export function isTerminal(state: OrderState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function nextState(
  current: OrderState | undefined,
  eventType: OrderEventType,
): TransitionResult {
  const { from, to } = TRANSITIONS[eventType];
  if (from.includes(current)) return { ok: true, state: to };
  const reason = rejectionReason(current, to);
  const allowed = from.map(describe).join(' or ');
  return {
    ok: false,
    rejection: {
      kind: 'INVALID_TRANSITION',
      reason,
      from: current,
      eventType,
      allowedFrom: from,
      message: `${eventType} cannot apply to an order in state ${describe(current)} (${reason}); allowed from ${allowed}`,
    },
  };
}

function rejectionReason(
  current: OrderState | undefined,
  target: OrderState,
): TransitionRejectionReason {
  if (current === target) return 'ALREADY_APPLIED';
  if (current === undefined) return 'ORDER_NOT_FOUND';
  if (isTerminal(current)) return 'TERMINAL_STATE';
  return RANK[target] <= RANK[current] ? 'BACKWARDS' : 'SKIPS_STATE';
}

function describe(state: OrderState | undefined): string {
  return state ?? 'NONE (no order yet)';
}
