// The real consumer handler behind the emulated mapping (the dev stage's settings) while
// PostgreSQL is unreachable: it hands records back with Kafka object identifiers, which the
// emulator, reading them as Lambda does, accepts and retries from. Every record ends on the
// dead-letter topic, written by the consumer or by the mapping's Kafka backstop once its
// retries run out (with the breaker open the consumer hands records back at once, so today the
// mapping's retries usually run out first).
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../lib/config/stage-config';
import { startConsumerMapping } from '../../scripts/local/pipeline';
import { lifecycle } from '../unit/order-consumer/events';
import {
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

describe('the consumer handler behind the emulated mapping', () => {
  it('hands records back as Kafka identifiers; every record ends on the dead-letter topic', async () => {
    const config = loadStageConfig('dev');
    const topic = await createTopic(admin, 'hand-back-events', 1);
    const dlq = await createTopic(admin, 'hand-back-dlq', 1);
    const events = lifecycle(`hb-${randomUUID().slice(0, 8)}`).slice(0, 2);
    await producer.send({
      topic,
      messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e) })),
    });

    const consumer = await startConsumerMapping({
      config,
      env: { ...process.env, ...db.envVars, PGPORT: '1' },
      logger: quietLogger,
      topic,
      deadLetterTopic: dlq,
      groupId: `hand-back-${randomUUID().slice(0, 8)}`,
    });
    const deadline = Date.now() + 90_000;
    const ended = () => consumer.counters.deadLettered + consumer.mapping.stats().sentToOnFailure;
    while (ended() < events.length && Date.now() < deadline) {
      await sleep(200);
    }
    await consumer.stop();

    const stats = consumer.mapping.stats();
    // Read as Lambda reads them: never an unreadable response, retried from the hand-back.
    expect(stats.malformedResponses).toBe(0);
    expect(stats.retries).toBeGreaterThan(0);
    expect(consumer.counters.applied).toBe(0);
    expect(consumer.counters.deadLettered + stats.sentToOnFailure).toBe(events.length);
    expect(consumer.counters.deadLettered).toBe(
      consumer.counters.deadLetteredByType.TRANSIENT ?? 0,
    );
    const letters = await consumeUntil(dlq, (r) => r.length >= events.length, 30_000);
    expect(letters).toHaveLength(events.length);
  });
});
