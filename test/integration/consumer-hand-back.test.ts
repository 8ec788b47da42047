// The real consumer handler behind the emulated mapping (the dev stage's settings) while
// PostgreSQL cannot be reached. A database that comes back within the invocation's time is
// waited for: the backlog is applied in order, nothing is handed back or dead-lettered. One that
// never comes back costs each invocation its time, then the records are handed back with Kafka
// object identifiers, which the emulator reads as Lambda does, and after the mapping's retries
// they go to its on-failure destination (the dead-letter topic) — never dead-lettered by the
// consumer as TRANSIENT while the database is away.
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import { loadStageConfig, type StageConfig } from '../../lib/config/stage-config';
import { lifecycle } from '../../tools/fixtures/order-events';
import { startConsumerMapping } from '../../tools/local-runtime/pipeline';
import {
  CuttableRelay,
  consumeUntil,
  createTestDatabase,
  createTopic,
  quietLogger,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

let db: TestDatabase;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  db = await createTestDatabase('consumer_hand_back');
  const kafka = testKafka();
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await db?.drop();
});

const withConsumerTimeout = (config: StageConfig, timeoutSeconds: number): StageConfig => ({
  ...config,
  functions: {
    ...config.functions,
    orderConsumer: { ...config.functions.orderConsumer, timeoutSeconds },
  },
});

async function publish(topic: string, events: readonly OrderEvent[]) {
  await producer.send({
    topic,
    messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e) })),
  });
}

describe('the consumer handler behind the emulated mapping, PostgreSQL unreachable', () => {
  it('waits out an outage inside the invocation: the backlog is applied, nothing handed back or dead-lettered', async () => {
    // A 5 s open period (dev: 30 s) lets the partitions resume soon after the database returns.
    const config = {
      ...loadStageConfig('dev'),
      breaker: { failureThreshold: 5, windowMs: 60_000, openMs: 5_000 },
    };
    const topic = await createTopic(admin, 'outage-events', 3);
    const dlq = await createTopic(admin, 'outage-dlq', 1);
    const run = randomUUID().slice(0, 8);
    const events = Array.from({ length: 100 }, (_, i) => lifecycle(`ow-${run}-${i}`)).flat();
    await publish(topic, events);
    const door = new CuttableRelay({ host: db.env.host, port: db.env.port });
    await door.open();
    await door.cut();

    const consumer = await startConsumerMapping({
      config,
      env: { ...process.env, ...db.envVars, PGPORT: String(door.port) },
      logger: quietLogger,
      topic,
      deadLetterTopic: dlq,
      groupId: `outage-${run}`,
    });
    const outageMs = 15_000;
    const downSince = Date.now();
    try {
      await sleep(outageMs);
      // Nothing could be applied while the door was closed.
      expect(consumer.counters.applied).toBe(0);
      await door.open();
      const deadline = Date.now() + 90_000;
      while (consumer.counters.applied < events.length && Date.now() < deadline) await sleep(200);
    } finally {
      await consumer.stop();
      await door.cut();
    }
    expect(Date.now() - downSince).toBeGreaterThanOrEqual(outageMs);
    const stats = consumer.mapping.stats();
    expect(consumer.counters.applied).toBe(events.length);
    expect(consumer.counters.deadLettered).toBe(0);
    expect(stats).toMatchObject({ retries: 0, sentToOnFailure: 0, timeouts: 0 });
    const { rows } = await db.pool.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM orders WHERE id LIKE $1 GROUP BY status`,
      [`ow-${run}-%`],
    );
    expect(rows).toEqual([{ status: 'SHIPPED', n: '100' }]);
  }, 180_000);

  it('a database that never returns: each invocation waits its time, then the mapping retries and gives the records to its on-failure topic', async () => {
    // A 20 s timeout (dev: 120 s) keeps the test short: each invocation waits ~5 s.
    const config = withConsumerTimeout(loadStageConfig('dev'), 20);
    const topic = await createTopic(admin, 'hand-back-events', 1);
    const dlq = await createTopic(admin, 'hand-back-dlq', 1);
    // One record: bisecting a batch would give each half its own retries.
    const events = lifecycle(`hb-${randomUUID().slice(0, 8)}`).slice(0, 1);
    await publish(topic, events);

    const consumer = await startConsumerMapping({
      config,
      env: { ...process.env, ...db.envVars, PGPORT: '1' },
      logger: quietLogger,
      topic,
      deadLetterTopic: dlq,
      groupId: `hand-back-${randomUUID().slice(0, 8)}`,
    });
    const started = Date.now();
    const deadline = started + 120_000;
    const ended = () => consumer.counters.deadLettered + consumer.mapping.stats().sentToOnFailure;
    while (ended() < events.length && Date.now() < deadline) await sleep(200);
    const elapsedMs = Date.now() - started;
    await consumer.stop();

    const stats = consumer.mapping.stats();
    const invocations = config.mappings.orderConsumer.retryAttempts + 1;
    // Read as Lambda reads them: never an unreadable response, never a timeout.
    expect(stats).toMatchObject({
      malformedResponses: 0,
      timeouts: 0,
      retries: invocations - 1,
      sentToOnFailure: events.length,
    });
    // Each invocation waited for the database until shortly before its timeout.
    const waitPerInvocationMs = 20_000 - config.consumer.stopBeforeTimeoutMs;
    expect(elapsedMs).toBeGreaterThanOrEqual(invocations * (waitPerInvocationMs - 2_500));
    expect(consumer.counters.applied).toBe(0);
    expect(consumer.counters.deadLettered).toBe(0);
    const letters = await consumeUntil(dlq, (r) => r.length >= events.length, 30_000);
    expect(letters).toHaveLength(events.length);
  }, 180_000);
});
