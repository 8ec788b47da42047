// Runs a workload plan against the local pipeline and accounts for every event it produced
// with the shared ground-truth accounting (PostgreSQL, not the components' own counters): an
// event is processed, parked, or lost.
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { OrderApi } from '../../lambdas/order-api/http';
import { ERROR_TYPES, type ErrorType } from '../../lambdas/shared/errors/taxonomy';
import type { OrderState } from '../../lambdas/shared/events/state-machine';
import { outboxHeaders } from '../../lambdas/shared/outbox/outbox';
import {
  type ExpectedOrder,
  extraRows,
  extraTransitions,
  type Position,
  readGroundTruth,
  whereStuck,
  wrongState,
} from '../verification/ground-truth';
import { httpEvent, lambdaContext } from './http-event';
import {
  type Expected,
  expectedOutcomes,
  INJECTION_EXPECTED,
  type InjectionKind,
  type Job,
  ORDER_STEPS,
  type Step,
  type WorkloadPlan,
} from './workload';

/** One event the workload produced, and what must become of it. */
export interface ProducedItem {
  readonly source: 'api' | 'injected';
  readonly label: Step | InjectionKind;
  readonly expected: Expected;
  readonly eventId?: string;
  /** The order it is about (an injected record: the one its value names, if readable). */
  readonly aggregateId?: string;
  /** Where an injected record landed on the topic. */
  readonly position?: Position;
}

export class Ledger {
  readonly items: ProducedItem[] = [];
  /** API requests that did not answer 202 (none expected: the workload sends valid commands). */
  apiRejected = 0;
  /** Accepted PaymentCaptured events: originals an idempotency-conflict record can reuse. */
  readonly payments: string[] = [];
  /** Event ids that must end applied once (the redelivery simulation copies only these). */
  readonly good = new Set<string>();

  get produced(): number {
    return this.items.length;
  }
}

// ------------------------------------------------------------------------------------------
// the order API, called as API Gateway would call the handler

const sampleOrder = (orderId: string, n: number) => {
  const quantity = 1 + (n % 3);
  const unitPriceMinor = 1_000 + (n % 7) * 250;
  return {
    orderId,
    customerId: `cust-${n % 500}`,
    items: [{ sku: `sku-${n % 40}`, quantity, unitPriceMinor }],
    totalMinor: quantity * unitPriceMinor,
    currency: 'EUR',
  };
};

function stepRequest(step: Step, orderId: string, n: number) {
  switch (step) {
    case 'place':
      return { path: '/orders', body: sampleOrder(orderId, n) };
    case 'pay':
      return {
        path: `/orders/${orderId}/events`,
        body: {
          eventType: 'PaymentCaptured',
          data: {
            paymentId: `pay-${n}`,
            amountMinor: sampleOrder(orderId, n).totalMinor,
            currency: 'EUR',
          },
        },
      };
    case 'ship':
      return {
        path: `/orders/${orderId}/events`,
        body: {
          eventType: 'OrderShipped',
          data: { carrier: 'local-post', trackingNumber: `trk-${n}` },
        },
      };
    case 'cancel':
      return {
        path: `/orders/${orderId}/events`,
        body: { eventType: 'OrderCancelled', data: { reason: 'customer changed their mind' } },
      };
  }
}

// ------------------------------------------------------------------------------------------
// the misbehaving producer

export interface Injector {
  inject(kind: InjectionKind): Promise<Position & { eventId?: string; aggregateId?: string }>;
}

/** Writes bad records straight to the topic, past the API's validation. */
export function topicInjector(options: {
  readonly producer: Pick<Producer, 'send'>;
  readonly topic: string;
  readonly db: Pick<Pool, 'query'>;
  readonly ledger: Ledger;
  /** Resolves once the event is in processed_events (the conflict needs its original applied). */
  readonly waitProcessed: (eventId: string) => Promise<boolean>;
}): Injector {
  const send = async (key: string, value: string, headers: Record<string, string> = {}) => {
    const [meta] = await options.producer.send({
      topic: options.topic,
      acks: -1,
      messages: [{ key, value, headers }],
    });
    if (meta === undefined) throw new Error('the broker acknowledged nothing');
    return { partition: meta.partition, offset: meta.baseOffset ?? meta.offset ?? '-1' };
  };
  return {
    async inject(kind) {
      const aggregateId = `rogue-${randomUUID()}`;
      switch (kind) {
        case 'not-json':
          return send(aggregateId, '{"eventType":"OrderPlaced","data":{"orderId":');
        case 'bad-envelope': {
          const eventId = randomUUID();
          // No schemaVersion, timestamp or correlationId: not a readable envelope.
          return {
            ...(await send(
              aggregateId,
              JSON.stringify({ eventId, eventType: 'OrderPlaced', aggregateId }),
            )),
            eventId,
            aggregateId,
          };
        }
        case 'unknown-event-type': {
          const eventId = randomUUID();
          const value = {
            schemaVersion: '1.0.0',
            eventId,
            eventType: 'OrderRefunded',
            aggregateId,
            timestamp: new Date().toISOString(),
            correlationId: eventId,
            data: { orderId: aggregateId },
          };
          return { ...(await send(aggregateId, JSON.stringify(value))), eventId, aggregateId };
        }
        case 'idempotency-conflict': {
          // Same aggregate, type and timestamp as an applied payment (so the same key), other data.
          const original = options.ledger.payments.shift();
          if (original === undefined || !(await options.waitProcessed(original))) {
            throw new Error('no applied PaymentCaptured to build an idempotency conflict from');
          }
          const { rows } = await options.db.query<{
            payload: Record<string, unknown> & { data: Record<string, unknown> };
          }>('SELECT payload FROM outbox WHERE id = $1', [original]);
          const envelope = rows[0]?.payload;
          if (envelope === undefined) throw new Error(`outbox row ${original} is gone`);
          const eventId = randomUUID();
          const conflicting = {
            ...envelope,
            eventId,
            data: { ...envelope.data, amountMinor: Number(envelope.data.amountMinor) + 1 },
          };
          const headers = outboxHeaders(
            conflicting as unknown as Parameters<typeof outboxHeaders>[0],
          );
          return {
            ...(await send(String(envelope.aggregateId), JSON.stringify(conflicting), headers)),
            eventId,
            aggregateId: String(envelope.aggregateId),
          };
        }
      }
    },
  };
}

// ------------------------------------------------------------------------------------------
// driving the plan

export interface DriveOptions {
  readonly plan: WorkloadPlan;
  readonly api: OrderApi;
  readonly injector: Injector;
  readonly ledger: Ledger;
  /** Resolves when the next event may be sent (the --rate pacing). */
  readonly pace: () => Promise<void>;
  /** Orders in flight at once; each order's own events are sent one after the other. */
  readonly concurrency: number;
}

async function runJob(job: Job, n: number, options: DriveOptions): Promise<void> {
  const { ledger } = options;
  if (job.kind === 'inject') {
    await options.pace();
    const landed = await options.injector.inject(job.injection);
    ledger.items.push({
      source: 'injected',
      label: job.injection,
      expected: INJECTION_EXPECTED[job.injection],
      position: { partition: landed.partition, offset: landed.offset },
      ...(landed.eventId ? { eventId: landed.eventId } : {}),
      ...(landed.aggregateId ? { aggregateId: landed.aggregateId } : {}),
    });
    return;
  }
  const orderId = `order-${randomUUID()}`;
  const steps = ORDER_STEPS[job.order];
  const expected = expectedOutcomes(job.order);
  for (const [i, step] of steps.entries()) {
    await options.pace();
    const request = stepRequest(step, orderId, n);
    const res = await options.api(
      httpEvent({ method: 'POST', path: request.path, body: request.body }),
      lambdaContext,
    );
    if (res.statusCode !== 202) {
      ledger.apiRejected++;
      return; // the rest of this order would be refused too
    }
    const body = JSON.parse(res.body ?? '{}') as { eventId?: unknown };
    if (typeof body.eventId !== 'string') throw new Error('202 without an eventId');
    ledger.items.push({
      source: 'api',
      label: step,
      expected: expected[i] as Expected,
      eventId: body.eventId,
      aggregateId: orderId,
    });
    if (expected[i] === 'processed') ledger.good.add(body.eventId);
    if (step === 'pay' && job.order !== 'skips-payment') ledger.payments.push(body.eventId);
  }
}

/** Runs every job; jobs start in plan order, `concurrency` at a time. */
export async function driveWorkload(options: DriveOptions): Promise<void> {
  const jobs = options.plan.jobs;
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const n = next++;
      await runJob(jobs[n] as Job, n, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
}

// ------------------------------------------------------------------------------------------
// accounting from the ground truth

export interface Accounting {
  readonly produced: number;
  /** API events whose outbox row the relay marked published. */
  readonly published: number;
  /** Produced events recorded in processed_events (applied). */
  readonly processed: number;
  /** Produced events in dead_letters, by error type. */
  readonly parkedByType: Partial<Record<ErrorType, number>>;
  readonly parked: number;
  /** Neither processed nor parked (set aside or pending in the outbox included). */
  readonly lost: number;
  /**
   * Accounted for, but not as planned: an event processed or parked against its plan, applied
   * twice (an extra processed_events row or order transition), an order in another state than
   * its events lead to, or an order no event should have created.
   */
  readonly unexpected: number;
  /** Up to five unexpected or lost events, with their position, to look up in the handler log. */
  readonly unexpectedExamples: readonly string[];
}

const STATE_AFTER: Readonly<Record<Step, OrderState>> = {
  place: 'CREATED',
  pay: 'PAYMENT_CAPTURED',
  ship: 'SHIPPED',
  cancel: 'CANCELLED',
};

/** Each order's plan from its accepted API events (ledger order is each order's step order). */
function plannedOrders(items: readonly ProducedItem[]): ExpectedOrder[] {
  const plans = new Map<string, ExpectedOrder>();
  for (const item of items) {
    if (item.source !== 'api' || item.aggregateId === undefined) continue;
    if (item.expected !== 'processed') continue;
    const events = (plans.get(item.aggregateId)?.events ?? 0) + 1;
    const finalState = STATE_AFTER[item.label as Step];
    plans.set(item.aggregateId, { orderId: item.aggregateId, finalState, events });
  }
  return [...plans.values()];
}

export async function account(
  db: Pick<Pool, 'connect'>,
  topic: string,
  items: readonly ProducedItem[],
  /**
   * Start of this run, by the database clock. Rows parked before it belong to earlier runs:
   * a wiped local broker hands out the same offsets again, so a position alone can match them.
   */
  parkedSince: Date,
): Promise<Accounting> {
  const truth = await readGroundTruth(
    items.map((i) => ({
      label: i.label,
      expected: i.expected === 'processed' ? 'apply' : i.expected,
      ...(i.eventId ? { id: i.eventId } : {}),
      ...(i.aggregateId ? { aggregateId: i.aggregateId } : {}),
      ...(i.position ? { position: i.position } : {}),
    })),
    plannedOrders(items),
    { pool: db, topic, since: parkedSince },
  );
  let processed = 0;
  let parked = 0;
  let lost = 0;
  let unexpected = 0;
  const unexpectedExamples: string[] = [];
  const example = (text: string) => {
    if (unexpectedExamples.length < 5) unexpectedExamples.push(text);
  };
  const describe = (item: ProducedItem, got: string) => {
    const at = item.position ? ` at ${item.position.partition}:${item.position.offset}` : '';
    return `${item.label} ${item.eventId ?? '(no id)'}${at} expected ${item.expected}, got ${got}`;
  };
  const note = (text: string, n = 1) => {
    unexpected += n;
    example(text);
  };
  const parkedByType: Partial<Record<ErrorType, number>> = {};
  for (const [i, t] of truth.events.entries()) {
    const item = items[i] as ProducedItem;
    if (t.outcome === 'processed') {
      processed++;
      if (item.expected !== 'processed') note(describe(item, 'processed'));
      if (extraRows(t) > 0) {
        note(describe(item, `${t.appliedRows} processed_events rows`), extraRows(t));
      }
    } else if (t.outcome === 'parked' && t.parkedAs !== undefined) {
      parked++;
      const type = t.parkedAs as ErrorType;
      parkedByType[type] = (parkedByType[type] ?? 0) + 1;
      if (item.expected !== type) note(describe(item, `parked ${type}`));
    } else {
      lost++;
      const stuck = whereStuck(t);
      example(describe(item, `nothing (lost${stuck ? `: ${stuck}` : ''})`));
    }
  }
  for (const order of truth.orders) {
    const plan = order.planned;
    // One note for an order no event planned (its version counts transitions nothing applied).
    if (plan === undefined) {
      note(`order ${order.id} (${order.status}): no event planned it`);
      continue;
    }
    const extra = extraTransitions(order);
    if (extra > 0) {
      note(
        `order ${order.id}: version ${order.version} after ${order.applied} distinct applied events`,
        extra,
      );
    }
    if (wrongState(order)) {
      note(
        `order ${order.id}: ${order.status} v${order.version}, planned ${plan.finalState} v${plan.events}`,
      );
    }
  }
  return {
    produced: items.length,
    published: truth.events.filter((t) => t.outbox === 'published').length,
    processed,
    parked,
    parkedByType: Object.fromEntries(
      ERROR_TYPES.filter((t) => parkedByType[t] !== undefined).map((t) => [t, parkedByType[t]]),
    ),
    lost,
    unexpected,
    unexpectedExamples,
  };
}

/**
 * Polls the accounting until every produced event is accounted for, or nothing has changed
 * for `stallMs` (then what is left is lost). Redrives wait seconds to a minute, so the stall
 * window must outlast the triage delays.
 */
export async function drain(
  check: () => Promise<Accounting>,
  options: {
    readonly stallMs: number;
    readonly intervalMs?: number;
    readonly onTick?: (a: Accounting) => void;
  },
): Promise<Accounting> {
  let last = await check();
  let lastChange = Date.now();
  while (last.lost > 0 && Date.now() - lastChange < options.stallMs) {
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
    const current = await check();
    options.onTick?.(current);
    if (current.lost !== last.lost || current.published !== last.published) lastChange = Date.now();
    last = current;
  }
  return last;
}
