// Redis down at cold start, through the real consumer handler factory: set-up does not wait for
// Redis, the first batch is applied by PostgreSQL alone (cache bypassed), and once a Redis comes
// up on the configured port the same runtime uses it again, without a restart. Also a Redis that
// accepts connections but never answers. Real PostgreSQL and broker; the Redis is a private
// redis-server started mid-test on a free port.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { createClient } from '@redis/client';
import type { MSKEvent } from 'aws-lambda';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsumerHandler } from '../../lambdas/order-consumer/handler';
import { type ConsumerRuntime, createConsumerRuntime } from '../../lambdas/order-consumer/runtime';
import { parseConsumerEnv, parseKafkaEnv } from '../../lambdas/shared/env';
import type { OrderEvent } from '../../lambdas/shared/events/envelope';
import type { LogSink } from '../../lambdas/shared/log-sink';
import { orderEvent } from '../../tools/fixtures/order-events';
import { lambdaContext } from '../../tools/local-runtime/lambda-context';
import { configuredEnv } from '../fixtures/function-env';
import { createTestDatabase, createTopic, sleep, type TestDatabase, testKafka } from './support';

let db: TestDatabase;
let admin: Admin;
let dlqTopic: string;
let redisPort: number;
let redisServer: ChildProcess | undefined;
let offset = 0;
const sourceTopic = `order-events-${randomUUID().slice(0, 8)}`;
const runtimes: ConsumerRuntime[] = [];

/** A local TCP port nothing listens on (bound once by the OS, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

/**
 * The real handler over a runtime built as tools/local-runtime/pipeline.ts builds it, with Redis at
 * `port`; counts what the consumer reports and what it logs.
 */
function consumerAt(port: () => number) {
  const counts = { applied: 0, duplicates: 0, deadLettered: 0, cacheBypassed: 0 };
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger: LogSink = {
    error: () => undefined,
    warn: (message) => warnings.push(message),
    info: (message) => infos.push(message),
    debug: () => undefined,
  };
  const built: { runtime?: ConsumerRuntime } = {};
  const handler = createConsumerHandler({
    runtime: async () => {
      const runtime = await createConsumerRuntime({
        pgEnv: db.env,
        kafkaEnv: parseKafkaEnv(process.env),
        redisEnv: { host: '127.0.0.1', port: port(), tls: false, authSecretArn: undefined },
        consumerEnv: parseConsumerEnv(configuredEnv({ DLQ_TOPIC: dlqTopic })),
        logger,
        pool: db.pool,
        // The Redis breaker opens during the outage; a short open period keeps the test short.
        breakerOptions: { openMs: 2_000 },
        breakerMetrics: { addMetric: () => undefined },
        telemetry: {
          applied: () => counts.applied++,
          duplicate: () => counts.duplicates++,
          deadLettered: () => counts.deadLettered++,
          chunkDuration: () => undefined,
          cacheBypassed: () => counts.cacheBypassed++,
        },
      });
      built.runtime = runtime;
      runtimes.push(runtime);
      return runtime;
    },
    logger,
    flushMetrics: () => undefined,
  });
  const invoke = (events: readonly OrderEvent[]) =>
    handler(mskEvent(events), lambdaContext('order-consumer', 60_000));
  return { invoke, counts, warnings, infos, built };
}

const consumer = consumerAt(() => redisPort);
const { counts, warnings, infos } = consumer;

/** An MSK event as Lambda delivers it: one partition, consecutive offsets, base64. */
function mskEvent(events: readonly OrderEvent[]): MSKEvent {
  const records = events.map((e) => ({
    topic: sourceTopic,
    partition: 0,
    offset: offset++,
    timestamp: Date.now(),
    timestampType: 'CREATE_TIME' as const,
    key: Buffer.from(e.aggregateId).toString('base64'),
    value: Buffer.from(JSON.stringify(e)).toString('base64'),
    headers: [],
  }));
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:local:000000000000:cluster/local/00000000',
    bootstrapServers: 'localhost:9092',
    records: { [`${sourceTopic}-0`]: records },
  };
}

async function order(id: string): Promise<{ status: string; version: number } | undefined> {
  const { rows } = await db.pool.query<{ status: string; version: number }>(
    'SELECT status, version FROM orders WHERE id = $1',
    [id],
  );
  return rows[0];
}

function lifecycle(id: string): OrderEvent[] {
  return [
    orderEvent('OrderPlaced', id, 0, randomUUID()),
    orderEvent('PaymentCaptured', id, 1, randomUUID()),
    orderEvent('OrderShipped', id, 2, randomUUID()),
  ];
}

async function redisKeys(): Promise<number> {
  const client = createClient({ socket: { host: '127.0.0.1', port: redisPort } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.dbSize();
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  db = await createTestDatabase('consumer_redis_cold');
  admin = testKafka().admin();
  await admin.connect();
  dlqTopic = await createTopic(admin, 'consumer-redis-cold-dlq', 1);
  redisPort = await freePort();
});

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.close()));
  if (redisServer && redisServer.exitCode === null) {
    const exited = new Promise((resolve) => redisServer?.once('exit', resolve));
    redisServer.kill('SIGTERM');
    await exited;
  }
  await admin?.deleteTopics({ topics: [dlqTopic] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
});

describe('order-consumer cold start with Redis down', () => {
  it('applies the first batch through PostgreSQL alone, within seconds', async () => {
    const id = `o-${randomUUID()}`;
    const started = performance.now();
    // Generous guard, only so a hang fails with a message rather than the test timeout.
    const response = await Promise.race([
      consumer.invoke(lifecycle(id)),
      sleep(60_000).then(() => 'no answer within 60 s' as const),
    ]);
    const elapsedMs = Math.round(performance.now() - started);
    console.log(`cold start with Redis down: first batch applied in ${elapsedMs} ms`);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
    expect(counts).toMatchObject({ applied: 3, deadLettered: 0, cacheBypassed: 3 });
    // The background connect failed and said so, as a warning, not an unhandled rejection.
    expect(warnings).toContain(
      'redis connection error; the idempotency cache is bypassed until redis answers',
    );
  });

  it('tells a redelivery from a new event by PostgreSQL alone while Redis stays down', async () => {
    const id = `o-${randomUUID()}`;
    const events = lifecycle(id);
    expect(await consumer.invoke(events)).toEqual({ batchItemFailures: [] });
    const before = { ...counts };
    expect(await consumer.invoke(events)).toEqual({ batchItemFailures: [] });
    expect(counts.duplicates - before.duplicates).toBe(3);
    expect(counts.applied - before.applied).toBe(0);
    expect(counts.cacheBypassed - before.cacheBypassed).toBe(3);
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
    // Reconnect attempts keep failing; their warning is throttled, not one line per attempt.
    const connectionWarnings = warnings.filter((w) => w.startsWith('redis connection error'));
    expect(connectionWarnings.length).toBeLessThanOrEqual(2);
  });

  it('uses Redis again once it answers, without a new runtime', async () => {
    const created = consumer.built.runtime;
    redisServer = spawn(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    // The server is up when a plain client can count its (zero) keys.
    const serverDeadline = Date.now() + 20_000;
    for (;;) {
      try {
        expect(await redisKeys()).toBe(0);
        break;
      } catch (error) {
        if (Date.now() > serverDeadline) throw error;
        await sleep(100);
      }
    }
    const upAt = performance.now();

    // New orders until one batch is gated by Redis: the client's next reconnect (at most 5 s
    // apart) and the Redis breaker's trial (2 s here) come first. Every batch still applies.
    const deadline = Date.now() + 60_000;
    let throughRedis: string | undefined;
    while (throughRedis === undefined) {
      if (Date.now() > deadline) throw new Error('the gate never used Redis again within 60 s');
      const id = `o-${randomUUID()}`;
      const bypassedBefore = counts.cacheBypassed;
      expect(await consumer.invoke([orderEvent('OrderPlaced', id, 0, randomUUID())])).toEqual({
        batchItemFailures: [],
      });
      expect(await order(id)).toEqual({ status: 'CREATED', version: 1 });
      if (counts.cacheBypassed === bypassedBefore) throughRedis = id;
      else await sleep(250);
    }
    console.log(
      `redis answered; the gate used it again after ${Math.round(performance.now() - upAt)} ms`,
    );
    expect(consumer.built.runtime).toBe(created);
    expect(infos).toContain('redis connected; the idempotency cache is in use');

    // From now on events go through Redis: keys appear there, nothing is bypassed, and a
    // redelivery is answered as a duplicate.
    const id = `o-${randomUUID()}`;
    const events = lifecycle(id);
    const keysBefore = await redisKeys();
    const before = { ...counts };
    expect(await consumer.invoke(events)).toEqual({ batchItemFailures: [] });
    expect(await redisKeys()).toBeGreaterThanOrEqual(keysBefore + 3);
    expect(await consumer.invoke(events)).toEqual({ batchItemFailures: [] });
    expect(counts.cacheBypassed).toBe(before.cacheBypassed);
    expect(counts.applied - before.applied).toBe(3);
    expect(counts.duplicates - before.duplicates).toBe(3);
    expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
  });

  it('sets up within a bounded time when Redis accepts connections but never answers', async () => {
    // A stalled Redis: TCP connects, so the connect timeout does not end the attempt; the
    // handshake (HELLO) never gets a reply.
    const held: Socket[] = [];
    const silent = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address !== 'object') throw new Error('no port');
    const stalled = consumerAt(() => address.port);
    try {
      const id = `o-${randomUUID()}`;
      const started = performance.now();
      const response = await Promise.race([
        stalled.invoke(lifecycle(id)),
        sleep(60_000).then(() => 'no answer within 60 s' as const),
      ]);
      const elapsedMs = Math.round(performance.now() - started);
      console.log(`cold start with a silent Redis: first batch applied in ${elapsedMs} ms`);
      expect(response).toEqual({ batchItemFailures: [] });
      expect(await order(id)).toEqual({ status: 'SHIPPED', version: 3 });
      expect(stalled.counts).toMatchObject({ applied: 3, deadLettered: 0, cacheBypassed: 3 });
      // close() does not wait for the handshake that never completes.
      const closing = performance.now();
      await stalled.built.runtime?.close();
      console.log(
        `close() with the handshake pending took ${Math.round(performance.now() - closing)} ms`,
      );
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
