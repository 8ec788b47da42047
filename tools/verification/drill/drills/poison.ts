// Poison messages: one of each kind of bad record a producer can put on the topic, injected
// while the whole local pipeline (relay, consumer, triage) runs. Each must be dead-lettered
// with its error type, and triage must park it with that type; nothing may block a partition.
import { randomUUID } from 'node:crypto';
import type { ErrorType } from '../../../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../../../lambdas/shared/events/envelope';
import type { ExpectedOrder } from '../../ground-truth';
import { baseChecks } from '../accounting';
import { createHarness } from '../harness';
import { type InjectedRecord, injectRecords } from '../inject';
import { type DrillInput, inputsOf, type OrderPlan, orderEvent, writeOutbox } from '../inputs';
import { waitUntil } from '../services/lifecycle';
import { type Drill, type DrillContext, type DrillResult, drillResult } from '../types';

interface Poison {
  readonly label: string;
  readonly expected: ErrorType;
  readonly key: string | null;
  readonly value: Buffer | string | null;
  /** For readable order events: lets the accounting see whether it was applied. */
  readonly event?: { readonly eventId: string; readonly aggregateId: string };
}

const json = (value: unknown) => JSON.stringify(value);

/** An envelope object with one field changed (or removed when `undefined`). */
function mutate(event: OrderEvent, changes: Record<string, unknown>): string {
  const copy: Record<string, unknown> = { ...event };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete copy[k];
    else copy[k] = v;
  }
  return json(copy);
}

/**
 * The catalog: `createdId` is an order in CREATED, `cancelledId` one in CANCELLED, and
 * `original` an applied event whose key a conflicting payload reuses.
 */
export function poisonCatalog(
  createdId: string,
  cancelledId: string,
  original: OrderEvent,
): Poison[] {
  const ghost = `poison-ghost-${randomUUID().slice(0, 8)}`;
  const fresh = orderEvent(`poison-fresh-${randomUUID().slice(0, 8)}`, 'OrderPlaced', new Date());
  const readable = (label: string, expected: ErrorType, event: OrderEvent): Poison => ({
    label,
    expected,
    key: event.aggregateId,
    value: json(event),
    event: { eventId: event.eventId, aggregateId: event.aggregateId },
  });
  const nul = orderEvent(`poison-nul-${randomUUID().slice(0, 8)}`, 'OrderPlaced', new Date());
  const conflict: OrderEvent = {
    ...original,
    eventId: randomUUID(),
    data: { ...(original.data as Record<string, unknown>), totalMinor: 9_999 },
  } as OrderEvent;
  return [
    { label: 'not-json', expected: 'SCHEMA_VIOLATION', key: ghost, value: 'this is {not json' },
    {
      label: 'invalid-utf8',
      expected: 'SCHEMA_VIOLATION',
      key: ghost,
      value: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]),
    },
    { label: 'empty-value', expected: 'SCHEMA_VIOLATION', key: ghost, value: '' },
    { label: 'tombstone', expected: 'SCHEMA_VIOLATION', key: ghost, value: null },
    { label: 'json-array', expected: 'SCHEMA_VIOLATION', key: ghost, value: '[1,2,3]' },
    {
      label: 'missing-field',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { correlationId: undefined }),
    },
    {
      label: 'wrong-field-type',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { aggregateId: 42 }),
    },
    {
      label: 'non-utc-timestamp',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { timestamp: '2026-03-01 10:00:00+02:00' }),
    },
    {
      label: 'unknown-event-type',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { eventType: 'OrderRefunded' }),
    },
    {
      label: 'unknown-major-version',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { schemaVersion: '2.0.0' }),
    },
    {
      label: 'payload-schema',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { data: { ...fresh.data, items: [] } }),
    },
    {
      label: 'payload-names-other-order',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { data: { ...fresh.data, orderId: ghost } }),
    },
    readable(
      'skips-a-state',
      'INVALID_TRANSITION',
      orderEvent(createdId, 'OrderShipped', new Date()),
    ),
    readable(
      'after-terminal-state',
      'INVALID_TRANSITION',
      orderEvent(cancelledId, 'PaymentCaptured', new Date()),
    ),
    readable(
      'order-not-found',
      'INVALID_TRANSITION',
      orderEvent(ghost, 'PaymentCaptured', new Date()),
    ),
    readable('same-key-other-payload', 'IDEMPOTENCY_CONFLICT', conflict),
    // PostgreSQL text cannot hold NUL: valid JSON and schema, fails in the database (SQLSTATE
    // 22021) inside a group commit; only this record may be dead-lettered, not its neighbours.
    // Invalid and large, yet under the broker's 1 MB limit: its dead letter carries the bytes
    // twice (base64 and parsed JSON), about 1.4 MB; it must still be dead-lettered typed.
    {
      label: 'oversized-invalid-600KB',
      expected: 'SCHEMA_VIOLATION',
      key: fresh.aggregateId,
      value: mutate(fresh, { eventType: 'OrderCancelled', data: { reason: 'x'.repeat(600_000) } }),
    },
    readable('nul-in-text-column', 'PROCESSING_FAILURE', {
      ...nul,
      data: { ...nul.data, customerId: 'cust\u0000omer' },
    } as OrderEvent),
  ];
}

export const poisonDrill: Drill = {
  id: 'poison',
  title: 'Poison messages injected',
  proves:
    'every kind of bad record is dead-lettered at once with its error type and parked by triage with it, while good events around it apply',
  async run(ctx: DrillContext): Promise<DrillResult> {
    const started = Date.now();
    const h = await createHarness(ctx.config, 'poison', ctx.shared, { viaOutbox: true });
    try {
      const pipeline = await h.startPipeline();
      let drained = false;
      let inputs: DrillInput[] = [];
      let orders: ExpectedOrder[] = [];
      try {
        // Orders the poison refers to, through the outbox like any good event.
        const t = Date.now();
        const id = (s: string) => `poison-${s}-${randomUUID().slice(0, 8)}`;
        const [createdId, cancelledId, conflictId] = [
          id('created'),
          id('cancelled'),
          id('conflict'),
        ];
        const phase1 = {
          created: [orderEvent(createdId, 'OrderPlaced', new Date(t))],
          cancelled: [
            orderEvent(cancelledId, 'OrderPlaced', new Date(t + 1)),
            orderEvent(cancelledId, 'OrderCancelled', new Date(t + 2)),
          ],
          conflict: [orderEvent(conflictId, 'OrderPlaced', new Date(t + 3))],
        };
        // After the poison, on the same key (so the same partition): must still apply.
        const phase3 = [
          orderEvent(createdId, 'PaymentCaptured', new Date(t + 4)),
          orderEvent(createdId, 'OrderShipped', new Date(t + 5)),
        ];
        const plans: OrderPlan[] = [
          {
            orderId: createdId,
            events: [...phase1.created, ...phase3],
            finalState: 'SHIPPED',
          },
          { orderId: cancelledId, events: phase1.cancelled, finalState: 'CANCELLED' },
          { orderId: conflictId, events: phase1.conflict, finalState: 'CREATED' },
        ];
        const first = [...phase1.created, ...phase1.cancelled, ...phase1.conflict];
        await writeOutbox(h.db.pool, first, { perTransaction: 1 });
        const ready = await waitUntil(async () => {
          const { rows } = await h.db.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM processed_events',
          );
          return (rows[0]?.n ?? 0) >= first.length;
        }, 60_000);
        if (!ready) throw new Error('the good events the poison refers to were not applied');

        const poison = poisonCatalog(createdId, cancelledId, phase1.conflict[0] as OrderEvent);
        const records: InjectedRecord[] = poison.map((p) => ({
          id: `poison-${p.label}-${randomUUID().slice(0, 8)}`,
          key: p.key,
          value: p.value,
        }));
        await injectRecords(h.endpoints.kafkaEnv, h.topics.topics.orderEvents, records);
        await writeOutbox(h.db.pool, phase3, { perTransaction: 1 });

        inputs = [
          ...inputsOf(plans),
          ...poison.map((p, i) => ({
            id: (records[i] as InjectedRecord).id,
            label: p.label,
            expected: p.expected,
            ...(p.event ?? {}),
          })),
        ];
        orders = plans.map((p) => ({
          orderId: p.orderId,
          finalState: p.finalState,
          events: p.events.length,
        }));
        const bad = inputs.filter((i) => i.expected !== 'apply').length;
        drained = await h.waitForDrain(ctx.quick ? 45_000 : 120_000, {
          until: async () => {
            const { rows } = await h.db.pool.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM dead_letters',
            );
            return (rows[0]?.n ?? 0) >= bad;
          },
        });
      } finally {
        await pipeline.stop();
      }
      const accounting = await h.account(inputs, orders);
      const checks = [
        ...baseChecks(accounting),
        h.crashCheck(),
        { name: 'pipeline drained', ok: drained },
        {
          name: 'every bad input parked by triage with its type',
          ok: accounting.parkedMisfiled.length === 0,
        },
      ];
      return drillResult(
        this,
        { startedAt: started, logPath: h.logPath },
        {
          accounting,
          checks,
          details: {
            'poison kinds': inputs.filter((i) => i.expected !== 'apply').length,
            'good events': inputs.filter((i) => i.expected === 'apply').length,
            'most dead-letter records for one input': accounting.maxDeadLetterCopies,
          },
        },
      );
    } finally {
      await h.close();
    }
  },
};
