// Transient failures and the circuit breaker, against the real services: PostgreSQL is reached
// through a TCP relay the test can cut, so the pg driver sees real connection failures.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeBatch } from '../../lambdas/order-consumer/consumer';
import { type ConsumerRuntime, createConsumerRuntime } from '../../lambdas/order-consumer/runtime';
import { pgClientConfig } from '../../lambdas/shared/db/pool';
import { parseConsumerEnv, parseKafkaEnv, parseRedisEnv } from '../../lambdas/shared/env';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import type { MskEventLike } from '../../lambdas/shared/kafka/msk-event';
import { orderEvent } from '../../tools/fixtures/order-events';
import { configuredEnv } from '../fixtures/function-env';
import {
  CuttableRelay,
  createTestDatabase,
  createTopic,
  quietLogger,
  silentConsumerTelemetry,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

let db: TestDatabase;
let admin: Admin;
let dlqTopic: string;
let offset = 0;
// Unique per run: attempt counters live in Redis (keyed by topic/partition/offset) for a day.
const sourceTopic = `order-events-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  db = await createTestDatabase('consumer_fail_it');
  admin = testKafka().admin();
  await admin.connect();
  dlqTopic = await createTopic(admin, 'consumer-fail-dlq', 1);
});

afterAll(async () => {
  await admin?.disconnect();
  await db?.drop();
});

async function runtimeThrough(
  relay: CuttableRelay,
  breakerOptions: { failureThreshold?: number; openMs?: number },
): Promise<{ rt: ConsumerRuntime; pool: pg.Pool }> {
  const pool = new pg.Pool({
    ...pgClientConfig({ ...db.env, host: '127.0.0.1', port: relay.port }),
    max: 2,
    connectionTimeoutMillis: 1_000,
  });
  pool.on('error', () => undefined);
  const rt = await createConsumerRuntime({
    pgEnv: db.env,
    kafkaEnv: parseKafkaEnv(process.env),
    redisEnv: parseRedisEnv(process.env),
    consumerEnv: parseConsumerEnv(
      configuredEnv({
        DLQ_TOPIC: dlqTopic,
        CONSUMER_RETRY_ATTEMPTS: '2',
        CONSUMER_MAX_DELIVERY_ATTEMPTS: '3',
      }),
    ),
    logger: quietLogger,
    telemetry: silentConsumerTelemetry,
    pool,
    breakerOptions,
  });
  rt.idempotencyConfig.registerLambdaContext({ getRemainingTimeInMillis: () => 60_000 } as Context);
  return { rt, pool };
}

function mskEvent(events: OrderEvent[]): MskEventLike {
  return {
    records: {
      [`${sourceTopic}-0`]: events.map((e) => ({
        topic: sourceTopic,
        partition: 0,
        offset: offset++,
        timestamp: Date.now(),
        key: Buffer.from(e.aggregateId).toString('base64'),
        value: Buffer.from(JSON.stringify(e)).toString('base64'),
        headers: [],
      })),
    },
  };
}

describe('consumer under dependency failures', () => {
  it('an unreachable database is an outage, not a bad record: handed back on every delivery, never dead-lettered, no attempt counted', async () => {
    const relay = new CuttableRelay({ host: db.env.host, port: db.env.port });
    await relay.open();
    // A breaker that does not open here: the probe alone must tell the outage.
    const { rt, pool } = await runtimeThrough(relay, { failureThreshold: 1_000 });
    await relay.cut();
    const event = orderEvent('OrderPlaced', `o-${randomUUID()}`, 0, randomUUID());
    const delivery = mskEvent([event]);
    const identifier = {
      partition: `${sourceTopic}-0`,
      offset: Number(Object.values(delivery.records)[0]?.[0]?.offset),
    };

    // Without invocation time left (no context) each delivery goes back at once; before this
    // change the third one dead-lettered a good event as TRANSIENT.
    for (let i = 0; i < rt.options.maxDeliveryAttempts + 1; i++) {
      const summary = await consumeBatch(delivery, rt.deps, rt.options);
      expect(summary.batchItemFailures).toEqual([{ itemIdentifier: identifier }]);
      expect(summary.deadLettered).toBe(0);
    }
    // And with time left, it waits for the database inside the invocation, then applies.
    const reopened = (async () => {
      await sleep(3_000);
      await relay.open();
    })();
    const started = Date.now();
    const summary = await consumeBatch(delivery, rt.deps, rt.options, {
      remainingMs: () => 60_000 - (Date.now() - started),
    });
    await reopened;
    expect(summary).toMatchObject({ applied: 1, deadLettered: 0, batchItemFailures: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    await relay.cut();
    await rt.close();
    await pool.end();
  });

  it('opens the breaker after 5 failures, fails fast, half-opens after the open period and closes on success', async () => {
    const relay = new CuttableRelay({ host: db.env.host, port: db.env.port });
    await relay.open();
    const openMs = 1_500;
    const { rt, pool } = await runtimeThrough(relay, { openMs });
    const states: string[] = [];
    rt.breakers.postgres.onStateChange((c) => states.push(`${c.from}->${c.to}`));
    const port = relay.port;
    await relay.cut();

    // 2 failures per delivery (the apply and the probe that tells an outage): the third
    // delivery trips the breaker (5th).
    for (let i = 0; i < 3; i++) {
      await consumeBatch(
        mskEvent([orderEvent('OrderPlaced', `o-${randomUUID()}`)]),
        rt.deps,
        rt.options,
      );
      expect(rt.breakers.postgres.state).toBe(i < 2 ? 'CLOSED' : 'OPEN');
    }

    // Open: handed back at once, nothing dead-lettered, no call reaches PostgreSQL.
    const fastFail = await consumeBatch(
      mskEvent([orderEvent('OrderPlaced', `o-${randomUUID()}`)]),
      rt.deps,
      rt.options,
    );
    expect(fastFail).toMatchObject({ applied: 0, deadLettered: 0 });
    expect(fastFail.batchItemFailures).toHaveLength(1);

    // The network comes back; after the open period one trial goes through and closes it.
    relay.port = port;
    await relay.open();
    await sleep(openMs + 100);
    const id = `o-${randomUUID()}`;
    const recovered = await consumeBatch(
      mskEvent([orderEvent('OrderPlaced', id)]),
      rt.deps,
      rt.options,
    );
    expect(recovered).toMatchObject({ applied: 1, batchItemFailures: [] });
    expect(states).toEqual(['CLOSED->OPEN', 'OPEN->HALF_OPEN', 'HALF_OPEN->CLOSED']);
    const { rows } = await db.pool.query('SELECT status FROM orders WHERE id = $1', [id]);
    expect(rows).toEqual([{ status: 'CREATED' }]);
    await relay.cut();
    await rt.close();
    await pool.end();
  });
});
