// The demo workload of `npm start`: orders moving through the state machine, written through
// the order API handler, plus a share of bad events. A plan is pure (seeded), so tests can
// check that its counts add up; the driver paces it at a fixed rate.
import type { ErrorType } from '../../lambdas/shared/errors/taxonomy';

export type Step = 'place' | 'pay' | 'ship' | 'cancel';

/** How an order's life goes; `skips-payment` ships an unpaid order (a business-rule break). */
export type OrderKind =
  | 'shipped'
  | 'cancelled'
  | 'cancelled-after-payment'
  | 'placed'
  | 'skips-payment';

export const ORDER_STEPS: Readonly<Record<OrderKind, readonly Step[]>> = {
  shipped: ['place', 'pay', 'ship'],
  cancelled: ['place', 'cancel'],
  'cancelled-after-payment': ['place', 'pay', 'cancel'],
  placed: ['place'],
  'skips-payment': ['place', 'ship'],
};

/** Bad records a misbehaving producer writes straight to the topic, past the API's checks. */
export type InjectionKind =
  | 'not-json'
  | 'bad-envelope'
  | 'unknown-event-type'
  | 'idempotency-conflict';

export const INJECTION_KINDS: readonly InjectionKind[] = [
  'not-json',
  'bad-envelope',
  'unknown-event-type',
  'idempotency-conflict',
];

/** What must become of a produced event: applied once, or parked with this error type. */
export type Expected = 'processed' | ErrorType;

export const INJECTION_EXPECTED: Readonly<Record<InjectionKind, ErrorType>> = {
  'not-json': 'SCHEMA_VIOLATION',
  'bad-envelope': 'SCHEMA_VIOLATION',
  'unknown-event-type': 'SCHEMA_VIOLATION',
  'idempotency-conflict': 'IDEMPOTENCY_CONFLICT',
};

/** The expected outcome of each step of an order of this kind. */
export function expectedOutcomes(kind: OrderKind): Expected[] {
  return ORDER_STEPS[kind].map((step) =>
    kind === 'skips-payment' && step === 'ship' ? 'INVALID_TRANSITION' : 'processed',
  );
}

export interface WorkloadMix {
  /** Share of events that are injected bad records. */
  readonly injectedShare: number;
  /** Share of events in orders that break the state machine (one bad event per such order). */
  readonly invalidTransitionShare: number;
  /** Among the remaining orders: shipped, cancelled, cancelled after payment. */
  readonly lifecycle: readonly [number, number, number];
}

export const DEFAULT_MIX: WorkloadMix = {
  injectedShare: 0.02,
  invalidTransitionShare: 0.02,
  lifecycle: [0.7, 0.15, 0.15],
};

export type Job =
  | { readonly kind: 'order'; readonly order: OrderKind }
  | { readonly kind: 'inject'; readonly injection: InjectionKind };

export interface WorkloadPlan {
  /** In the order they start; `idempotency-conflict` injections come last (they need a processed original). */
  readonly jobs: readonly Job[];
  /** Events the plan produces: every order step and every injection. */
  readonly events: number;
}

/** Events a job produces. */
export function jobEvents(job: Job): number {
  return job.kind === 'inject' ? 1 : ORDER_STEPS[job.order].length;
}

/** A small seeded generator (mulberry32): the same seed gives the same plan. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Exactly `events` events: injections and state-machine breaks at their shares, then orders. */
export function planWorkload(
  events: number,
  random: () => number,
  mix: WorkloadMix = DEFAULT_MIX,
): WorkloadPlan {
  if (!Number.isInteger(events) || events < 0) {
    throw new RangeError(`events must be a non-negative integer, got ${events}`);
  }
  const injections = Math.floor(events * mix.injectedShare);
  const invalidOrders = Math.floor((events * mix.invalidTransitionShare) / 2);
  const jobs: Job[] = [];
  const conflicts: Job[] = [];
  for (let i = 0; i < injections; i++) {
    const injection = INJECTION_KINDS[i % INJECTION_KINDS.length] as InjectionKind;
    // A conflict reuses the key of a PaymentCaptured; without one there is nothing to conflict.
    if (injection === 'idempotency-conflict') conflicts.push({ kind: 'inject', injection });
    else jobs.push({ kind: 'inject', injection });
  }
  for (let i = 0; i < invalidOrders; i++) jobs.push({ kind: 'order', order: 'skips-payment' });

  let remaining = events - injections - invalidOrders * 2;
  const [shipped, cancelled] = mix.lifecycle;
  while (remaining > 0) {
    const r = random();
    let order: OrderKind =
      r < shipped ? 'shipped' : r < shipped + cancelled ? 'cancelled' : 'cancelled-after-payment';
    // The last order fits the budget exactly.
    if (ORDER_STEPS[order].length > remaining) order = remaining === 1 ? 'placed' : 'cancelled';
    jobs.push({ kind: 'order', order });
    remaining -= ORDER_STEPS[order].length;
  }
  // Fisher–Yates, so bad events are spread through the run rather than bunched.
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [jobs[i], jobs[j]] = [jobs[j] as Job, jobs[i] as Job];
  }
  return { jobs: [...jobs, ...conflicts], events };
}

/** Paces calls at `rate` per second from the first call on; 0 or Infinity means unpaced. */
export function pacer(
  rate: number,
  now: () => number = Date.now,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): () => Promise<void> {
  let started: number | undefined;
  let issued = 0;
  return async () => {
    if (!(rate > 0 && Number.isFinite(rate))) return;
    started ??= now();
    const due = started + (issued++ * 1000) / rate;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
  };
}

/** Nearest-rank percentile of `values` (need not be sorted); undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}
