// The trace context across the asynchronous hop, on the real services: the order API handler (as
// npm start runs it, with a logger whose appendKeys does nothing), the relay loop and the
// consumer mapping of the local pipeline, on a scratch database and topics of this run. One
// order's event must show the same trace id on the API's, the relay's and the consumer's line,
// and its Kafka record must carry it in a `traceparent` header.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderCommands } from '../../lambdas/order-api/commands';
import { createOrderApiHandler, type OrderApiHandler } from '../../lambdas/order-api/handler';
import { createOrderApi } from '../../lambdas/order-api/http';
import type { LogFields, LogSink } from '../../lambdas/shared/log-sink';
import { orderApiSettings } from '../../lib/config/function-environment';
import { httpEvent, lambdaContext, parseBody } from '../../tools/local-runtime/http-event';
import { type LocalPipeline, startLocalPipeline } from '../../tools/local-runtime/pipeline';
import { TEST_STAGE_CONFIG } from '../fixtures/function-env';
import {
  consumeUntil,
  createTestDatabase,
  createTopic,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** Every line the handlers log, with its fields merged as the file logger of npm start does. */
function recordingLogger(): LogSink & { readonly lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, ...fields: LogFields[]) => {
      lines.push({ level, message, fields: Object.assign({}, ...fields) });
    };
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

let db: TestDatabase;
let admin: Admin;
let orderEvents: string;
let deadLetter: string;
let backstop: string;
let pipeline: LocalPipeline | undefined;
let api: OrderApiHandler;
const log = recordingLogger();

beforeAll(async () => {
  db = await createTestDatabase('tracing_it');
  admin = testKafka().admin();
  await admin.connect();
  orderEvents = await createTopic(admin, 'tracing-events', 3);
  deadLetter = await createTopic(admin, 'tracing-dlq', 1);
  backstop = mkdtempSync(path.join(tmpdir(), 'tracing-backstop-'));
  pipeline = await startLocalPipeline({
    config: TEST_STAGE_CONFIG,
    env: { ...process.env, ...db.envVars },
    logger: log,
    topics: { orderEvents, deadLetter },
    groupSuffix: `-tracing-${randomUUID().slice(0, 8)}`,
    backstopDirectory: backstop,
  });
  // As tools/local-runtime/start.ts builds it: the handler over a local router.
  api = createOrderApiHandler({
    flushMetrics: () => {},
    api: () =>
      createOrderApi({
        commands: orderCommands(db.pool, { logger: log }),
        limits: orderApiSettings(TEST_STAGE_CONFIG),
        logger: { ...log, appendKeys() {}, removeKeys() {} },
      }),
  });
});

afterAll(async () => {
  await pipeline?.stop();
  await admin?.deleteTopics({ topics: [orderEvents, deadLetter] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
  rmSync(backstop, { recursive: true, force: true });
});

/** POST /orders through the handler; the accepted event's id. */
async function placeOrder(headers: Record<string, string> = {}): Promise<string> {
  const res = await api(
    httpEvent({
      method: 'POST',
      path: '/orders',
      headers,
      body: {
        customerId: `cust-${randomUUID().slice(0, 8)}`,
        items: [{ sku: 'sku-1', quantity: 1, unitPriceMinor: 1_000 }],
        totalMinor: 1_000,
        currency: 'EUR',
      },
    }),
    lambdaContext,
  );
  expect(res.statusCode).toBe(202);
  return (parseBody(res) as { eventId: string }).eventId;
}

const lineOf = (message: string, eventId: string) =>
  log.lines.find((l) => l.message === message && l.fields.eventId === eventId);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The event's record on the topic, as the consumer mapping read it. */
async function recordOf(eventId: string) {
  const received = await consumeUntil(
    orderEvents,
    (r) => r.some((m) => m.eventId === eventId),
    10_000,
    0,
  );
  const record = received.find((m) => m.eventId === eventId);
  if (record === undefined) throw new Error(`record of ${eventId} not on ${orderEvents}`);
  return record;
}

/** The three lines of one event, once the consumer has applied it. */
async function linesOf(eventId: string) {
  const applied = await until('the consumer to apply the event', () =>
    lineOf('event applied', eventId),
  );
  const accepted = lineOf('order event accepted', eventId);
  const published = lineOf('event published', eventId);
  return { accepted, published, applied };
}

describe('trace context from the order API to the consumer', () => {
  it("carries the caller's trace id on the API, relay and consumer lines and in the Kafka header", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const eventId = await placeOrder({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });

    const { accepted, published, applied } = await linesOf(eventId);
    expect(accepted?.fields).toMatchObject({ traceId, sampled: true, eventType: 'OrderPlaced' });
    expect(published?.fields).toMatchObject({ traceId, topic: orderEvents });
    expect(applied?.fields).toMatchObject({ traceId, topic: orderEvents, outcome: 'confirmed' });

    const record = await recordOf(eventId);
    // The API's own span under the caller's, in the header; the event itself has no trace.
    expect(record.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(record.headers.traceparent).not.toContain('00f067aa0ba902b7');
    expect(JSON.stringify(record.value)).not.toContain(traceId);
    // The relay's and the consumer's positions are the record's.
    const position = { partition: record.partition, offset: record.offset };
    expect(published?.fields).toMatchObject(position);
    expect(applied?.fields).toMatchObject(position);
  });

  it('starts a new, sampled trace without a header, and the same id reaches all three lines', async () => {
    const eventId = await placeOrder();

    const { accepted, published, applied } = await linesOf(eventId);
    const traceId = accepted?.fields.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    // Its first 8 hex digits are the epoch seconds: a valid X-Ray trace id too.
    const seconds = Number.parseInt(String(traceId).slice(0, 8), 16);
    expect(Math.abs(seconds - Date.now() / 1000)).toBeLessThan(120);
    expect(published?.fields.traceId).toBe(traceId);
    expect(applied?.fields.traceId).toBe(traceId);

    const record = await recordOf(eventId);
    expect(record.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it('logs an unsampled event only where it enters: no per-event relay or consumer line', async () => {
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const eventId = await placeOrder({ traceparent: `00-${traceId}-00f067aa0ba902b7-00` });

    await until('the consumer to apply the event', async () => {
      const { rowCount } = await db.pool.query(
        'SELECT 1 FROM processed_events WHERE event_id = $1',
        [eventId],
      );
      return rowCount ? true : undefined;
    });
    expect(lineOf('order event accepted', eventId)?.fields).toMatchObject({
      traceId,
      sampled: false,
    });
    expect(lineOf('event published', eventId)).toBeUndefined();
    expect(lineOf('event applied', eventId)).toBeUndefined();
    const record = await recordOf(eventId);
    expect(record.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });
});
