// Transient failures and the circuit breaker, against the real services: PostgreSQL is reached
// through a TCP relay the test can cut, so the pg driver sees real connection failures.
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
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
import { orderEvent } from '../unit/order-consumer/events';
import {
  consumeUntil,
  createTestDatabase,
  createTopic,
  quietLogger,
  silentConsumerTelemetry,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

/** Forwards TCP to PostgreSQL until `cut()`: then refuses and resets, like a lost network. */
class CuttableRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    this.server = undefined;
  }
}

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
    consumerEnv: parseConsumerEnv({
      DLQ_TOPIC: dlqTopic,
      CONSUMER_RETRY_ATTEMPTS: '2',
      CONSUMER_MAX_DELIVERY_ATTEMPTS: '3',
    }),
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
  it('retries a transient failure, hands the record back, and dead-letters it after the delivery budget', async () => {
    const relay = new CuttableRelay({ host: db.env.host, port: db.env.port });
    await relay.open();
    // A breaker that does not open here, so the retry budget is what is exercised.
    const { rt, pool } = await runtimeThrough(relay, { failureThreshold: 1_000 });
    await relay.cut();
    const event = orderEvent('OrderPlaced', `o-${randomUUID()}`, 0, randomUUID());
    const delivery = mskEvent([event]);
    const identifier = {
      partition: `${sourceTopic}-0`,
      offset: Number(Object.values(delivery.records)[0]?.[0]?.offset),
    };

    // Deliveries 1 and 2: retried in place, then handed back to the mapping.
    for (let i = 0; i < 2; i++) {
      const summary = await consumeBatch(delivery, rt.deps, rt.options);
      expect(summary.batchItemFailures).toEqual([{ itemIdentifier: identifier }]);
      expect(summary.deadLettered).toBe(0);
    }
    // Delivery 3 reaches the budget: dead-lettered as TRANSIENT, the partition moves on.
    const third = await consumeBatch(delivery, rt.deps, rt.options);
    expect(third).toMatchObject({ deadLettered: 1, batchItemFailures: [] });
    const dead = await consumeUntil(
      dlqTopic,
      (r) => r.some((m) => m.headers.eventId === event.eventId),
      30_000,
    );
    const letter = dead.find((m) => m.headers.eventId === event.eventId);
    expect(letter?.headers.errorType).toBe('TRANSIENT');
    expect(letter?.value).toMatchObject({ attempts: 3, errorType: 'TRANSIENT' });
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

    // 3 failures per delivery (1 + 2 retries): the second delivery trips the breaker (5th).
    await consumeBatch(
      mskEvent([orderEvent('OrderPlaced', `o-${randomUUID()}`)]),
      rt.deps,
      rt.options,
    );
    await consumeBatch(
      mskEvent([orderEvent('OrderPlaced', `o-${randomUUID()}`)]),
      rt.deps,
      rt.options,
    );
    expect(rt.breakers.postgres.state).toBe('OPEN');

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
