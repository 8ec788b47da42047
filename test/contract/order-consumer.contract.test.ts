// The real order-consumer Lambda handler driven with the MSK event fixture (two partitions of
// order-events), against the real PostgreSQL, Redis and broker; its partial batch response is
// checked against the Kafka contract (object identifiers { partition, offset }).
import { randomUUID } from 'node:crypto';
import type { Context, MSKEvent } from 'aws-lambda';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseEnvelope } from '../../lambdas/shared/events/envelope';
import { partitionsOf } from '../../lambdas/shared/kafka/msk-event';
import {
  createTestDatabase,
  createTopic,
  type TestDatabase,
  testKafka,
} from '../integration/support';
import { fixture, lambdaContext } from './fixtures';
import { kafkaBatchResponseSchema, mskEventSchema } from './shapes';

type Handler = (event: MSKEvent, context: Context) => Promise<unknown>;
type MskRecord = MSKEvent['records'][string][number];

let db: TestDatabase;
let admin: Admin;
let dlqTopic: string;

beforeAll(async () => {
  db = await createTestDatabase('consumer_contract');
  admin = testKafka().admin();
  await admin.connect();
  dlqTopic = await createTopic(admin, 'consumer-contract-dlq', 1);
});

afterAll(async () => {
  await admin?.deleteTopics({ topics: [dlqTopic] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
  vi.unstubAllEnvs();
});

/** The fixture, checked against the MSK event schema. */
function mskFixture(): MSKEvent {
  const event = fixture('msk-event.json');
  expect(mskEventSchema.safeParse(event).error?.issues ?? [], 'msk-event.json').toEqual([]);
  return event as unknown as MSKEvent;
}

/**
 * The fixture with this run's topic and order ids: attempt counters (per topic, partition and
 * offset) and idempotency keys (per order, type and time) live in Redis beyond one run.
 */
function localEvent(run: string): { event: MSKEvent; orderIds: Map<string, string> } {
  const source = mskFixture();
  const topic = `${run}-order-events`;
  const orderIds = new Map<string, string>();
  const local = (id: string) => {
    if (!orderIds.has(id)) orderIds.set(id, `${run}-${id}`);
    return orderIds.get(id) as string;
  };
  const records: MSKEvent['records'] = {};
  for (const list of Object.values(source.records)) {
    for (const r of list) {
      const envelope = JSON.parse(Buffer.from(r.value, 'base64').toString('utf8'));
      envelope.aggregateId = local(envelope.aggregateId);
      envelope.data.orderId = local(envelope.data.orderId);
      const record: MskRecord = {
        ...r,
        topic,
        key: Buffer.from(envelope.aggregateId).toString('base64'),
        value: Buffer.from(JSON.stringify(envelope)).toString('base64'),
      };
      const key = `${topic}-${r.partition}`;
      records[key] = [...(records[key] ?? []), record];
    }
  }
  return { event: { ...source, records }, orderIds };
}

/** A fresh handler module (one runtime per module, as per execution environment). */
async function loadHandler(env: Record<string, string>): Promise<Handler> {
  vi.unstubAllEnvs();
  for (const [name, value] of Object.entries({
    ...db.envVars,
    KAFKA_AUTH: 'none',
    DLQ_TOPIC: dlqTopic,
    POWERTOOLS_SERVICE_NAME: 'order-consumer',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...env,
  })) {
    vi.stubEnv(name, value);
  }
  vi.resetModules();
  const mod = (await import('../../lambdas/order-consumer/handler')) as { handler: Handler };
  return mod.handler;
}

async function status(orderId: string): Promise<string | undefined> {
  const { rows } = await db.pool.query<{ status: string }>(
    'SELECT status FROM orders WHERE id = $1',
    [orderId],
  );
  return rows[0]?.status;
}

describe('the MSK event fixture', () => {
  it('decodes with the consumer reader: per partition in offset order, valid envelopes', () => {
    const groups = partitionsOf(mskFixture());
    expect(groups.map((g) => g.map((r) => `${r.topic}-${r.partition}@${r.offset}`))).toEqual([
      ['order-events-0@15', 'order-events-0@16'],
      ['order-events-3@482'],
    ]);
    for (const record of groups.flat()) {
      const parsed = parseEnvelope(record.value ?? Buffer.alloc(0));
      expect(parsed.ok, `${record.topic}-${record.partition}@${record.offset}`).toBe(true);
      expect(record.key?.toString()).toBe(parsed.ok ? parsed.event.aggregateId : '');
      expect(record.headers.map((h) => h.key)).toEqual([
        'eventId',
        'eventType',
        'schemaVersion',
        'correlationId',
      ]);
    }
  });
});

describe('order-consumer handler with the MSK event fixture', () => {
  it('applies every record and returns an empty batchItemFailures list', async () => {
    const handler = await loadHandler({});
    const { event, orderIds } = localEvent(`ok${randomUUID().slice(0, 6)}`);
    const response = await handler(event, lambdaContext('order-consumer', 60_000));

    expect(kafkaBatchResponseSchema.safeParse(response).error?.issues ?? []).toEqual([]);
    expect(response).toEqual({ batchItemFailures: [] });
    const [placedAndPaid, placed] = [...orderIds.values()];
    expect(await status(placedAndPaid ?? '')).toBe('PAYMENT_CAPTURED');
    expect(await status(placed ?? '')).toBe('CREATED');
  });

  it('hands records back with Kafka identifiers when PostgreSQL is unreachable', async () => {
    // A closed port: the database is down; the partitions wait for it until the stop margin
    // (15 s) before the timeout, here 20 s, then go back to the mapping.
    const handler = await loadHandler({ PGPORT: '1', CONSUMER_RETRY_ATTEMPTS: '0' });
    const { event } = localEvent(`down${randomUUID().slice(0, 6)}`);
    const response = await handler(event, lambdaContext('order-consumer', 20_000));

    const parsed = kafkaBatchResponseSchema.safeParse(response);
    expect(parsed.error?.issues ?? []).toEqual([]);
    // One identifier per partition: its earliest record, where Lambda resumes.
    const ids = (parsed.data?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    const keys = Object.keys(event.records);
    expect(ids.sort((a, b) => a.partition.localeCompare(b.partition))).toEqual([
      { partition: keys[0], offset: 15 },
      { partition: keys[1], offset: 482 },
    ]);
    // Each names a record of the batch by the event's own records key.
    for (const id of ids) {
      expect(event.records[id.partition]?.map((r) => r.offset)).toContain(id.offset);
    }
  });
});
