// The local services tool against the real services (no mocks of Kafka,
// PostgreSQL or Redis). The first run may download the broker jars, hence the long timeouts.
// The broker is left running for the other integration tests.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../../../lambdas/shared/kafka/client';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import type { ServiceEndpoints } from '../../../../tools/local-runtime/services';
import {
  ensureServices,
  probeRedis,
  REPO_ROOT,
  servicesStatus,
  silentProgress,
} from '../../../../tools/local-runtime/services';

const SETUP_TIMEOUT_MS = 10 * 60_000;
const quiet: LogSink = { error() {}, warn() {}, info() {}, debug() {} };

let endpoints: ServiceEndpoints;
let kafka: Kafka;
const topic = `it-services-${randomUUID()}`;
const groupId = `it-services-${randomUUID()}`;

beforeAll(async () => {
  endpoints = await ensureServices();
  kafka = createKafka({
    clientId: 'it-services',
    connection: { auth: 'none', brokers: endpoints.kafka.brokers },
    logger: quiet,
  });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (kafka === undefined) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (topics.includes(topic)) await admin.deleteTopics({ topics: [topic] });
    await admin.deleteGroups([groupId]).catch(() => {});
  } finally {
    await admin.disconnect();
  }
}, 60_000);

describe('local services', () => {
  it('status reports kafka, postgres and redis up', async () => {
    const statuses = await servicesStatus();
    expect(statuses.map((s) => [s.name, s.up])).toEqual([
      ['kafka', true],
      ['postgres', true],
      ['redis', true],
    ]);
  }, 60_000);

  it('the CLI `status` prints three up lines and exits 0', async () => {
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const { stdout } = await promisify(execFile)(
      tsx,
      ['tools/local-runtime/services/cli.ts', 'status'],
      {
        cwd: REPO_ROOT,
        timeout: 60_000,
      },
    );
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const [i, name] of ['kafka', 'postgres', 'redis'].entries()) {
      expect(lines[i]).toMatch(new RegExp(`^${name}\\s+up\\s`));
    }
  }, 60_000);

  it('Kafka accepts a produce and a consumer-group fetch on a fresh topic', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        }),
      ).toBe(true);
    } finally {
      await admin.disconnect();
    }

    const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    const value = randomUUID();
    try {
      const [meta] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: 'k', value }],
      });
      expect(meta?.errorCode).toBe(0);
    } finally {
      await producer.disconnect();
    }

    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = await new Promise<string | undefined>((resolve, reject) => {
        consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message, partition }) => {
              await consumer.commitOffsets([
                { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
              ]);
              resolve(message.value?.toString());
            },
          })
          .catch(reject);
      });
      expect(received).toBe(value);
    } finally {
      await consumer.disconnect();
    }

    const check = kafka.admin();
    await check.connect();
    try {
      const [offsets] = await check.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '1' })]);
    } finally {
      await check.disconnect();
    }
  }, 120_000);

  it('Kafka does not auto-create topics (as on MSK)', async () => {
    const missing = `it-services-missing-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: 4 /* BROKER */, name: '1', configNames: ['auto.create.topics.enable'] },
        ],
      });
      expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('false');

      // The default producer asks for auto-creation in its metadata requests; the broker refuses.
      const producer = createKafka({
        clientId: 'it-services-autocreate',
        connection: { auth: 'none', brokers: endpoints.kafka.brokers },
        logger: quiet,
        overrides: { retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 } },
      }).producer();
      await producer.connect();
      try {
        await expect(
          producer.send({ topic: missing, messages: [{ value: 'x' }] }),
        ).rejects.toThrow();
      } finally {
        await producer.disconnect();
      }
      expect(await admin.listTopics()).not.toContain(missing);
    } finally {
      await admin.disconnect();
    }
  }, 120_000);

  it('PostgreSQL answers select 1', async () => {
    const client = new pg.Client({
      host: endpoints.postgres.host,
      port: endpoints.postgres.port,
      user: endpoints.postgres.user,
      database: endpoints.postgres.database,
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ one: number }>('select 1 as one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  it('Redis answers PING', async () => {
    expect(await probeRedis(endpoints.redis)).toEqual({ ok: true });
  });

  it('a second ensureServices() is a no-op on the same broker', async () => {
    const again = await ensureServices({ progress: silentProgress });
    expect(again.started).toEqual([]);
    expect(again.kafka.started).toBe(false);
    expect(again.kafka.pid).toBe(endpoints.kafka.pid);
    expect(again.kafka.brokers).toEqual(endpoints.kafka.brokers);
    if (endpoints.kafka.managed) expect(again.kafka.pid).toBeGreaterThan(0);
  }, 120_000);
});
