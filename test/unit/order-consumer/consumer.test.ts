import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ApplyOutcome, planBatch } from '../../../lambdas/order-consumer/apply-batch';
import {
  type AttemptTracker,
  type ConsumerDeps,
  type ConsumerOptions,
  consumeBatch,
  consumePartition,
  type EventTracing,
  type GateResult,
  type IdempotencyGate,
} from '../../../lambdas/order-consumer/consumer';
import {
  idempotencyKey,
  type PayloadFields,
} from '../../../lambdas/order-consumer/idempotency-key';
import type { DeadLetterMessage } from '../../../lambdas/shared/dead-letter/message';
import { CircuitOpenError, type ErrorType } from '../../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../../lambdas/shared/events/envelope';
import type { OrderState } from '../../../lambdas/shared/events/state-machine';
import {
  batchItemIdentifier,
  type KafkaRecord,
  type MskEventLike,
  type MskRecordLike,
} from '../../../lambdas/shared/kafka/msk-event';
import { lifecycle, orderEvent } from '../../../tools/fixtures/order-events';

// --- MSK-shaped input ----------------------------------------------------------------------

const TOPIC = 'order-events';
/** The events' base time is 12:00:00; "now" is ten seconds later. */
const NOW = Date.parse('2026-03-01T12:00:10.000Z');

type Value = OrderEvent | { readonly raw: string | Buffer | null };

function rec(partition: number, offset: number, value: Value): MskRecordLike {
  const bytes =
    'raw' in value
      ? value.raw === null
        ? null
        : Buffer.from(value.raw)
      : Buffer.from(JSON.stringify(value), 'utf8');
  const key = 'raw' in value ? 'raw-key' : value.aggregateId;
  return {
    topic: TOPIC,
    partition,
    offset,
    timestamp: NOW - 1_000,
    key: Buffer.from(key).toString('base64'),
    value: bytes === null ? null : bytes.toString('base64'),
    headers: [{ traceparent: [...Buffer.from('00-trace-01')] }],
  };
}

function msk(...records: MskRecordLike[]): MskEventLike {
  const out: Record<string, MskRecordLike[]> = {};
  for (const r of records) {
    const group = `${r.topic}-${r.partition}`;
    out[group] = [...(out[group] ?? []), r];
  }
  return { records: out };
}

/** A partition of events at consecutive offsets from `first`. */
function partition(p: number, first: number, values: readonly Value[]): MskRecordLike[] {
  return values.map((v, i) => rec(p, first + i, v));
}

const id = (offset: number, p = 0) => ({ partition: `${TOPIC}-${p}`, offset });
/** FakeAttempts' key for a record position. */
const attemptKey = (offset: number, p = 0) => `${TOPIC}-${p}@${offset}`;

// --- fakes ---------------------------------------------------------------------------------

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name }, extra);
}
const connReset = () => named('Error', 'read ECONNRESET', { code: 'ECONNRESET' });

/**
 * The Redis fast path, in memory: key → stored result and payload. A miss runs `work` and
 * stores its result unless it throws (as Powertools deletes the record of a failed call).
 */
class FakeGate implements IdempotencyGate {
  readonly stored = new Map<string, { readonly payload: string; readonly result: GateResult }>();
  readonly keys: string[] = [];
  readonly inProgress = new Set<string>();
  /** Thrown instead of looking the key up, when it returns something. */
  failBefore: (key: string) => unknown = () => undefined;

  async run(key: string, payload: PayloadFields, work: () => Promise<GateResult>) {
    this.keys.push(key);
    const scripted = this.failBefore(key);
    if (scripted !== undefined) throw scripted;
    // As Powertools: a second call while the first one's work runs fails as in progress.
    if (this.inProgress.has(key)) {
      throw named('IdempotencyAlreadyInProgressError', `key ${key} is in progress`);
    }
    const hit = this.stored.get(key);
    // What the real gate hashes: type and data, not the delivery (eventId).
    const hash = JSON.stringify([payload.eventType, payload.data]);
    if (hit !== undefined) {
      if (hit.payload !== hash) {
        throw named('IdempotencyValidationError', 'Payload does not match stored record');
      }
      return { result: hit.result, cached: true };
    }
    this.inProgress.add(key);
    try {
      const result = await work();
      this.stored.set(key, { payload: hash, result });
      return { result, cached: false };
    } finally {
      this.inProgress.delete(key);
    }
  }
}

/** PostgreSQL, in memory: the real pure planner over a state map and processed keys. */
class FakeDb {
  readonly states: Map<string, OrderState>;
  readonly processed = new Map<string, string | null>();
  /** Event ids of every apply call, one array per call. */
  readonly calls: string[][] = [];
  /** Event ids whose transition was applied, in commit order. */
  readonly applied: string[] = [];
  /** Thrown instead of committing, when it returns something. */
  failWith: (events: readonly OrderEvent[]) => unknown = () => undefined;

  constructor(states: Record<string, OrderState> = {}) {
    this.states = new Map(Object.entries(states));
  }

  readonly apply = async (events: OrderEvent[]): Promise<ApplyOutcome[]> => {
    this.calls.push(events.map((e) => e.eventId));
    const failure = this.failWith(events);
    if (failure !== undefined) throw failure;
    const plan = planBatch(events, this.states, this.processed);
    for (const o of plan.newOrders) this.states.set(o.id, o.status);
    for (const u of plan.stateUpdates) this.states.set(u.id, u.status);
    for (const p of plan.processed) this.processed.set(p.idempotencyKey, p.payloadHash);
    plan.outcomes.forEach((o, i) => {
      if (o.status === 'applied') this.applied.push((events[i] as OrderEvent).eventId);
    });
    return [...plan.outcomes];
  };
}

class FakeAttempts implements AttemptTracker {
  readonly counts = new Map<string, number>();
  readonly calls: string[] = [];
  unavailable = false;
  async increment(record: KafkaRecord) {
    const id = batchItemIdentifier(record);
    const item = `${id.partition}@${id.offset}`;
    this.calls.push(item);
    if (this.unavailable) return undefined;
    const n = (this.counts.get(item) ?? 0) + 1;
    this.counts.set(item, n);
    return n;
  }
}

class FakeDeadLetters {
  readonly sent: DeadLetterMessage[] = [];
  readonly calls: { messages: DeadLetterMessage[]; offsets: string[] }[] = [];
  failing = false;
  write = async (messages: readonly DeadLetterMessage[], records: readonly KafkaRecord[]) => {
    this.calls.push({ messages: [...messages], offsets: records.map((r) => r.offset) });
    if (this.failing) throw named('KafkaJSConnectionError', 'broker down');
    this.sent.push(...messages);
  };
  /** [offset, errorType] of every message written. */
  summary() {
    return this.sent.map((m) => [Number(m.source.offset), m.errorType] as const);
  }
}

class Harness {
  readonly db: FakeDb;
  readonly gate = new FakeGate();
  readonly attempts = new FakeAttempts();
  readonly dl = new FakeDeadLetters();
  readonly sleeps: number[] = [];
  readonly telemetry = {
    applied: [] as { eventId: string; ms: number }[],
    duplicates: 0,
    deadLettered: [] as ErrorType[],
    chunks: [] as [number, number][],
    bypassed: [] as string[],
  };
  readonly logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn() };
  /** The database check behind a connection error; absent: only an open breaker is an outage. */
  probe: (() => Promise<void>) | undefined;
  /** Lambda time left at the start of the invocation; every sleep spends it. */
  timeLeftMs = 0;
  /** Spans started and how they ended: [eventId, traceId, outcome, error]. */
  readonly spans: Array<[string, string, string?, unknown?]> = [];
  readonly tracing: EventTracing = {
    start: (event, traceId) => {
      const span: [string, string, string?, unknown?] = [event.eventId, traceId];
      this.spans.push(span);
      return {
        end: (outcome, error) => {
          span[2] = outcome;
          if (error !== undefined) span[3] = error;
        },
      };
    },
  };

  constructor(states: Record<string, OrderState> = {}) {
    this.db = new FakeDb(states);
  }

  get deps(): ConsumerDeps {
    const t = this.telemetry;
    return {
      gate: this.gate,
      apply: this.db.apply,
      deadLetter: this.dl.write,
      attempts: this.attempts,
      ...(this.probe ? { probe: this.probe } : {}),
      logger: this.logger,
      tracing: this.tracing,
      telemetry: {
        applied: (event, ms) => t.applied.push({ eventId: event.eventId, ms }),
        duplicate: () => {
          t.duplicates++;
        },
        deadLettered: (type) => t.deadLettered.push(type),
        chunkDuration: (ms, records) => t.chunks.push([ms, records]),
        cacheBypassed: (event) => t.bypassed.push(event.eventId),
      },
      now: () => NOW,
      sleep: async (ms) => {
        this.sleeps.push(ms);
      },
    };
  }

  consume(event: MskEventLike, options: Partial<ConsumerOptions> = {}) {
    const slept = () => this.sleeps.reduce((a, b) => a + b, 0);
    return consumeBatch(
      event,
      this.deps,
      { ...OPTIONS, ...options },
      { remainingMs: () => this.timeLeftMs - slept() },
    );
  }
}

const OPTIONS: ConsumerOptions = {
  chunkSize: 10,
  retryAttempts: 2,
  retryBackoff: { baseMs: 100, capMs: 1_000 },
  maxDeliveryAttempts: 3,
  outageWait: { baseMs: 500, capMs: 5_000 },
  stopBeforeTimeoutMs: 15_000,
};

// Full jitter draws from [0, ceiling): with random() = 0.5 the delays are half the ceilings.
beforeEach(() => {
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const ids = (events: readonly OrderEvent[]) => events.map((e) => e.eventId);
/** Events reach apply re-parsed from the record bytes: compare by id, not identity. */
const has = (batch: readonly OrderEvent[], event: OrderEvent) =>
  batch.some((e) => e.eventId === event.eventId);
function chunksOf<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

// --- tests ---------------------------------------------------------------------------------

describe('consumeBatch: the happy path', () => {
  it.each([1, 2, 3, 4, 100])(
    'applies every event once, in offset order per partition, one apply call per chunk (chunkSize %i)',
    async (chunkSize) => {
      const p0 = [...lifecycle('o1'), orderEvent('OrderPlaced', 'o3', 3)];
      const p1 = [
        orderEvent('OrderPlaced', 'o2', 0),
        orderEvent('PaymentCaptured', 'o2', 1),
        orderEvent('OrderCancelled', 'o2', 2),
      ];
      // Records listed out of offset order: the consumer must sort them.
      const records = [...partition(0, 40, p0), ...partition(1, 7, p1)].reverse();
      const h = new Harness();

      const summary = await h.consume(msk(...records), { chunkSize });

      expect(summary).toEqual({
        applied: 7,
        duplicates: 0,
        deadLettered: 0,
        batchItemFailures: [],
      });
      expect(h.db.applied.filter((e) => ids(p0).includes(e))).toEqual(ids(p0));
      expect(h.db.applied.filter((e) => ids(p1).includes(e))).toEqual(ids(p1));
      expect(h.db.calls.filter((c) => ids(p0).includes(c[0] as string))).toEqual(
        chunksOf(ids(p0), chunkSize),
      );
      expect(h.db.calls.filter((c) => ids(p1).includes(c[0] as string))).toEqual(
        chunksOf(ids(p1), chunkSize),
      );
      expect(h.db.states).toEqual(
        new Map<string, OrderState>([
          ['o1', 'SHIPPED'],
          ['o3', 'CREATED'],
          ['o2', 'CANCELLED'],
        ]),
      );
      expect(h.dl.calls).toEqual([]);
      expect(h.sleeps).toEqual([]);
      expect(h.attempts.calls).toEqual([]);
    },
  );

  it('reports end-to-end latency per applied event and one chunk duration per chunk', async () => {
    const events = [...lifecycle('o1'), orderEvent('OrderPlaced', 'o2', 4)];
    const h = new Harness();
    await h.consume(msk(...partition(0, 0, [...events, { raw: 'not json' }])), { chunkSize: 2 });
    // now − event timestamp (the events are 0, 1, 2 and 4 s after 12:00:00; now is 12:00:10).
    expect(h.telemetry.applied).toEqual([
      { eventId: events[0]?.eventId, ms: 10_000 },
      { eventId: events[1]?.eventId, ms: 9_000 },
      { eventId: events[2]?.eventId, ms: 8_000 },
      { eventId: events[3]?.eventId, ms: 6_000 },
    ]);
    expect(h.telemetry.chunks).toEqual([
      [0, 2],
      [0, 2],
      [0, 1],
    ]);
    expect(h.telemetry.deadLettered).toEqual(['SCHEMA_VIOLATION']);
  });

  it('returns nothing to redeliver for an empty partition or batch', async () => {
    const h = new Harness();
    await expect(consumePartition([], h.deps, OPTIONS)).resolves.toBeUndefined();
    await expect(h.consume({ records: {} })).resolves.toEqual({
      applied: 0,
      duplicates: 0,
      deadLettered: 0,
      batchItemFailures: [],
    });
    expect(h.db.calls).toEqual([]);
  });
});

describe('consumeBatch: duplicates', () => {
  it('a second identical delivery is all duplicates and never reaches apply', async () => {
    const events = [...lifecycle('o1'), ...lifecycle('o2')];
    const event = msk(...partition(0, 0, events));
    const h = new Harness();
    await h.consume(event, { chunkSize: 4 });
    const callsAfterFirst = h.db.calls.length;

    const second = await h.consume(event, { chunkSize: 4 });

    expect(second).toEqual({ applied: 0, duplicates: 6, deadLettered: 0, batchItemFailures: [] });
    expect(h.db.calls).toHaveLength(callsAfterFirst);
    expect(h.db.applied).toEqual(ids(events));
    expect(h.telemetry.duplicates).toBe(6);
  });

  it.each<{ name: string; states?: Record<string, OrderState>; prepare?: (h: Harness) => void }>([
    {
      name: 'a relay duplicate (same business fact, new eventId and offset) after the cache lost it',
      prepare: (h) => h.gate.stored.clear(),
    },
  ])(
    'counts an apply outcome of "duplicate" as a duplicate: $name',
    async ({ states, prepare }) => {
      const h = new Harness(states);
      const placed = orderEvent('OrderPlaced', 'o9', 0, 'first');
      if (states === undefined) {
        await h.consume(msk(rec(0, 1, placed)));
        prepare?.(h);
      }
      const again = orderEvent('OrderPlaced', 'o9', 0, 'relayed');
      const summary = await h.consume(msk(rec(0, 2, again)));
      expect(summary).toEqual({
        applied: 0,
        duplicates: 1,
        deadLettered: 0,
        batchItemFailures: [],
      });
      expect(h.db.applied).not.toContain('relayed');
      expect(h.dl.calls).toEqual([]);
    },
  );
});

describe('consumeBatch: a redriven record that fails again', () => {
  const header = (key: string, value: string) => ({ [key]: [...Buffer.from(value)] });

  it('keeps its redrive history, so the redrive limits of triage count across cycles', async () => {
    const h = new Harness();
    const redriven = {
      ...rec(0, 9, { raw: 'still not json' }),
      headers: [
        header('redriveCount', '2'),
        header('attempts', '4'),
        header('firstFailureAt', '2026-03-01T11:59:00.000Z'),
      ],
    };
    await h.consume(msk(redriven));
    const [message] = h.dl.calls.flatMap((c) => c.messages);
    expect(message).toMatchObject({
      errorType: 'SCHEMA_VIOLATION',
      redriveCount: 2,
      attempts: 5,
      firstFailureAt: '2026-03-01T11:59:00.000Z',
      lastFailureAt: new Date(NOW).toISOString(),
    });
  });

  it('ignores a first-failure time from the future', async () => {
    const h = new Harness();
    const forged = {
      ...rec(0, 10, { raw: 'nope' }),
      headers: [header('firstFailureAt', '2099-01-01T00:00:00.000Z')],
    };
    await h.consume(msk(forged));
    const [message] = h.dl.calls.flatMap((c) => c.messages);
    expect(message).toMatchObject({
      redriveCount: 0,
      attempts: 1,
      firstFailureAt: new Date(NOW).toISOString(),
    });
  });
});

describe('consumeBatch: a copy in the same batch as its original', () => {
  it('is a duplicate at once: no in-progress conflict, no retry, one application', async () => {
    const h = new Harness();
    const [placed, paid] = lifecycle('c1');
    const [other] = lifecycle('c2');
    if (!placed || !paid || !other) throw new Error('lifecycle too short');
    const summary = await h.consume(
      msk(rec(0, 1, placed), rec(0, 2, paid), rec(0, 3, paid), rec(0, 4, other)),
      { chunkSize: 10 },
    );
    // A retry of the copy would re-run `other` and count it again as a duplicate.
    expect(summary).toEqual({ applied: 3, duplicates: 1, deadLettered: 0, batchItemFailures: [] });
    expect(h.db.applied.sort()).toEqual([placed.eventId, paid.eventId, other.eventId].sort());
    expect(h.dl.calls).toEqual([]);
  });
});

describe('consumeBatch: OrderPlaced for an order the API created', () => {
  it('is confirmed (processed, with its latency) on first sight, a duplicate after that', async () => {
    const h = new Harness({ o9: 'CREATED' });
    const placed = orderEvent('OrderPlaced', 'o9', 0, 'api-written');
    const first = await h.consume(msk(rec(0, 1, placed)));
    expect(first).toEqual({ applied: 1, duplicates: 0, deadLettered: 0, batchItemFailures: [] });
    expect(h.telemetry.applied.map((a) => a.eventId)).toEqual(['api-written']);

    const again = await h.consume(msk(rec(0, 2, placed)));
    expect(again).toEqual({ applied: 0, duplicates: 1, deadLettered: 0, batchItemFailures: [] });
    expect(h.dl.calls).toEqual([]);
  });

  it('a replayed PaymentCaptured on a paid order (ALREADY_APPLIED) stays a duplicate', async () => {
    const h = new Harness({ o8: 'PAYMENT_CAPTURED' });
    const paid = orderEvent('PaymentCaptured', 'o8', 1, 'late-copy');
    const summary = await h.consume(msk(rec(0, 1, paid)));
    expect(summary).toEqual({ applied: 0, duplicates: 1, deadLettered: 0, batchItemFailures: [] });
  });
});

describe('consumeBatch: dead letters', () => {
  const good = () => [orderEvent('OrderPlaced', 'd1', 0), orderEvent('PaymentCaptured', 'd1', 1)];
  const placed = orderEvent('OrderPlaced', 'bad', 0);

  it.each<{ name: string; value: Value }>([
    { name: 'not JSON', value: { raw: '{"eventId": ' } },
    { name: 'not UTF-8', value: { raw: Buffer.from([0xc3, 0x28, 0x7b]) } },
    { name: 'a tombstone (no value)', value: { raw: null } },
    {
      name: 'envelope without correlationId',
      value: { raw: JSON.stringify({ ...placed, correlationId: undefined }) },
    },
    {
      name: 'an unknown major version',
      value: { raw: JSON.stringify({ ...placed, schemaVersion: '2.0.0' }) },
    },
    {
      name: 'an unknown event type',
      value: { raw: JSON.stringify({ ...placed, eventType: 'OrderTeleported' }) },
    },
    {
      name: 'data naming another order',
      value: { raw: JSON.stringify({ ...placed, aggregateId: 'other' }) },
    },
  ])('dead-letters $name as SCHEMA_VIOLATION while the rest applies', async ({ value }) => {
    const [e0, e1] = good() as [OrderEvent, OrderEvent];
    const h = new Harness();
    const summary = await h.consume(msk(...partition(0, 20, [e0, value, e1])));

    expect(summary).toEqual({ applied: 2, duplicates: 0, deadLettered: 1, batchItemFailures: [] });
    expect(h.db.applied).toEqual([e0.eventId, e1.eventId]);
    expect(h.dl.summary()).toEqual([[21, 'SCHEMA_VIOLATION']]);
    expect(h.dl.calls.map((c) => c.offsets)).toEqual([['21']]);
    expect(h.telemetry.deadLettered).toEqual(['SCHEMA_VIOLATION']);
  });

  it('writes the dead letter from the record as received, with its source and attempts 1', async () => {
    const h = new Harness();
    const raw = JSON.stringify({ ...placed, schemaVersion: '9.0.0' });
    await h.consume(msk(rec(3, 77, { raw })));
    expect(h.dl.sent).toHaveLength(1);
    expect(h.dl.sent[0]).toMatchObject({
      errorType: 'SCHEMA_VIOLATION',
      attempts: 1,
      firstFailureAt: new Date(NOW).toISOString(),
      lastFailureAt: new Date(NOW).toISOString(),
      source: { topic: TOPIC, partition: 3, offset: '77' },
      key: Buffer.from('raw-key').toString('base64'),
      headers: [{ key: 'traceparent', value: Buffer.from('00-trace-01').toString('base64') }],
      eventId: placed.eventId,
      aggregateId: 'bad',
      correlationId: placed.correlationId,
      original: { value: Buffer.from(raw).toString('base64') },
    });
  });

  it('dead-letters a rejected transition as INVALID_TRANSITION; the gate keeps no record of it', async () => {
    const [e0] = good() as [OrderEvent];
    const shipped = orderEvent('OrderShipped', 'd1', 2); // CREATED → SHIPPED skips payment
    const other = orderEvent('OrderPlaced', 'd2', 0);
    const h = new Harness();
    const summary = await h.consume(msk(...partition(0, 0, [e0, shipped, other])));

    expect(summary).toEqual({ applied: 2, duplicates: 0, deadLettered: 1, batchItemFailures: [] });
    expect(h.db.applied).toEqual([e0.eventId, other.eventId]);
    expect(h.dl.summary()).toEqual([[1, 'INVALID_TRANSITION']]);
    expect(h.dl.sent[0]?.eventId).toBe(shipped.eventId);
    expect(h.gate.stored.has(idempotencyKey(shipped))).toBe(false);
    expect(h.db.states.get('d1')).toBe('CREATED');
  });

  it('dead-letters a payload conflict (IdempotencyValidationError) as IDEMPOTENCY_CONFLICT', async () => {
    const cancelled = orderEvent('OrderCancelled', 'd3', 1, 'cancel-1');
    const h = new Harness({ d3: 'CREATED' });
    await h.consume(msk(rec(0, 1, cancelled)));
    // Same business fact (key), different payload.
    const conflicting: OrderEvent = {
      ...cancelled,
      eventId: 'cancel-2',
      data: { ...cancelled.data, reason: 'fraud' },
    } as OrderEvent;
    const next = orderEvent('OrderPlaced', 'd4', 0);

    const summary = await h.consume(msk(rec(0, 2, conflicting), rec(0, 3, next)));

    expect(summary).toEqual({ applied: 1, duplicates: 0, deadLettered: 1, batchItemFailures: [] });
    expect(h.dl.summary()).toEqual([[2, 'IDEMPOTENCY_CONFLICT']]);
    expect(h.db.applied).toEqual(['cancel-1', next.eventId]);
  });

  it('isolates a record whose apply fails non-transiently: only it is dead-lettered (PROCESSING_FAILURE)', async () => {
    const events = [...lifecycle('p1'), orderEvent('OrderPlaced', 'p2', 0)];
    const h = new Harness();
    const poison = events[3] as OrderEvent;
    h.db.failWith = (batch) =>
      has(batch, poison) ? named('error', 'value out of range', { code: '22003' }) : undefined;

    const summary = await h.consume(msk(...partition(0, 0, events)), { chunkSize: 2 });

    // The group fails, then its events are applied one by one: the neighbour still applies.
    expect(summary).toMatchObject({ applied: 3, deadLettered: 1, batchItemFailures: [] });
    expect(h.dl.summary()).toEqual([[3, 'PROCESSING_FAILURE']]);
    expect(h.sleeps).toEqual([]);
  });
});

describe('consumeBatch: trace context from the traceparent header', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const sampled = `00-${TRACE}-00f067aa0ba902b7-01`;
  const unsampled = `00-${TRACE}-00f067aa0ba902b7-00`;
  const withTrace = (record: MskRecordLike, traceparent: string): MskRecordLike => ({
    ...record,
    headers: [{ eventId: [...Buffer.from('x')] }, { traceparent: [...Buffer.from(traceparent)] }],
  });
  const lines = (h: Harness, level: 'info' | 'warn', message: string) =>
    h.logger[level].mock.calls.filter(([m]) => m === message).map(([, fields]) => fields);

  it('logs "event applied" with the trace id for each sampled event, and opens one span each', async () => {
    const [placed, paid] = lifecycle('tr1') as [OrderEvent, OrderEvent];
    const h = new Harness();
    await h.consume(
      msk(withTrace(rec(2, 40, placed), sampled), withTrace(rec(2, 41, paid), sampled)),
    );

    expect(lines(h, 'info', 'event applied')).toEqual([
      {
        traceId: TRACE,
        eventId: placed.eventId,
        eventType: 'OrderPlaced',
        orderId: 'tr1',
        correlationId: placed.correlationId,
        outcome: 'applied',
        topic: TOPIC,
        partition: 2,
        offset: '40',
      },
      expect.objectContaining({ traceId: TRACE, eventId: paid.eventId, offset: '41' }),
    ]);
    expect(h.spans).toEqual([
      [placed.eventId, TRACE, 'applied'],
      [paid.eventId, TRACE, 'applied'],
    ]);
  });

  it('logs no per-event line and opens no span for an unsampled or trace-less event', async () => {
    const [placed, paid] = lifecycle('tr2') as [OrderEvent, OrderEvent];
    const h = new Harness();
    // rec() carries an invalid traceparent ("00-trace-01").
    const summary = await h.consume(msk(withTrace(rec(0, 1, placed), unsampled), rec(0, 2, paid)));

    expect(summary.applied).toBe(2);
    expect(lines(h, 'info', 'event applied')).toEqual([]);
    expect(h.spans).toEqual([]);
  });

  it('ends the span of a duplicate as such, without an "event applied" line', async () => {
    const placed = orderEvent('OrderPlaced', 'tr3', 0);
    const h = new Harness();
    await h.consume(msk(withTrace(rec(0, 1, placed), sampled)));
    h.logger.info.mockClear();
    await h.consume(msk(withTrace(rec(0, 2, placed), sampled)));

    expect(lines(h, 'info', 'event applied')).toEqual([]);
    expect(h.spans.map(([, , outcome]) => outcome)).toEqual(['applied', 'duplicate']);
  });

  it('keeps the fields of "event dead-lettered" and adds the trace id, sampled or not', async () => {
    const shipped = orderEvent('OrderShipped', 'tr4', 2); // CREATED → SHIPPED skips payment
    const h = new Harness({ tr4: 'CREATED' });
    await h.consume(
      msk(withTrace(rec(1, 7, shipped), sampled), withTrace(rec(1, 8, { raw: '{' }), unsampled)),
    );

    expect(lines(h, 'warn', 'event dead-lettered')).toEqual([
      {
        errorType: 'INVALID_TRANSITION',
        errorMessage: expect.any(String),
        correlationId: shipped.correlationId,
        eventId: shipped.eventId,
        topic: TOPIC,
        partition: 1,
        offset: '7',
        traceId: TRACE,
      },
      expect.objectContaining({ errorType: 'SCHEMA_VIOLATION', offset: '8', traceId: TRACE }),
    ]);
    // The span ends with the error; the unparsable record never reached the gate.
    expect(h.spans).toEqual([[shipped.eventId, TRACE, 'dead-letter', expect.any(Error)]]);
  });

  it('names the trace id on the line of a record handed back after a transient failure', async () => {
    const placed = orderEvent('OrderPlaced', 'tr5', 0);
    const h = new Harness();
    h.db.failWith = () => connReset();
    const summary = await h.consume(msk(withTrace(rec(0, 5, placed), sampled)));

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(5) }]);
    expect(lines(h, 'warn', 'transient failure; the mapping will redeliver')).toEqual([
      expect.objectContaining({ offset: '5', traceId: TRACE }),
    ]);
    expect(h.spans.map(([, , outcome]) => outcome)).toEqual(['retry', 'retry', 'retry']);
  });
});

describe('consumeBatch: transient failures', () => {
  it('retries a transient apply failure in place and applies once it succeeds', async () => {
    const events = lifecycle('t1');
    const h = new Harness();
    let failures = 2;
    h.db.failWith = () => (failures-- > 0 ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 0, events)));

    expect(summary).toEqual({ applied: 3, duplicates: 0, deadLettered: 0, batchItemFailures: [] });
    expect(h.db.applied).toEqual(ids(events));
    expect(h.db.calls).toHaveLength(3);
    // Backoff ceilings 100 and 200 ms (base·2^n), halved by random() = 0.5.
    expect(h.sleeps).toEqual([50, 100]);
    expect(h.attempts.calls).toEqual([]);
    expect(h.dl.calls).toEqual([]);
  });

  it.each<{ name: string; unavailable: boolean; prior: number }>([
    { name: 'the first delivery (attempt 1 of 3)', unavailable: false, prior: 0 },
    { name: 'attempt 2 of 3', unavailable: false, prior: 1 },
    { name: 'attempts cannot be counted', unavailable: true, prior: 5 },
  ])(
    'beyond the retries and below the max, hands the partition back from the failed record: $name',
    async ({ unavailable, prior }) => {
      // Offsets 10..14 = o1 placed, o1 paid, x placed, o1 shipped, o2 placed; chunks of two, so
      // x (12) starts the second chunk and every apply that includes x fails.
      const x = orderEvent('OrderPlaced', 'x', 0);
      const [placed, paid, shipped] = lifecycle('o1') as [OrderEvent, OrderEvent, OrderEvent];
      const events = [placed, paid, x, shipped, orderEvent('OrderPlaced', 'o2', 0)];
      const h = new Harness();
      h.attempts.unavailable = unavailable;
      h.attempts.counts.set(attemptKey(12), prior);
      h.db.failWith = (batch) => (has(batch, x) ? connReset() : undefined);

      const summary = await h.consume(msk(...partition(0, 10, events)), { chunkSize: 2 });

      expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(12) }]);
      // Records before it are done; nothing from the failed record onwards is applied (its chunk
      // failed as a whole) and the later chunk is never looked at.
      expect(h.db.applied).toEqual(ids([placed, paid]));
      expect(h.db.calls).toEqual([ids([placed, paid]), ...Array(3).fill(ids([x, shipped]))]);
      expect(h.gate.keys).not.toContain(idempotencyKey(events[4] as OrderEvent));
      expect(h.sleeps).toEqual([50, 100]);
      expect(h.attempts.calls).toEqual([attemptKey(12)]);
      expect(h.dl.calls).toEqual([]);
      expect(summary).toMatchObject({ applied: 2, deadLettered: 0 });
    },
  );

  it('at max delivery attempts, dead-letters the record as TRANSIENT and the partition continues', async () => {
    const x = orderEvent('OrderPlaced', 'x', 0);
    const [placed, paid, shipped] = lifecycle('o1') as [OrderEvent, OrderEvent, OrderEvent];
    const events = [placed, paid, x, shipped, orderEvent('OrderPlaced', 'o2', 0)];
    const h = new Harness();
    h.attempts.counts.set(attemptKey(12), 2);
    h.db.failWith = (batch) => (has(batch, x) ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 10, events)), { chunkSize: 2 });

    expect(summary).toEqual({ applied: 4, duplicates: 0, deadLettered: 1, batchItemFailures: [] });
    expect(h.db.applied).toEqual(ids([placed, paid, shipped, events[4] as OrderEvent]));
    expect(h.dl.summary()).toEqual([[12, 'TRANSIENT']]);
    expect(h.dl.sent[0]).toMatchObject({ attempts: 3, eventId: x.eventId });
    expect(h.telemetry.deadLettered).toEqual(['TRANSIENT']);
    expect(h.attempts.calls).toEqual([attemptKey(12)]);
    expect(h.sleeps).toEqual([50, 100]);
  });

  it('hands the partition back at once when apply reports an open PostgreSQL breaker: no retries, no attempt counted', async () => {
    const events = [orderEvent('OrderPlaced', 'c0', 0), ...lifecycle('c1')];
    const blocked = events[1] as OrderEvent;
    const h = new Harness();
    const open = new CircuitOpenError('postgres', NOW + 30_000);
    h.db.failWith = (batch) => (has(batch, blocked) ? open : undefined);

    const summary = await h.consume(msk(...partition(0, 5, events)), { chunkSize: 1 });

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(6) }]);
    expect(h.db.applied).toEqual([events[0]?.eventId]);
    expect(h.sleeps).toEqual([]);
    expect(h.attempts.calls).toEqual([]);
    expect(h.dl.calls).toEqual([]);
  });
});

describe('consumeBatch: a dependency outage is waited out inside the invocation', () => {
  const refused = () =>
    named('Error', 'connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' });
  /** With Math.random() = 0.5: half of min(5 s, 500 ms · 2^(n-1)). */
  const outageDelays = (n: number) =>
    Array.from({ length: n }, (_, i) => Math.floor(0.5 * Math.min(5_000, 500 * 2 ** i)));

  it('waits while the PostgreSQL breaker is open and goes on in order once it closes: no retry, no attempt, no dead letter', async () => {
    const events = [...lifecycle('w1'), ...lifecycle('w2')];
    const h = new Harness();
    h.timeLeftMs = 120_000;
    let refusals = 8;
    h.db.failWith = () =>
      refusals-- > 0 ? new CircuitOpenError('postgres', NOW + 30_000) : undefined;

    const summary = await h.consume(msk(...partition(0, 0, events)), { chunkSize: 2 });

    expect(summary).toEqual({ applied: 6, duplicates: 0, deadLettered: 0, batchItemFailures: [] });
    expect(h.db.applied).toEqual(ids(events));
    expect(h.sleeps).toEqual(outageDelays(8));
    expect(h.attempts.calls).toEqual([]);
    expect(h.dl.calls).toEqual([]);
    expect(h.logger.info).toHaveBeenCalledWith(
      'dependency answers again; the partition goes on',
      expect.objectContaining({ partition: 0, offset: '0' }),
    );
  });

  it('hands the partition back before the invocation times out while the database stays down', async () => {
    const events = [orderEvent('OrderPlaced', 'd0', 0), ...lifecycle('d1')];
    const h = new Harness();
    h.timeLeftMs = 60_000;
    const blocked = events[1] as OrderEvent;
    h.db.failWith = (batch) =>
      has(batch, blocked) ? new CircuitOpenError('postgres', NOW + 30_000) : undefined;

    const summary = await h.consume(msk(...partition(0, 5, events)), { chunkSize: 1 });

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(6) }]);
    expect(h.db.applied).toEqual([events[0]?.eventId]);
    const waited = h.sleeps.reduce((a, b) => a + b, 0);
    // It used the time it had: stopped within one check of the 15 s margin, never inside it.
    expect(waited).toBeLessThanOrEqual(60_000 - 15_000);
    expect(waited).toBeGreaterThan(60_000 - 15_000 - 2_500);
    expect(h.attempts.calls).toEqual([]);
    expect(h.dl.calls).toEqual([]);
    expect(h.logger.warn).toHaveBeenCalledWith(
      'dependency still unavailable; handing the partition back',
      expect.objectContaining({ offset: '6', waitedMs: expect.any(Number) }),
    );
  });

  it("a connection error while the database answers its probe is the record's own: retried in place, then counted", async () => {
    const x = orderEvent('OrderPlaced', 'x', 0);
    const h = new Harness();
    h.timeLeftMs = 120_000;
    const probe = vi.fn(async () => undefined);
    h.probe = probe;
    h.db.failWith = (batch) => (has(batch, x) ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 12, [x])));

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(12) }]);
    expect(probe).toHaveBeenCalledTimes(3);
    expect(h.sleeps).toEqual([50, 100]);
    expect(h.attempts.calls).toEqual([attemptKey(12)]);
  });

  it('a connection error while the probe cannot reach the database is an outage: it waits, then applies', async () => {
    const events = lifecycle('p1');
    const h = new Harness();
    h.timeLeftMs = 120_000;
    let down = true;
    h.probe = async () => {
      if (down) throw refused();
    };
    let failures = 0;
    h.db.failWith = () => {
      if (!down) return undefined;
      if (++failures === 4) down = false;
      return refused();
    };

    const summary = await h.consume(msk(...partition(0, 0, events)));

    expect(summary).toEqual({ applied: 3, duplicates: 0, deadLettered: 0, batchItemFailures: [] });
    expect(h.sleeps).toEqual(outageDelays(4));
    expect(h.attempts.calls).toEqual([]);
  });

  it('a dead letter the broker cannot take waits for the broker, then is written once', async () => {
    const bad = { raw: 'not json' };
    const good = lifecycle('k1');
    const h = new Harness();
    h.timeLeftMs = 120_000;
    h.dl.failing = true;
    let attemptsLeft = 3;
    const write = h.dl.write;
    h.dl.write = async (messages, records) => {
      if (attemptsLeft-- === 0) h.dl.failing = false;
      return write(messages, records);
    };

    const summary = await h.consume(msk(...partition(0, 0, [bad, ...good])));

    expect(summary.batchItemFailures).toEqual([]);
    expect(h.dl.summary()).toEqual([[0, 'SCHEMA_VIOLATION']]);
    expect(h.dl.calls).toHaveLength(4);
    expect(h.db.applied).toEqual(ids(good));
    expect(h.sleeps).toEqual(outageDelays(3));
  });
});

describe('consumeBatch: the Redis gate cannot answer, PostgreSQL decides alone', () => {
  const inProgress = () => named('IdempotencyAlreadyInProgressError', 'key is in progress');
  // The real wiring: the breaker sits inside the cache client and Powertools wraps its error.
  const wrappedOpen = () =>
    Object.assign(
      new Error('Failed to save in progress record to idempotency store', {
        cause: new CircuitOpenError('redis', NOW + 30_000),
      }),
      { name: 'IdempotencyPersistenceLayerError' },
    );

  it.each<{ name: string; error: () => unknown }>([
    { name: 'an open Redis breaker', error: () => new CircuitOpenError('redis', NOW + 30_000) },
    { name: 'an open Redis breaker wrapped by Powertools', error: wrappedOpen },
    { name: 'a key left in progress by a crashed invocation', error: inProgress },
    { name: 'a Redis connection reset', error: connReset },
  ])(
    'with $name: every event applies once, in order, and nothing is retried or handed back',
    async ({ error }) => {
      const [a1, a2, a3] = lifecycle('A') as [OrderEvent, OrderEvent, OrderEvent];
      const [b1, b2] = lifecycle('B') as [OrderEvent, OrderEvent];
      const h = new Harness();
      // A's first event cannot pass the gate; its later events and B's can.
      h.gate.failBefore = (key) => (key === idempotencyKey(a1) ? error() : undefined);

      const summary = await h.consume(msk(...partition(0, 0, [a1, b1, a2, b2, a3])));

      expect(summary).toEqual({
        applied: 5,
        duplicates: 0,
        deadLettered: 0,
        batchItemFailures: [],
      });
      // One group commit, in record order: A's later events never overtake a1.
      expect(h.db.calls).toEqual([ids([a1, b1, a2, b2, a3])]);
      expect(h.db.states).toEqual(
        new Map<string, OrderState>([
          ['A', 'SHIPPED'],
          ['B', 'PAYMENT_CAPTURED'],
        ]),
      );
      expect(h.telemetry.bypassed).toEqual([a1.eventId]);
      expect(h.logger.warn).toHaveBeenCalledExactlyOnceWith(
        'idempotency cache could not answer; PostgreSQL decided alone',
        expect.objectContaining({ records: 1, firstEventId: a1.eventId }),
      );
      expect(h.sleeps).toEqual([]);
      expect(h.attempts.calls).toEqual([]);
      expect(h.dl.calls).toEqual([]);
    },
  );

  it('a redelivery PostgreSQL has seen is a duplicate, and one with other data a conflict', async () => {
    const [placed, paid] = lifecycle('D') as [OrderEvent, OrderEvent];
    const h = new Harness();
    await h.consume(msk(...partition(0, 0, [placed, paid])));
    // Redis lost everything (node restart), and now cannot be reached at all.
    h.gate.stored.clear();
    h.gate.failBefore = () => wrappedOpen();
    const altered = {
      ...paid,
      eventId: 'evt-altered',
      data: { ...paid.data, amountMinor: 1 },
    } as OrderEvent;

    const summary = await h.consume(msk(...partition(0, 2, [paid, altered])));

    expect(summary).toEqual({ applied: 0, duplicates: 1, deadLettered: 1, batchItemFailures: [] });
    expect(h.db.applied).toEqual(ids([placed, paid]));
    expect(h.dl.summary()).toEqual([[3, 'IDEMPOTENCY_CONFLICT']]);
    expect(h.telemetry.bypassed).toEqual([paid.eventId, 'evt-altered']);
  });

  it('an event committed in PostgreSQL whose result Redis could not store counts once, as applied', async () => {
    const [placed] = lifecycle('E') as [OrderEvent];
    const h = new Harness();
    const gateRun = h.gate.run.bind(h.gate);
    h.gate.run = async (key, payload, work) => {
      await gateRun(key, payload, work);
      throw named('IdempotencyPersistenceLayerError', 'Failed to update success record');
    };

    const summary = await h.consume(msk(...partition(0, 0, [placed])));

    expect(summary).toEqual({ applied: 1, duplicates: 0, deadLettered: 0, batchItemFailures: [] });
    expect(h.db.calls).toEqual([ids([placed])]);
    expect(h.telemetry.bypassed).toEqual([]);
    expect(h.sleeps).toEqual([]);
  });

  it('a failure PostgreSQL reports after a bypass is handled as any apply failure', async () => {
    const [placed] = lifecycle('F') as [OrderEvent];
    const h = new Harness();
    h.gate.failBefore = () => inProgress();
    let failures = 1;
    h.db.failWith = () => (failures-- > 0 ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 0, [placed])));

    expect(summary).toMatchObject({ applied: 1, batchItemFailures: [] });
    expect(h.db.calls).toEqual([ids([placed]), ids([placed])]);
    expect(h.sleeps).toEqual([50]);
  });
});

describe('consumeBatch: partitions', () => {
  it('processes two partitions independently: one handed back, the other applied in full', async () => {
    const p0 = lifecycle('q0');
    const p1 = [...lifecycle('q1'), orderEvent('OrderPlaced', 'q2', 0)];
    const h = new Harness();
    const poison = p0[1] as OrderEvent;
    h.db.failWith = (batch) => (has(batch, poison) ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 100, p0), ...partition(1, 200, p1)), {
      chunkSize: 1,
    });

    expect(summary).toEqual({
      applied: 5,
      duplicates: 0,
      deadLettered: 0,
      batchItemFailures: [{ itemIdentifier: id(101, 0) }],
    });
    expect(h.db.applied.filter((e) => ids(p1).includes(e))).toEqual(ids(p1));
    expect(h.db.applied.filter((e) => ids(p0).includes(e))).toEqual([p0[0]?.eventId]);
  });

  it('runs partitions concurrently: a partition stuck in apply does not hold the other back', async () => {
    const p0 = [orderEvent('OrderPlaced', 'r0', 0)];
    const p1 = [orderEvent('OrderPlaced', 'r1', 0)];
    const h = new Harness();
    let releaseP0: () => void = () => {};
    const p0Waits = new Promise<void>((resolve) => {
      releaseP0 = resolve;
    });
    const inner = h.db.apply;
    const deps: ConsumerDeps = {
      ...h.deps,
      apply: async (events) => {
        // p0's apply finishes only after p1's has: sequential partitions would hang here.
        if (events[0]?.aggregateId === 'r0') await p0Waits;
        const out = await inner(events);
        if (events[0]?.aggregateId === 'r1') releaseP0();
        return out;
      },
    };
    const summary = await consumeBatch(
      msk(...partition(0, 0, p0), ...partition(1, 0, p1)),
      deps,
      OPTIONS,
    );
    expect(summary.applied).toBe(2);
    expect(h.db.applied).toEqual([p1[0]?.eventId, p0[0]?.eventId]);
  });
});

describe('consumeBatch: dead-letter producer failures', () => {
  it('hands the partition back from the first record it could not dead-letter', async () => {
    const events = [orderEvent('OrderPlaced', 'f0', 0), orderEvent('OrderPlaced', 'f1', 0)];
    const h = new Harness();
    h.dl.failing = true;

    const summary = await h.consume(
      msk(
        ...partition(0, 50, [
          events[0] as OrderEvent,
          { raw: 'x' },
          events[1] as OrderEvent,
          { raw: 'y' },
        ]),
      ),
    );

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(51) }]);
    // One producer call carried both dead letters, in record order.
    expect(h.dl.calls.map((c) => c.offsets)).toEqual([['51', '53']]);
    expect(h.telemetry.deadLettered).toEqual([]);
    expect(summary.deadLettered).toBe(0);
    expect(h.db.applied).toEqual(ids(events));
    expect(h.logger.error).toHaveBeenCalled();
  });

  it('writes the dead letters before a transient failure before handing back from that failure', async () => {
    const x = orderEvent('OrderPlaced', 'g1', 0);
    const h = new Harness();
    h.db.failWith = (batch) => (has(batch, x) ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 0, [{ raw: 'nope' }, x])), {
      retryAttempts: 0,
    });

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(1) }]);
    expect(h.dl.summary()).toEqual([[0, 'SCHEMA_VIOLATION']]);
    expect(summary.deadLettered).toBe(1);
  });

  it('at max attempts, a failing dead-letter write hands the poison record back', async () => {
    const x = orderEvent('OrderPlaced', 'h1', 0);
    const after = orderEvent('OrderPlaced', 'h2', 0);
    const h = new Harness();
    h.attempts.counts.set(attemptKey(0), 2);
    h.dl.failing = true;
    h.db.failWith = (batch) => (has(batch, x) ? connReset() : undefined);

    const summary = await h.consume(msk(...partition(0, 0, [x, after])), { chunkSize: 1 });

    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: id(0) }]);
    expect(h.dl.calls.map((c) => c.messages.map((m) => m.errorType))).toEqual([['TRANSIENT']]);
    expect(h.db.applied).toEqual([]);
  });
});
