// The order API against the real PostgreSQL: the Lambda handler (and, for injected failures, the
// HTTP layer on the real pool) driven with HTTP API v2 events.
import { randomUUID } from 'node:crypto';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { orderCommands } from '../../lambdas/order-api/commands';
import { createOrderApi, type RequestLogger } from '../../lambdas/order-api/http';
import type { Database } from '../../lambdas/order-api/orders-repository';
import { pgClientConfig } from '../../lambdas/shared/db/pool';
import { parseEnvelope } from '../../lambdas/shared/events/envelope';
import { WAKE_RELAY_SQL } from '../../lambdas/shared/outbox/outbox';
import { orderApiSettings } from '../../lib/config/function-environment';
import {
  type HttpEventInput,
  httpEvent,
  lambdaContext,
  parseBody,
} from '../../tools/local-runtime/http-event';
import { TEST_STAGE_CONFIG } from '../fixtures/function-env';
import { createTestDatabase, quietLogger, type TestDatabase } from './support';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

let db: TestDatabase;
let handler: Handler;
let closePool: () => Promise<void>;

const silentRequestLogger: RequestLogger = {
  ...quietLogger,
  appendKeys: () => undefined,
  removeKeys: () => undefined,
};

beforeAll(async () => {
  db = await createTestDatabase('orderapi_it');
  for (const [name, value] of Object.entries(db.envVars)) vi.stubEnv(name, value);
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  // Fresh modules read the stubbed PG* variables (env.ts caches per module instance).
  vi.resetModules();
  ({ handler } = await import('../../lambdas/order-api/handler'));
  ({ closePool } = await import('../../lambdas/shared/db/pool'));
});

afterAll(async () => {
  await closePool?.();
  await db?.drop();
  vi.unstubAllEnvs();
});

async function call(input: HttpEventInput, api: Handler = handler) {
  const result = await api(httpEvent(input), lambdaContext);
  return { ...result, json: parseBody(result) as Record<string, unknown> };
}

function order(overrides: Record<string, unknown> = {}) {
  return {
    customerId: `cust-${randomUUID().slice(0, 8)}`,
    items: [
      { sku: 'sku-1', quantity: 2, unitPriceMinor: 1_250 },
      { sku: 'sku-2', quantity: 1, unitPriceMinor: 500 },
    ],
    totalMinor: 3_000,
    currency: 'EUR',
    ...overrides,
  };
}

interface OrderRow {
  id: string;
  customer_id: string;
  status: string;
  total_amount_minor: string;
  currency: string;
  version: number;
  updated_at: Date;
  xid: string;
}

interface OutboxRowDb {
  id: string;
  seq: string;
  aggregate_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  xid: string;
}

async function orderRows(orderId: string): Promise<OrderRow[]> {
  const { rows } = await db.pool.query<OrderRow>(
    'SELECT *, xmin::text AS xid FROM orders WHERE id = $1',
    [orderId],
  );
  return rows;
}

async function outboxRows(orderId: string): Promise<OutboxRowDb[]> {
  const { rows } = await db.pool.query<OutboxRowDb>(
    `SELECT id, seq, aggregate_id, event_type, payload, headers, xmin::text AS xid
       FROM outbox WHERE aggregate_id = $1 ORDER BY seq`,
    [orderId],
  );
  return rows;
}

async function tableCounts(): Promise<{ orders: number; outbox: number }> {
  const { rows } = await db.pool.query<{ orders: number; outbox: number }>(
    'SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM outbox)::int AS outbox',
  );
  const counts = rows[0];
  if (counts === undefined) throw new Error('no counts');
  return counts;
}

async function placeOrder(body: Record<string, unknown> = order()) {
  const res = await call({ method: 'POST', path: '/orders', body });
  expect(res.statusCode).toBe(202);
  return res.json as { orderId: string; eventId: string; correlationId: string };
}

describe('order API on PostgreSQL', () => {
  it('GET /health answers 200 when the database does', async () => {
    const res = await call({ method: 'GET', path: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('POST /orders writes the order and its OrderPlaced envelope in one transaction', async () => {
    const body = order();
    const res = await call({
      method: 'POST',
      path: '/orders',
      body,
      headers: { 'x-correlation-id': 'it-corr-1' },
    });
    expect(res.statusCode).toBe(202);
    expect(res.headers?.['x-correlation-id']).toBe('it-corr-1');
    const { orderId, eventId, correlationId } = res.json as Record<string, string>;
    expect(correlationId).toBe('it-corr-1');

    const orders = await orderRows(orderId ?? '');
    expect(orders).toHaveLength(1);
    expect(orders[0]).toMatchObject({
      customer_id: body.customerId,
      status: 'CREATED',
      total_amount_minor: '3000',
      currency: 'EUR',
      version: 1,
    });

    const outbox = await outboxRows(orderId ?? '');
    expect(outbox).toHaveLength(1);
    const row = outbox[0];
    expect(row).toMatchObject({ id: eventId, aggregate_id: orderId, event_type: 'OrderPlaced' });
    // Same xmin: both rows were written by the same transaction.
    expect(row?.xid).toBe(orders[0]?.xid);
    const parsed = parseEnvelope(row?.payload);
    expect(parsed.ok).toBe(true);
    expect(row?.payload).toMatchObject({
      eventId,
      eventType: 'OrderPlaced',
      aggregateId: orderId,
      correlationId: 'it-corr-1',
      schemaVersion: '1.0.0',
      data: { ...body, orderId },
    });
    expect(row?.headers).toEqual({
      eventId,
      eventType: 'OrderPlaced',
      schemaVersion: '1.0.0',
      correlationId: 'it-corr-1',
      // No caller context and no X-Ray outside Lambda: a new, sampled trace.
      traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
    });
  });

  it("puts the caller's trace id into the outbox row's traceparent header, never into the event", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: order(),
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.statusCode).toBe(202);
    const [row] = await outboxRows(String(res.json.orderId));
    const header = row?.headers.traceparent ?? '';
    expect(header).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    // A new span id: this request is a child of the caller's span.
    expect(header).not.toContain('00f067aa0ba902b7');
    expect(JSON.stringify(row?.payload)).not.toContain(traceId);
    expect(Object.keys(row?.payload ?? {}).sort()).toEqual([
      'aggregateId',
      'correlationId',
      'data',
      'eventId',
      'eventType',
      'schemaVersion',
      'timestamp',
    ]);
  });

  it('wakes a listening relay after each accepted command, and not for a refused one', async () => {
    const listener = new pg.Client(pgClientConfig(db.env));
    await listener.connect();
    const woken: string[] = [];
    listener.on('notification', (n) => woken.push(n.channel));
    await listener.query('LISTEN outbox');
    try {
      const orderId = `wake-${randomUUID()}`;
      const post = () => call({ method: 'POST', path: '/orders', body: order({ orderId }) });
      expect((await post()).statusCode).toBe(202);
      expect((await post()).statusCode).toBe(409);
      // A round trip on the listener delivers whatever was sent before it.
      await listener.query('SELECT 1');
      expect(woken).toEqual(['outbox']);
      // The notification comes from its own transaction, after the order's commit.
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'outbox_notify_insert'",
      );
      expect(rows[0]?.n).toBe(0);
    } finally {
      await listener.end();
    }
  });

  it('uses a client-supplied orderId and answers 409 when that order exists', async () => {
    const orderId = `client-${randomUUID()}`;
    const first = await placeOrder(order({ orderId }));
    expect(first.orderId).toBe(orderId);
    // Without a correlation header the event id is the correlation id.
    expect(first.correlationId).toBe(first.eventId);

    const again = await call({ method: 'POST', path: '/orders', body: order({ orderId }) });
    expect(again.statusCode).toBe(409);
    expect(await outboxRows(orderId)).toHaveLength(1);
  });

  it('rejects invalid input with 400 and issue paths, writing nothing', async () => {
    const before = await tableCounts();
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: order({ items: [{ sku: 'sku-1', quantity: 0, unitPriceMinor: 1 }], currency: 'eur' }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json.error).toBe('ValidationError');
    const paths = (res.json.issues as { path: string }[]).map((i) => i.path).sort();
    expect(paths).toEqual(['currency', 'items[0].quantity']);
    expect(await tableCounts()).toEqual(before);
  });

  it('rejects malformed JSON with 400, writing nothing', async () => {
    const before = await tableCounts();
    const res = await call({ method: 'POST', path: '/orders', body: '{"customerId": "c-1",' });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ error: 'MalformedJson' });
    expect(await tableCounts()).toEqual(before);
  });

  it('answers 404 for an event about a missing order and writes no outbox row', async () => {
    const orderId = `missing-${randomUUID()}`;
    const res = await call({
      method: 'POST',
      path: `/orders/${orderId}/events`,
      body: { eventType: 'OrderCancelled', data: { reason: 'customer request' } },
    });
    expect(res.statusCode).toBe(404);
    expect(await outboxRows(orderId)).toHaveLength(0);
    expect(await orderRows(orderId)).toHaveLength(0);
  });

  it('records PaymentCaptured after OrderPlaced with an increasing seq; status stays', async () => {
    const placed = await placeOrder();
    const res = await call({
      method: 'POST',
      path: `/orders/${placed.orderId}/events`,
      body: {
        eventType: 'PaymentCaptured',
        data: { orderId: placed.orderId, paymentId: 'pay-1', amountMinor: 3_000, currency: 'EUR' },
      },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json.orderId).toBe(placed.orderId);

    const outbox = await outboxRows(placed.orderId);
    expect(outbox.map((r) => r.event_type)).toEqual(['OrderPlaced', 'PaymentCaptured']);
    expect(outbox.map((r) => r.id)).toEqual([placed.eventId, res.json.eventId]);
    expect(BigInt(outbox[1]?.seq ?? 0)).toBeGreaterThan(BigInt(outbox[0]?.seq ?? 0));
    const payment = parseEnvelope(outbox[1]?.payload);
    expect(payment.ok && payment.event.data).toEqual({
      orderId: placed.orderId,
      paymentId: 'pay-1',
      amountMinor: 3_000,
      currency: 'EUR',
    });

    const [row] = await orderRows(placed.orderId);
    // The API records the fact and only locks the row; the consumer's state machine moves the
    // status and the version (applied transitions), so the row is not written here.
    expect(row).toMatchObject({ status: 'CREATED', version: 1 });
    expect(row?.xid).not.toBe(outbox[1]?.xid);
  });

  it('GET /orders/{orderId} reads the row back: status, version and the last change', async () => {
    const placed = await placeOrder();
    const fresh = await call({ method: 'GET', path: `/orders/${placed.orderId}` });
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers?.['cache-control']).toBe('no-store');
    const [row] = await orderRows(placed.orderId);
    expect(fresh.json).toEqual({
      orderId: placed.orderId,
      status: 'CREATED',
      version: 1,
      updatedAt: row?.updated_at.toISOString(),
    });

    // What the consumer's state machine writes is what the client reads.
    await db.pool.query(
      `UPDATE orders SET status = 'PAYMENT_CAPTURED', version = 2,
         updated_at = '2026-01-02T03:04:05.678Z' WHERE id = $1`,
      [placed.orderId],
    );
    const moved = await call({
      method: 'GET',
      path: `/orders/${encodeURIComponent(placed.orderId)}`,
    });
    expect(moved.json).toEqual({
      orderId: placed.orderId,
      status: 'PAYMENT_CAPTURED',
      version: 2,
      updatedAt: '2026-01-02T03:04:05.678Z',
    });
  });

  it('GET /orders/{orderId} answers 404 for an unknown order and 400 for an id no event takes', async () => {
    const unknown = await call({ method: 'GET', path: `/orders/missing-${randomUUID()}` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json).toMatchObject({ error: 'NotFound' });
    const tooLong = await call({ method: 'GET', path: `/orders/${'x'.repeat(201)}` });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json).toMatchObject({ error: 'ValidationError', issues: [{ path: 'orderId' }] });
  });

  it('rejects an event whose data names another order, writing nothing', async () => {
    const placed = await placeOrder();
    const res = await call({
      method: 'POST',
      path: `/orders/${placed.orderId}/events`,
      body: {
        eventType: 'OrderShipped',
        data: { orderId: 'someone-else', carrier: 'DHL', trackingNumber: 'T1' },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json.issues).toEqual([{ path: 'data.orderId', message: expect.any(String) }]);
    expect(await outboxRows(placed.orderId)).toHaveLength(1);
  });

  it('rejects an unknown event type and invalid event data with 400', async () => {
    const placed = await placeOrder();
    const unknown = await call({
      method: 'POST',
      path: `/orders/${placed.orderId}/events`,
      body: { eventType: 'OrderPlaced', data: {} },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json.issues).toEqual([{ path: 'eventType', message: expect.any(String) }]);

    const invalid = await call({
      method: 'POST',
      path: `/orders/${placed.orderId}/events`,
      body: { eventType: 'OrderShipped', data: { carrier: 'DHL' } },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json.issues).toEqual([
      { path: 'data.trackingNumber', message: expect.any(String) },
    ]);
    expect(await outboxRows(placed.orderId)).toHaveLength(1);
    expect((await orderRows(placed.orderId))[0]?.version).toBe(1);
  });
});

describe('atomicity', () => {
  // Reuses an existing event id, so the outbox insert violates its primary key inside the
  // transaction, after the order row was written.
  function apiReusingEventId(eventId: string): Handler {
    return createOrderApi({
      commands: orderCommands(db.pool),
      logger: silentRequestLogger,
      limits: orderApiSettings(TEST_STAGE_CONFIG),
      newId: () => eventId,
    });
  }

  it('a failed outbox insert rolls back the new order row', async () => {
    const existing = await placeOrder();
    const orderId = `atomic-${randomUUID()}`;
    const res = await call(
      { method: 'POST', path: '/orders', body: order({ orderId }) },
      apiReusingEventId(existing.eventId),
    );
    expect(res.statusCode).toBe(500);
    expect(res.json).toEqual({ error: 'InternalServerError', message: 'internal error' });
    expect(await orderRows(orderId)).toHaveLength(0);
    expect(await outboxRows(orderId)).toHaveLength(0);
  });

  it('a failed outbox insert rolls back the order update of an event', async () => {
    const placed = await placeOrder();
    const [before] = await orderRows(placed.orderId);
    const res = await call(
      {
        method: 'POST',
        path: `/orders/${placed.orderId}/events`,
        body: { eventType: 'OrderCancelled', data: { reason: 'changed mind' } },
      },
      apiReusingEventId(placed.eventId),
    );
    expect(res.statusCode).toBe(500);
    const [after] = await orderRows(placed.orderId);
    expect(after?.version).toBe(1);
    expect(after?.updated_at).toEqual(before?.updated_at);
    expect((await outboxRows(placed.orderId)).map((r) => r.event_type)).toEqual(['OrderPlaced']);
  });

  it('keeps an accepted order when the relay wake-up fails, reports it and drops that client', async () => {
    // A database whose clients refuse the wake-up statement (a connection lost after COMMIT).
    const released: unknown[] = [];
    const failingWake: Database = {
      query: (...args: Parameters<pg.Pool['query']>) => db.pool.query(...args),
      connect: async () => {
        const client = await db.pool.connect();
        const query = client.query.bind(client) as (text: unknown, ...rest: unknown[]) => unknown;
        const release = client.release.bind(client);
        return Object.assign(client, {
          query: (text: unknown, ...rest: unknown[]) =>
            text === WAKE_RELAY_SQL
              ? Promise.reject(new Error('Connection terminated unexpectedly'))
              : query(text, ...rest),
          release: (error?: Error | boolean) => {
            released.push(error);
            release(true); // never back to the shared pool with its patched query
          },
        });
      },
    } as unknown as Database;
    const warn = vi.fn();
    const api = createOrderApi({
      commands: orderCommands(failingWake, { logger: { warn } }),
      logger: silentRequestLogger,
      limits: orderApiSettings(TEST_STAGE_CONFIG),
    });
    const orderId = `wake-fails-${randomUUID()}`;

    const res = await call({ method: 'POST', path: '/orders', body: order({ orderId }) }, api);

    expect(res.statusCode).toBe(202);
    expect(await orderRows(orderId)).toHaveLength(1);
    expect(await outboxRows(orderId)).toHaveLength(1);
    expect(warn).toHaveBeenCalledExactlyOnceWith(
      'relay wake-up failed; the relay will find the event by polling',
      { error: expect.objectContaining({ message: 'Connection terminated unexpectedly' }) },
    );
    // Released with the error: pg-pool destroys such a client instead of reusing it.
    expect(released).toEqual([
      expect.objectContaining({ message: 'Connection terminated unexpectedly' }),
    ]);
  });

  it('the pool stays usable after the rolled-back transactions', async () => {
    const res = await call({ method: 'GET', path: '/health' });
    expect(res.statusCode).toBe(200);
    await placeOrder();
  });
});
