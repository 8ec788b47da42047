// The real order-api Lambda handler driven with HTTP API payload 2.0 events written from AWS
// material (test/fixtures/aws), on a fresh migrated PostgreSQL database; every response is
// checked against the documented 2.0 response shape.
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseEnvelope } from '../../lambdas/shared/events/envelope';
import { createTestDatabase, type TestDatabase } from '../integration/support';
import { type FixtureName, fixture, lambdaContext } from './fixtures';
import { httpApiV2EventSchema, httpApiV2ResponseSchema } from './shapes';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

let db: TestDatabase;
let handler: Handler;
let closePool: () => Promise<void>;

beforeAll(async () => {
  db = await createTestDatabase('orderapi_contract');
  for (const [name, value] of Object.entries(db.envVars)) vi.stubEnv(name, value);
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'order-api');
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

/** A fixture event, checked against the payload 2.0 schema before it is used. */
function httpEvent(name: FixtureName): APIGatewayProxyEventV2 {
  const event = fixture(name);
  const parsed = httpApiV2EventSchema.safeParse(event);
  expect(parsed.error?.issues ?? [], `${name} is a payload 2.0 event`).toEqual([]);
  return event as unknown as APIGatewayProxyEventV2;
}

/** Calls the real handler; the response must match the documented 2.0 response shape. */
async function invoke(event: APIGatewayProxyEventV2) {
  const res = await handler(event, lambdaContext('order-api'));
  const checked = httpApiV2ResponseSchema.safeParse(res);
  expect(checked.error?.issues ?? [], 'response matches payload 2.0').toEqual([]);
  const text =
    res.isBase64Encoded === true
      ? Buffer.from(res.body ?? '', 'base64').toString('utf8')
      : (res.body ?? '');
  return { res, json: JSON.parse(text) as Record<string, unknown> };
}

/** The fixture's JSON body, decoded as API Gateway would have received it. */
function bodyOf(event: APIGatewayProxyEventV2): Record<string, unknown> {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  return JSON.parse(text) as Record<string, unknown>;
}

async function rowsFor(orderId: string) {
  const orders = await db.pool.query<{
    customer_id: string;
    status: string;
    total_amount_minor: string;
    currency: string;
  }>('SELECT customer_id, status, total_amount_minor, currency FROM orders WHERE id = $1', [
    orderId,
  ]);
  const outbox = await db.pool.query<{ id: string; event_type: string; payload: unknown }>(
    'SELECT id, event_type, payload FROM outbox WHERE aggregate_id = $1',
    [orderId],
  );
  return { orders: orders.rows, outbox: outbox.rows };
}

async function counts(): Promise<{ orders: number; outbox: number }> {
  const { rows } = await db.pool.query<{ orders: number; outbox: number }>(
    'SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM outbox)::int AS outbox',
  );
  return rows[0] ?? { orders: -1, outbox: -1 };
}

describe('order-api handler with HTTP API payload 2.0 fixtures', () => {
  it.each([
    ['apigw-http-v2-post-orders.json', 'checkout-2026-12-03-0001'],
    ['apigw-http-v2-post-orders-base64.json', 'checkout-2026-12-03-0002'],
  ] as const)(
    '%s: 202 and the order with its OrderPlaced event in PostgreSQL',
    async (name, corr) => {
      const event = httpEvent(name);
      const sent = bodyOf(event);
      const { res, json } = await invoke(event);

      expect(res.statusCode).toBe(202);
      expect(res.headers?.['content-type']).toMatch(/^application\/json/);
      expect(res.headers?.['x-correlation-id']).toBe(corr);
      expect(json).toEqual({
        orderId: expect.any(String),
        eventId: expect.any(String),
        correlationId: corr,
      });

      const { orders, outbox } = await rowsFor(String(json.orderId));
      expect(orders).toEqual([
        {
          customer_id: sent.customerId,
          status: 'CREATED',
          total_amount_minor: String(sent.totalMinor),
          currency: sent.currency,
        },
      ]);
      expect(outbox).toHaveLength(1);
      expect(outbox[0]).toMatchObject({ id: json.eventId, event_type: 'OrderPlaced' });
      const envelope = parseEnvelope(outbox[0]?.payload);
      expect(envelope.ok && envelope.event.data).toEqual({ ...sent, orderId: json.orderId });
    },
  );

  it('apigw-http-v2-get-health.json: 200 {status: ok}', async () => {
    const { res, json } = await invoke(httpEvent('apigw-http-v2-get-health.json'));
    expect(res.statusCode).toBe(200);
    expect(json).toEqual({ status: 'ok' });
    // Without a caller's correlation id the handler makes one and returns it.
    expect(res.headers?.['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a body broken from the POST fixture: 400 with issue paths, nothing written', async () => {
    const event = httpEvent('apigw-http-v2-post-orders.json');
    const sent = bodyOf(event);
    const broken = {
      ...sent,
      currency: 'eur',
      items: [{ sku: 'SKU-RED-MUG', quantity: 0, unitPriceMinor: 1250 }],
    };
    const body = JSON.stringify(broken);
    const before = await counts();
    const { res, json } = await invoke({
      ...event,
      headers: { ...event.headers, 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    expect(res.statusCode).toBe(400);
    expect(json.error).toBe('ValidationError');
    const paths = (json.issues as { path: string }[]).map((i) => i.path).sort();
    expect(paths).toEqual(['currency', 'items[0].quantity']);
    expect(await counts()).toEqual(before);
  });

  it('a NUL in customerId (derived from the POST fixture): 400 naming the field, not a 500', async () => {
    const event = httpEvent('apigw-http-v2-post-orders.json');
    const body = JSON.stringify({ ...bodyOf(event), customerId: 'cust\u0000-1' });
    const before = await counts();
    const { res, json } = await invoke({ ...event, body });
    expect(res.statusCode).toBe(400);
    expect(json).toEqual({
      error: 'ValidationError',
      issues: [{ path: 'customerId', message: 'contains a NUL or an unpaired surrogate' }],
    });
    expect(await counts()).toEqual(before);
  });

  it('an order of 6,000 items (about 1.4 MB as an event): 413 at the API, nothing written', async () => {
    const event = httpEvent('apigw-http-v2-post-orders.json');
    const sent = bodyOf(event);
    const items = Array.from({ length: 6_000 }, (_, i) => ({
      sku: `SKU-${String(i).padStart(6, '0')}-${'X'.repeat(180)}`,
      quantity: 1,
      unitPriceMinor: 100,
    }));
    const body = JSON.stringify({ ...sent, items, totalMinor: 600_000 });
    expect(Buffer.byteLength(body)).toBeGreaterThan(1_048_576); // over Kafka's default limit
    const before = await counts();
    const { res, json } = await invoke({ ...event, body });
    expect(res.statusCode).toBe(413);
    expect(json.error).toBe('PayloadTooLarge');
    expect(await counts()).toEqual(before);
  });

  it('the base64 fixture with a corrupted body: 400 MalformedJson, nothing written', async () => {
    const event = httpEvent('apigw-http-v2-post-orders-base64.json');
    const text = Buffer.from(event.body ?? '', 'base64').toString('utf8');
    const before = await counts();
    const { res, json } = await invoke({
      ...event,
      body: Buffer.from(text.slice(0, -2)).toString('base64'),
    });
    expect(res.statusCode).toBe(400);
    expect(json).toEqual({ error: 'MalformedJson' });
    expect(await counts()).toEqual(before);
  });

  it('GET /orders/{orderId} (derived from the health fixture, percent-encoded id): the placed order', async () => {
    const placed = await invoke(httpEvent('apigw-http-v2-post-orders.json'));
    const orderId = String(placed.json.orderId);
    const health = httpEvent('apigw-http-v2-get-health.json');
    // API Gateway passes rawPath still encoded and `proxy` decoded.
    const rawPath = `/orders/${encodeURIComponent(orderId)}`;
    const { res, json } = await invoke({
      ...health,
      rawPath,
      pathParameters: { proxy: `orders/${orderId}` },
      requestContext: {
        ...health.requestContext,
        http: { ...health.requestContext.http, path: rawPath },
      },
    });
    expect(res.statusCode).toBe(200);
    expect(json).toEqual({
      orderId,
      status: 'CREATED',
      version: 1,
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('GET on /orders (derived from the health fixture): 405 with a string allow header', async () => {
    const health = httpEvent('apigw-http-v2-get-health.json');
    const { res } = await invoke({
      ...health,
      rawPath: '/orders',
      pathParameters: { proxy: 'orders' },
      requestContext: {
        ...health.requestContext,
        http: { ...health.requestContext.http, path: '/orders' },
      },
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers?.allow).toBe('POST');
  });
});
