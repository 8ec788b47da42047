// Runs a workload plan against the local pipeline and accounts for every event it produced
// from the ground truth in PostgreSQL (processed_events, dead_letters, outbox), not from the
// components' own counters: an event is processed, parked, or lost.
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { OrderApi } from '../../lambdas/order-api/http';
import { ERROR_TYPES, type ErrorType } from '../../lambdas/shared/errors/taxonomy';
import { outboxHeaders } from '../../lambdas/shared/outbox/outbox';
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

export interface Position {
  readonly partition: number;
  readonly offset: string;
}

/** One event the workload produced, and what must become of it. */
export interface ProducedItem {
  readonly source: 'api' | 'injected';
  readonly label: Step | InjectionKind;
  readonly expected: Expected;
  readonly eventId?: string;
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
  inject(kind: InjectionKind): Promise<Position & { eventId?: string }>;
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
          return { ...(await send(aggregateId, JSON.stringify(value))), eventId };
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
  /** Produced events recorded in processed_events (applied once). */
  readonly processed: number;
  /** Produced events in dead_letters, by error type. */
  readonly parkedByType: Partial<Record<ErrorType, number>>;
  readonly parked: number;
  /** Neither processed nor parked. */
  readonly lost: number;
  /** Accounted for, but not as planned (e.g. a good event parked). */
  readonly unexpected: number;
  /** Up to five unexpected or lost events, with their position, to look up in the handler log. */
  readonly unexpectedExamples: readonly string[];
}

export async function account(
  db: Pick<Pool, 'query'>,
  topic: string,
  items: readonly ProducedItem[],
  /**
   * Start of this run, by the database clock. Rows parked before it belong to earlier runs:
   * a wiped local broker hands out the same offsets again, so a position alone can match them.
   */
  parkedSince: Date,
): Promise<Accounting> {
  const eventIds = items.flatMap((i) => (i.eventId ? [i.eventId] : []));
  const apiIds = items.flatMap((i) => (i.source === 'api' && i.eventId ? [i.eventId] : []));
  const positioned = items.filter((i) => i.position !== undefined);
  const [processedRows, parkedRows, publishedRows] = await Promise.all([
    db.query<{ event_id: string }>(
      'SELECT DISTINCT event_id FROM processed_events WHERE event_id = ANY($1::text[])',
      [eventIds],
    ),
    db.query<{ event_id: string | null; p: number; o: string; error_type: ErrorType }>(
      `SELECT event_id, source_partition AS p, source_offset::text AS o, error_type
         FROM dead_letters
        WHERE parked_at >= $5
          AND (event_id = ANY($1::text[])
           OR (source_topic = $2 AND (source_partition, source_offset) IN (
                SELECT * FROM unnest($3::int[], $4::bigint[]))))`,
      [
        eventIds,
        topic,
        positioned.map((i) => i.position?.partition),
        positioned.map((i) => i.position?.offset),
        parkedSince,
      ],
    ),
    db.query<{ n: string }>(
      'SELECT count(*) AS n FROM outbox WHERE id = ANY($1::uuid[]) AND published_at IS NOT NULL',
      [apiIds],
    ),
  ]);
  const processed = new Set(processedRows.rows.map((r) => r.event_id));
  const parkedById = new Map<string, ErrorType>();
  const parkedAt = new Map<string, ErrorType>();
  for (const row of parkedRows.rows) {
    if (row.event_id) parkedById.set(row.event_id, row.error_type);
    parkedAt.set(`${row.p}:${row.o}`, row.error_type);
  }
  let processedCount = 0;
  let parked = 0;
  let lost = 0;
  let unexpected = 0;
  const unexpectedExamples: string[] = [];
  const example = (item: ProducedItem, got: string) => {
    if (unexpectedExamples.length >= 5) return;
    const at = item.position ? ` at ${item.position.partition}:${item.position.offset}` : '';
    unexpectedExamples.push(
      `${item.label} ${item.eventId ?? '(no id)'}${at} expected ${item.expected}, got ${got}`,
    );
  };
  const note = (item: ProducedItem, got: string) => {
    unexpected++;
    example(item, got);
  };
  const parkedByType: Partial<Record<ErrorType, number>> = {};
  for (const item of items) {
    const parkedAs =
      (item.position && parkedAt.get(`${item.position.partition}:${item.position.offset}`)) ??
      (item.eventId ? parkedById.get(item.eventId) : undefined);
    if (item.eventId && processed.has(item.eventId)) {
      processedCount++;
      if (item.expected !== 'processed') note(item, 'processed');
    } else if (parkedAs !== undefined) {
      parked++;
      parkedByType[parkedAs] = (parkedByType[parkedAs] ?? 0) + 1;
      if (item.expected !== parkedAs) note(item, `parked ${parkedAs}`);
    } else {
      lost++;
      example(item, 'nothing (lost)');
    }
  }
  return {
    produced: items.length,
    published: Number(publishedRows.rows[0]?.n ?? 0),
    processed: processedCount,
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
