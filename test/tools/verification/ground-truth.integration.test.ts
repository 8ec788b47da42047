// The one ground-truth accounting must be able to fail, in npm start's summary and in the drills'
// figures alike: outcomes staged by hand in scratch databases and on scratch topics (lost,
// pending, set aside, parked, dead-lettered, applied twice, wrong type, wrong state, an order no
// event planned) must each show up, and what went as planned must not.
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeadLetter, encodeDeadLetter } from '../../../lambdas/shared/dead-letter/message';
import { parseKafkaEnv } from '../../../lambdas/shared/env';
import {
  ProcessingFailureError,
  SchemaViolationError,
  TransientError,
} from '../../../lambdas/shared/errors/taxonomy';
import {
  createTestDatabase,
  createTopic,
  type TestDatabase,
  testKafka,
} from '../../../tools/fixtures/services';
import { account as accountRun, type ProducedItem } from '../../../tools/local-runtime/demo-run';
import { type Accounting, account, baseChecks } from '../../../tools/verification/drill/accounting';
import { DRILL_INPUT_HEADER, type DrillInput } from '../../../tools/verification/drill/inputs';
import {
  type GroundTruth,
  readGroundTruth,
  UNTYPED,
} from '../../../tools/verification/ground-truth';

const tag = (s: string) => `${s}-${randomUUID().slice(0, 8)}`;

// --- staging helpers --------------------------------------------------------------------------

async function stageOrders(pool: Pool, orders: Array<[id: string, status: string, v: number]>) {
  await pool.query(
    `INSERT INTO orders (id, customer_id, status, total_amount_minor, currency, version)
     SELECT id, 'c', status, 1, 'EUR', v
       FROM unnest($1::text[], $2::text[], $3::int[]) AS t(id, status, v)`,
    [orders.map((o) => o[0]), orders.map((o) => o[1]), orders.map((o) => o[2])],
  );
}

/** One processed_events row per id (an id twice: recorded under two keys). */
async function stageProcessed(pool: Pool, eventIds: string[]) {
  await pool.query(
    `INSERT INTO processed_events (idempotency_key, event_id)
     SELECT md5(random()::text || e), e FROM unnest($1::text[]) AS e`,
    [eventIds],
  );
}

async function stageOutbox(
  pool: Pool,
  rows: Array<[id: string, state: 'published' | 'pending' | 'set aside' | 'discarded']>,
) {
  for (const [id, state] of rows) {
    await pool.query(
      `INSERT INTO outbox (id, aggregate_id, event_type, payload, published_at,
                           set_aside_at, set_aside_reason, discarded_at, discard_reason)
       VALUES ($1, 'agg', 'OrderPlaced', '{}',
               CASE WHEN $2 = 'published' THEN now() END,
               CASE WHEN $2 = 'set aside' THEN now() END,
               CASE WHEN $2 = 'set aside' THEN 'staged: too large' END,
               CASE WHEN $2 = 'discarded' THEN now() END,
               CASE WHEN $2 = 'discarded' THEN 'staged: discarded' END)`,
      [id, state],
    );
  }
}

/** A dead_letters row as triage parks it; `input` goes in the stored message's headers. */
async function stageParked(
  pool: Pool,
  row: {
    topic: string;
    at: [partition: number, offset: number];
    type: string;
    eventId?: string;
    input?: string;
    parkedAt?: Date;
  },
) {
  const message =
    row.input === undefined
      ? null
      : {
          headers: [{ key: DRILL_INPUT_HEADER, value: Buffer.from(row.input).toString('base64') }],
        };
  await pool.query(
    `INSERT INTO dead_letters (event_id, error_type, error_message, payload, source_topic,
                               source_partition, source_offset, attempts, first_failed_at,
                               last_failed_at, record_digest, message, parked_at)
     VALUES ($1, $2, 'staged', '{}', $3, $4, $5, 1, now(), now(),
             encode(sha256(convert_to(random()::text, 'UTF8')), 'hex'), $6, coalesce($7, now()))`,
    [row.eventId ?? null, row.type, row.topic, row.at[0], row.at[1], message, row.parkedAt ?? null],
  );
}

// --- a drill: its own database and topics, read end to end ------------------------------------

describe('a drill run (own database and topics)', () => {
  let db: TestDatabase;
  let topics: { orderEvents: string; deadLetter: string };
  let truth: GroundTruth;
  let result: Accounting;

  const order = { A: tag('a'), B: tag('b'), C: tag('c'), E: tag('e'), F: tag('f'), G: tag('g') };
  const unplanned = tag('x');
  const ev = {
    a1: randomUUID(),
    b1: randomUUID(),
    b2: randomUUID(),
    c1: randomUUID(),
    e1: randomUUID(),
    f1: randomUUID(),
    g1: randomUUID(),
    pending: randomUUID(),
    setAside: randomUUID(),
    discarded: randomUUID(),
    deadLettered: randomUUID(),
  };
  const bad = {
    wrongType: tag('bad-wrong'),
    typed: tag('bad-typed'),
    untyped: tag('bad-untyped'),
    applied: tag('bad-applied'),
  };
  const appliedEventId = randomUUID();

  const inputs: DrillInput[] = [
    { id: ev.a1, label: 'OrderPlaced', expected: 'apply', aggregateId: order.A },
    { id: ev.b1, label: 'OrderPlaced', expected: 'apply', aggregateId: order.B },
    { id: ev.b2, label: 'PaymentCaptured', expected: 'apply', aggregateId: order.B },
    { id: ev.c1, label: 'OrderPlaced', expected: 'apply', aggregateId: order.C },
    { id: ev.e1, label: 'OrderPlaced', expected: 'apply', aggregateId: order.E },
    { id: ev.f1, label: 'OrderPlaced', expected: 'apply', aggregateId: order.F },
    { id: ev.g1, label: 'OrderPlaced', expected: 'apply', aggregateId: order.G },
    { id: ev.pending, label: 'OrderShipped', expected: 'apply' },
    { id: ev.setAside, label: 'OrderShipped', expected: 'apply' },
    { id: ev.discarded, label: 'OrderShipped', expected: 'apply' },
    { id: ev.deadLettered, label: 'OrderShipped', expected: 'apply' },
    { id: bad.wrongType, label: 'not-json', expected: 'SCHEMA_VIOLATION' },
    { id: bad.typed, label: 'not-json', expected: 'SCHEMA_VIOLATION' },
    { id: bad.untyped, label: 'not-json', expected: 'SCHEMA_VIOLATION' },
    {
      id: bad.applied,
      label: 'readable-bad',
      expected: 'INVALID_TRANSITION',
      eventId: appliedEventId,
    },
  ];
  const plans = [
    { orderId: order.A, finalState: 'CREATED', events: 1 },
    { orderId: order.B, finalState: 'PAYMENT_CAPTURED', events: 2 },
    { orderId: order.C, finalState: 'CREATED', events: 1 },
    { orderId: order.E, finalState: 'CREATED', events: 1 },
    { orderId: order.F, finalState: 'CREATED', events: 1 },
    { orderId: order.G, finalState: 'CREATED', events: 1 },
  ] as const;

  beforeAll(async () => {
    const kafkaEnv = parseKafkaEnv(process.env);
    db = await createTestDatabase('ground_truth_drill');
    const admin = testKafka().admin();
    await admin.connect();
    try {
      // One partition each: the order of an input's dead letters is the order written.
      topics = {
        orderEvents: await createTopic(admin, 'ground-truth-events', 1),
        deadLetter: await createTopic(admin, 'ground-truth-dlq', 1),
      };
    } finally {
      await admin.disconnect();
    }
    // A applied once. B: two events applied but version 3, a transition ran twice. C: never
    // applied, never dead-lettered (lost). E: applied, but CANCELLED where the plan says CREATED.
    // F: one event recorded under two keys. G: published, on the topic twice, applied. The
    // unplanned order: no input should have created it.
    await stageOrders(db.pool, [
      [order.A, 'CREATED', 1],
      [order.B, 'PAYMENT_CAPTURED', 3],
      [order.E, 'CANCELLED', 1],
      [order.F, 'CREATED', 1],
      [order.G, 'CREATED', 1],
      [unplanned, 'CREATED', 1],
    ]);
    await stageProcessed(db.pool, [
      ev.a1,
      ev.b1,
      ev.b2,
      ev.e1,
      ev.f1,
      ev.f1,
      ev.g1,
      appliedEventId,
    ]);
    await stageOutbox(db.pool, [
      [ev.g1, 'published'],
      [ev.pending, 'pending'],
      [ev.setAside, 'set aside'],
      [ev.discarded, 'discarded'],
    ]);
    await stageParked(db.pool, {
      topic: topics.orderEvents,
      at: [0, 1],
      type: 'SCHEMA_VIOLATION',
      input: bad.typed,
    });

    const producer = testKafka().producer();
    await producer.connect();
    const deadLetter = (
      headers: { key: string; value: string }[],
      error: unknown,
      value = '{not json',
    ) => {
      const encoded = encodeDeadLetter(
        buildDeadLetter({
          value: Buffer.from(value),
          key: Buffer.from('k'),
          headers,
          source: { topic: topics.orderEvents, partition: 0, offset: 1 },
          error,
          attempts: 1,
          firstFailureAt: new Date(),
        }),
      );
      return { key: encoded.key, value: encoded.value, headers: encoded.headers };
    };
    try {
      await producer.send({
        topic: topics.orderEvents,
        messages: [
          { key: 'g', value: '{}', headers: { eventId: ev.g1 } },
          { key: 'g', value: '{}', headers: { eventId: ev.g1 } },
          { key: null, value: '{not json', headers: { [DRILL_INPUT_HEADER]: bad.typed } },
        ],
      });
      const input = (id: string) => [{ key: DRILL_INPUT_HEADER, value: id }];
      await producer.send({
        topic: topics.deadLetter,
        messages: [
          deadLetter(input(bad.wrongType), new ProcessingFailureError('boom')),
          deadLetter(input(bad.typed), new SchemaViolationError('not JSON', 'NOT_JSON')),
          // What the mapping's backstop writes: the original record, no dead-letter format.
          { key: null, value: '{not json', headers: { [DRILL_INPUT_HEADER]: bad.untyped } },
          // A good event dead-lettered, redriven, then dead-lettered for good.
          deadLetter([{ key: 'eventId', value: ev.deadLettered }], new TransientError('down')),
          deadLetter([{ key: 'eventId', value: ev.deadLettered }], new ProcessingFailureError('x')),
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const sources = { pool: db.pool, kafkaEnv, topics };
    [truth, result] = await Promise.all([
      readGroundTruth(inputs, plans, {
        pool: db.pool,
        topic: topics.orderEvents,
        topics: { kafkaEnv, deadLetter: topics.deadLetter },
      }),
      account(inputs, plans, sources),
    ]);
  }, 120_000);

  afterAll(async () => {
    const admin = testKafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topics ?? {}) }).catch(() => undefined);
    await admin.disconnect();
    await db?.drop();
  });

  it('classifies each event by the first outcome that holds', () => {
    const outcome = (id: string) => truth.events.find((t) => t.event.id === id)?.outcome;
    expect(outcome(ev.a1)).toBe('processed');
    expect(outcome(bad.applied)).toBe('processed'); // through its eventId, not its header id
    expect(outcome(bad.typed)).toBe('parked');
    expect(outcome(bad.wrongType)).toBe('dead-lettered');
    expect(outcome(ev.deadLettered)).toBe('dead-lettered');
    expect(outcome(ev.pending)).toBe('pending');
    expect(outcome(ev.setAside)).toBe('set aside');
    expect(outcome(ev.discarded)).toBe('discarded');
    expect(outcome(ev.c1)).toBe('lost');
    const g1 = truth.events.find((t) => t.event.id === ev.g1);
    expect(g1).toMatchObject({ outbox: 'published', topicCopies: 2, appliedRows: 1 });
  });

  it('counts as lost what reached neither processed_events nor a dead letter, outbox rows included', () => {
    expect(result.lost).toBe(4);
    expect(result.examples.lost).toEqual([
      `OrderPlaced ${ev.c1} (expected apply)`,
      `OrderShipped ${ev.pending} (expected apply; outbox row pending)`,
      `OrderShipped ${ev.setAside} (expected apply; outbox row set aside)`,
      `OrderShipped ${ev.discarded} (expected apply; outbox row discarded)`,
    ]);
  });

  it('counts a transition applied twice (version), an event recorded twice, an unplanned order', () => {
    expect(result.appliedTwice).toBe(3); // f1's second row, B's third transition, the unplanned order
    expect(result.appliedOnce).toBe(6); // a1, b1, b2, e1, g1 and the bad input that applied
    expect(result.unexpectedOrders).toBe(1);
    expect(result.examples.unexpectedOrders).toEqual([`order ${unplanned} (CREATED)`]);
  });

  it('flags the bad inputs not dead-lettered with their type, typed or not, or applied', () => {
    expect(result.deadLettered).toBe(4);
    expect(result.deadLetteredByType).toEqual({
      PROCESSING_FAILURE: 2,
      SCHEMA_VIOLATION: 1,
      [UNTYPED]: 1,
    });
    expect(result.misfiled.map((m) => [m.id, m.got]).sort()).toEqual(
      [
        [bad.applied, 'applied'],
        [bad.untyped, UNTYPED],
        [bad.wrongType, 'PROCESSING_FAILURE'],
      ].sort(),
    );
    expect(result.parkedByType).toEqual({ SCHEMA_VIOLATION: 1 });
    expect(result.parkedMisfiled.map((m) => m.id).sort()).toEqual(
      [bad.applied, bad.untyped, bad.wrongType].sort(),
    );
    expect(result.byLabel.find((r) => r.label === 'not-json')).toEqual({
      label: 'not-json',
      expected: 'SCHEMA_VIOLATION',
      produced: 3,
      applied: 0,
      deadLettered: { PROCESSING_FAILURE: 1, SCHEMA_VIOLATION: 1, [UNTYPED]: 1 },
      lost: 0,
    });
  });

  it('shows the path of a good event that ended dead-lettered, and its copies', () => {
    expect(result.goodDeadLetteredByType).toEqual({ 'TRANSIENT→PROCESSING_FAILURE': 1 });
    expect(result.deadLetterCopies).toBe(5);
    expect(result.maxDeadLetterCopies).toBe(2);
  });

  it('flags an order whose every event applied but which is not in its planned state', () => {
    expect(result.stateMismatches).toEqual([order.E]);
  });

  it('counts published outbox rows and injected records on the topic, copies apart', () => {
    expect(result.published).toBe(2); // g1 (outbox) and the typed bad input (on the topic)
    expect(result.onTopic).toBe(2);
    expect(result.topicCopies).toBe(3);
  });

  it('fails every base check but the advisory one', () => {
    expect(baseChecks(result).map((c) => [c.ok, c.advisory ?? false])).toEqual([
      [false, false],
      [false, false],
      [false, false],
      [false, false],
      [false, false],
      [false, true],
    ]);
  });
});

// --- npm start: a database that outlives the run ----------------------------------------------

describe("npm start's run (a database shared with earlier runs)", () => {
  let db: TestDatabase;
  const topic = tag('npm-start-events');
  const O = Object.fromEntries(
    ['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'o8'].map((k) => [k, `order-${randomUUID()}`]),
  ) as Record<'o1' | 'o2' | 'o3' | 'o4' | 'o5' | 'o6' | 'o7' | 'o8', string>;
  const rogue = { badEnvelope: `rogue-${randomUUID()}`, unknown: `rogue-${randomUUID()}` };
  const api = (
    label: ProducedItem['label'],
    aggregateId: string,
    expected: ProducedItem['expected'] = 'processed',
  ): ProducedItem => ({ source: 'api', label, expected, eventId: randomUUID(), aggregateId });
  const items = {
    o1place: api('place', O.o1),
    o1pay: api('pay', O.o1),
    o2place: api('place', O.o2),
    o2ship: api('ship', O.o2, 'INVALID_TRANSITION'),
    o3place: api('place', O.o3),
    o3pay: api('pay', O.o3),
    o4place: api('place', O.o4),
    o5place: api('place', O.o5),
    o5cancel: api('cancel', O.o5),
    o6place: api('place', O.o6),
    o7place: api('place', O.o7),
    o8place: api('place', O.o8),
    notJson: {
      source: 'injected',
      label: 'not-json',
      expected: 'SCHEMA_VIOLATION',
      position: { partition: 0, offset: '7' },
    },
    staleNotJson: {
      source: 'injected',
      label: 'not-json',
      expected: 'SCHEMA_VIOLATION',
      position: { partition: 0, offset: '5' },
    },
    badEnvelope: {
      source: 'injected',
      label: 'bad-envelope',
      expected: 'SCHEMA_VIOLATION',
      eventId: randomUUID(),
      aggregateId: rogue.badEnvelope,
      position: { partition: 1, offset: '3' },
    },
    unknownType: {
      source: 'injected',
      label: 'unknown-event-type',
      expected: 'SCHEMA_VIOLATION',
      eventId: randomUUID(),
      aggregateId: rogue.unknown,
      position: { partition: 1, offset: '4' },
    },
  } satisfies Record<string, ProducedItem>;
  const id = (item: ProducedItem) => item.eventId as string;
  let since: Date;

  beforeAll(async () => {
    db = await createTestDatabase('ground_truth_npm_start');
    const { rows } = await db.pool.query<{ now: Date }>('SELECT now() AS now');
    since = rows[0]?.now as Date;
    // An earlier run parked a record at offset 0:5 of the same topic (a wiped broker reuses
    // offsets), and left an order behind: neither belongs to this run.
    await stageParked(db.pool, {
      topic,
      at: [0, 5],
      type: 'PROCESSING_FAILURE',
      parkedAt: new Date(since.getTime() - 3_600_000),
    });
    await stageOrders(db.pool, [
      [O.o1, 'PAYMENT_CAPTURED', 2],
      [O.o2, 'CREATED', 1],
      [O.o3, 'CREATED', 1],
      [O.o4, 'CREATED', 1],
      [O.o5, 'CREATED', 2], // both events applied, yet not CANCELLED
      [O.o6, 'CREATED', 2], // one event applied, two transitions
      [rogue.badEnvelope, 'CREATED', 1], // created by a bad record
      [`order-${randomUUID()}`, 'CREATED', 5], // an earlier run's
    ]);
    await stageProcessed(db.pool, [
      id(items.o1place),
      id(items.o1pay),
      id(items.o2place),
      id(items.o3place),
      id(items.o4place),
      id(items.o4place),
      id(items.o5place),
      id(items.o5cancel),
      id(items.o6place),
      id(items.unknownType),
    ]);
    const published = Object.values(items).filter(
      (i) => i.source === 'api' && i !== items.o3pay && i !== items.o8place,
    );
    await stageOutbox(db.pool, [
      ...published.map((i) => [id(i), 'published'] as [string, 'published']),
      [id(items.o3pay), 'pending'],
      [id(items.o8place), 'set aside'],
    ]);
    // Parked by event id (wherever consumed from) or, for a record with none, by position.
    await stageParked(db.pool, {
      topic,
      at: [0, 20],
      type: 'INVALID_TRANSITION',
      eventId: id(items.o2ship),
    });
    await stageParked(db.pool, {
      topic,
      at: [0, 21],
      type: 'INVALID_TRANSITION',
      eventId: id(items.o7place),
    });
    await stageParked(db.pool, { topic, at: [0, 7], type: 'SCHEMA_VIOLATION' });
    await stageParked(db.pool, {
      topic,
      at: [2, 9],
      type: 'SCHEMA_VIOLATION',
      eventId: id(items.badEnvelope),
    });
    // The same position on another topic is another record.
    await stageParked(db.pool, { topic: `${topic}-other`, at: [0, 5], type: 'TRANSIENT' });
  }, 120_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('adds up: processed + parked + lost = produced, published = outbox rows published', async () => {
    const a = await accountRun(db.pool, topic, Object.values(items), since);
    expect(a).toMatchObject({
      produced: 16,
      published: 10, // every API event but the pending and the set-aside one
      processed: 9,
      parked: 4,
      parkedByType: { SCHEMA_VIOLATION: 2, INVALID_TRANSITION: 2 },
      // o3's payment (pending), o8 (set aside), and the record only an earlier run parked
      lost: 3,
      // o7 parked, the unknown type processed, o4 twice, o6's extra transition, o5's state, the
      // order the bad envelope created
      unexpected: 6,
    });
    expect(a.produced).toBe(a.processed + a.parked + a.lost);
    expect(a.unexpectedExamples).toEqual([
      `pay ${id(items.o3pay)} expected processed, got nothing (lost: outbox row pending)`,
      `place ${id(items.o4place)} expected processed, got 2 processed_events rows`,
      `place ${id(items.o7place)} expected processed, got parked INVALID_TRANSITION`,
      `place ${id(items.o8place)} expected processed, got nothing (lost: outbox row set aside)`,
      'not-json (no id) at 0:5 expected SCHEMA_VIOLATION, got nothing (lost)',
    ]);
  });

  it("derives each order's plan from its events and reports what its row contradicts", async () => {
    const a = await accountRun(
      db.pool,
      topic,
      [items.o5place, items.o5cancel, items.o6place, items.badEnvelope],
      since,
    );
    expect(a).toMatchObject({ processed: 3, parked: 1, lost: 0, unexpected: 3 });
    expect([...a.unexpectedExamples].sort()).toEqual(
      [
        `order ${O.o5}: CREATED v2, planned CANCELLED v2`,
        `order ${O.o6}: version 2 after 1 distinct applied events`,
        `order ${rogue.badEnvelope} (CREATED): no event planned it`,
      ].sort(),
    );
  });

  it('finds nothing wrong in a run that went as planned', async () => {
    const a = await accountRun(
      db.pool,
      topic,
      [items.o1place, items.o1pay, items.o2place, items.o2ship, items.notJson],
      since,
    );
    expect(a).toEqual({
      produced: 5,
      published: 4,
      processed: 3,
      parked: 2,
      parkedByType: { SCHEMA_VIOLATION: 1, INVALID_TRANSITION: 1 },
      lost: 0,
      unexpected: 0,
      unexpectedExamples: [],
    });
  });
});
