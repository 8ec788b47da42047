// The drills' accounting must be able to fail: ground truth staged by hand in a real database
// and on real topics (a lost event, an order whose version shows a transition applied twice, an
// event recorded twice, a dead letter with the wrong type, an order in the wrong state) must
// show up in the figures, and a clean input must not.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeadLetter, encodeDeadLetter } from '../../../../lambdas/shared/dead-letter/message';
import { parseKafkaEnv, parsePgEnv } from '../../../../lambdas/shared/env';
import {
  ProcessingFailureError,
  SchemaViolationError,
} from '../../../../lambdas/shared/errors/taxonomy';
import { createKafka } from '../../../../lambdas/shared/kafka/client';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { type Accounting, account, UNTYPED } from '../../../../tools/verification/drill/accounting';
import { DRILL_INPUT_HEADER, type DrillInput } from '../../../../tools/verification/drill/inputs';
import {
  createDrillDatabase,
  createDrillTopics,
  type DrillDatabase,
  type DrillTopics,
  quietLogger,
} from '../../../../tools/verification/drill/setup';

let db: DrillDatabase;
let topics: DrillTopics;
let result: Accounting;

const id = (s: string) => `${s}-${randomUUID().slice(0, 8)}`;
const A = id('order-a');
const B = id('order-b');
const C = id('order-c');
const E = id('order-e');
const F = id('order-f');
const ev = { a1: randomUUID(), b1: randomUUID(), b2: randomUUID(), c1: randomUUID() };
const ev2 = { e1: randomUUID(), f1: randomUUID() };
const bad = { wrongType: id('bad-wrong'), typed: id('bad-typed'), untyped: id('bad-untyped') };

const inputs: DrillInput[] = [
  { id: ev.a1, label: 'OrderPlaced', expected: 'apply', aggregateId: A },
  { id: ev.b1, label: 'OrderPlaced', expected: 'apply', aggregateId: B },
  { id: ev.b2, label: 'PaymentCaptured', expected: 'apply', aggregateId: B },
  { id: ev.c1, label: 'OrderPlaced', expected: 'apply', aggregateId: C },
  { id: ev2.e1, label: 'OrderPlaced', expected: 'apply', aggregateId: E },
  { id: ev2.f1, label: 'OrderPlaced', expected: 'apply', aggregateId: F },
  { id: bad.wrongType, label: 'not-json', expected: 'SCHEMA_VIOLATION' },
  { id: bad.typed, label: 'not-json', expected: 'SCHEMA_VIOLATION' },
  { id: bad.untyped, label: 'not-json', expected: 'SCHEMA_VIOLATION' },
];

beforeAll(async () => {
  const kafkaEnv = parseKafkaEnv(process.env);
  db = await createDrillDatabase(parsePgEnv(process.env), 'accounting_it');
  topics = await createDrillTopics(kafkaEnv, loadStageConfig('dev'), 'accounting-it');
  // A applied once (v1). B: two events applied but version 3, a transition ran twice.
  // C: never applied, never dead-lettered (lost). E: applied, but the order is CANCELLED
  // where the plan says CREATED. F: one event recorded under two keys (applied twice).
  await db.pool.query(
    `INSERT INTO orders (id, customer_id, status, total_amount_minor, currency, version) VALUES
       ($1, 'c', 'CREATED', 1, 'EUR', 1), ($2, 'c', 'PAYMENT_CAPTURED', 1, 'EUR', 3),
       ($3, 'c', 'CANCELLED', 1, 'EUR', 1), ($4, 'c', 'CREATED', 1, 'EUR', 1)`,
    [A, B, E, F],
  );
  await db.pool.query(
    `INSERT INTO processed_events (idempotency_key, event_id)
     SELECT md5(random()::text || e), e FROM unnest($1::text[]) AS e`,
    [[ev.a1, ev.b1, ev.b2, ev2.e1, ev2.f1, ev2.f1]],
  );
  const producer = createKafka({
    clientId: 'accounting-it',
    connection: kafkaEnv,
    logger: quietLogger,
  }).producer();
  await producer.connect();
  const deadLetter = (input: string, error: unknown) => {
    const encoded = encodeDeadLetter(
      buildDeadLetter({
        value: Buffer.from('{not json'),
        key: null,
        headers: [{ key: DRILL_INPUT_HEADER, value: input }],
        source: { topic: topics.topics.orderEvents, partition: 0, offset: 1 },
        error,
        attempts: 1,
        firstFailureAt: new Date(),
      }),
    );
    return { key: encoded.key, value: encoded.value, headers: encoded.headers };
  };
  await producer.send({
    topic: topics.topics.deadLetter,
    messages: [
      deadLetter(bad.wrongType, new ProcessingFailureError('boom')),
      deadLetter(bad.typed, new SchemaViolationError('not JSON', 'NOT_JSON')),
      // What the mapping's backstop writes: the original record, no dead-letter format.
      { key: null, value: '{not json', headers: { [DRILL_INPUT_HEADER]: bad.untyped } },
    ],
  });
  await producer.disconnect();
  result = await account(
    inputs,
    [
      { orderId: A, finalState: 'CREATED', events: 1 },
      { orderId: B, finalState: 'PAYMENT_CAPTURED', events: 2 },
      { orderId: C, finalState: 'CREATED', events: 1 },
      { orderId: E, finalState: 'CREATED', events: 1 },
      { orderId: F, finalState: 'CREATED', events: 1 },
    ],
    { pool: db.pool, kafkaEnv, topics: topics.topics },
  );
}, 120_000);

afterAll(async () => {
  await topics?.drop();
  await db?.drop();
});

describe('drill accounting on staged ground truth', () => {
  it('counts the lost event', () => {
    expect(result.lost).toBe(1);
    expect(result.examples.lost?.[0]).toContain(ev.c1);
  });

  it('counts a transition applied twice (version) and an event recorded twice', () => {
    expect(result.appliedTwice).toBe(2);
    expect(result.appliedOnce).toBe(4); // a1, b1, b2, e1
  });

  it('flags the bad inputs not dead-lettered with their type, typed or not', () => {
    expect(result.deadLettered).toBe(3);
    expect(result.deadLetteredByType).toEqual({
      PROCESSING_FAILURE: 1,
      SCHEMA_VIOLATION: 1,
      [UNTYPED]: 1,
    });
    expect(result.misfiled.map((m) => [m.id, m.got]).sort()).toEqual(
      [
        [bad.untyped, UNTYPED],
        [bad.wrongType, 'PROCESSING_FAILURE'],
      ].sort(),
    );
  });

  it('flags an order whose every event applied but which is not in its planned state', () => {
    expect(result.stateMismatches).toEqual([E]);
  });

  it('reports nothing published for inputs that never reached the topic or the outbox', () => {
    expect(result.published).toBe(0);
    expect(result.onTopic).toBe(0);
  });
});
