import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandResult, OrderCommands, RequestIds } from '../../../lambdas/order-api/commands';
import {
  type BodyLimits,
  CORRELATION_HEADER,
  createOrderApi,
  type MetricSink,
  ORDER_API_METRICS,
  type RequestLogger,
} from '../../../lambdas/order-api/http';
import type { TraceIds } from '../../../lambdas/shared/tracing/trace-context';
import { orderApiSettings } from '../../../lib/config/function-environment';
import { loadStageConfig } from '../../../lib/config/stage-config';
import {
  type HttpEventInput,
  httpEvent,
  lambdaContext,
  parseBody,
} from '../../../tools/local-runtime/http-event';

/** The stage config's body limits, as the function's environment carries them. */
const STAGE_LIMITS: BodyLimits = orderApiSettings(loadStageConfig('dev'));

/** Fixed trace ids: 2024-01-01T00:00:00Z (0x65920080) and repeated random bytes. */
const TRACE_IDS: TraceIds = {
  nowMs: () => 1_704_067_200_000,
  randomHex: (bytes) => 'ab'.repeat(bytes),
};
const NEW_TRACE_ID = `65920080${'ab'.repeat(12)}`;
const NEW_SPAN_ID = 'ab'.repeat(8);
const NEW_TRACEPARENT = `00-${NEW_TRACE_ID}-${NEW_SPAN_ID}-01`;

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly keys: Record<string, unknown>;
  readonly fields: Record<string, unknown>[];
}

/** Records each line with the keys appended at the time, like the Powertools Logger. */
function recordingLogger() {
  const lines: LogLine[] = [];
  let keys: Record<string, unknown> = {};
  const line =
    (level: string) =>
    (message: string, ...fields: Record<string, unknown>[]) =>
      lines.push({ level, message, keys: { ...keys }, fields });
  const logger: RequestLogger = {
    error: line('error'),
    warn: line('warn'),
    info: line('info'),
    debug: line('debug'),
    appendKeys: (k) => {
      keys = { ...keys, ...k };
    },
    removeKeys: (names) => {
      keys = Object.fromEntries(Object.entries(keys).filter(([k]) => !names.includes(k)));
    },
  };
  return { logger, lines, currentKeys: () => keys };
}

const ACCEPTED = (ids: RequestIds, orderId = 'o-1'): CommandResult => ({
  kind: 'accepted',
  orderId,
  eventId: ids.eventId,
  eventType: 'OrderPlaced',
  correlationId: ids.correlationId,
});

function fakeCommands(): {
  [K in keyof OrderCommands]: ReturnType<typeof vi.fn<OrderCommands[K]>>;
} {
  return {
    placeOrder: vi.fn<OrderCommands['placeOrder']>(async (_input, ids) => ACCEPTED(ids)),
    recordOrderEvent: vi.fn<OrderCommands['recordOrderEvent']>(async (orderId, _input, ids) =>
      ACCEPTED(ids, orderId),
    ),
    getOrder: vi.fn<OrderCommands['getOrder']>(async (orderId) => ({
      kind: 'found',
      order: { orderId, status: 'CREATED', version: 1, updatedAt: new Date(0) },
    })),
    checkHealth: vi.fn<OrderCommands['checkHealth']>(async () => ({ healthy: true })),
  };
}

let commands: ReturnType<typeof fakeCommands>;
let log: ReturnType<typeof recordingLogger>;
let addMetric: ReturnType<typeof vi.fn<MetricSink['addMetric']>>;

beforeEach(() => {
  commands = fakeCommands();
  log = recordingLogger();
  addMetric = vi.fn<MetricSink['addMetric']>();
});

async function call(
  input: HttpEventInput,
  limits: BodyLimits = STAGE_LIMITS,
  xrayTraceHeader?: string,
) {
  const api = createOrderApi({
    commands,
    logger: log.logger,
    metrics: { addMetric },
    newId: () => 'generated-id',
    limits,
    traceIds: TRACE_IDS,
    xrayTraceHeader: () => xrayTraceHeader,
  });
  const result = await api(httpEvent(input), lambdaContext);
  return { ...result, json: parseBody(result), header: result.headers?.[CORRELATION_HEADER] };
}

const ORDER = {
  customerId: 'c-1',
  items: [{ sku: 'sku-1', quantity: 1, unitPriceMinor: 500 }],
  totalMinor: 500,
  currency: 'EUR',
};

describe('GET /health', () => {
  it('is 200 when the database answers', async () => {
    const res = await call({ method: 'GET', path: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('is 503 when it does not, and logs why', async () => {
    commands.checkHealth.mockResolvedValue({ healthy: false, error: new Error('ECONNREFUSED') });
    const res = await call({ method: 'GET', path: '/health' });
    expect(res.statusCode).toBe(503);
    expect(log.lines.some((l) => l.level === 'warn' && /PostgreSQL/.test(l.message))).toBe(true);
  });

  it('ignores a body sent with GET', async () => {
    const res = await call({ method: 'GET', path: '/health', body: '{}' });
    expect(res.statusCode).toBe(200);
  });
});

describe('POST /orders', () => {
  it('passes the parsed body and the request ids to the command and answers 202', async () => {
    const res = await call({ method: 'POST', path: '/orders', body: ORDER });
    expect(commands.placeOrder).toHaveBeenCalledWith(ORDER, {
      eventId: 'generated-id',
      correlationId: 'generated-id',
      traceparent: NEW_TRACEPARENT,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json).toEqual({
      orderId: 'o-1',
      eventId: 'generated-id',
      correlationId: 'generated-id',
    });
  });

  it('decodes a base64 body', async () => {
    const res = await call({ method: 'POST', path: '/orders', body: ORDER, base64: true });
    expect(res.statusCode).toBe(202);
    expect(commands.placeOrder).toHaveBeenCalledWith(ORDER, expect.anything());
  });

  it.each([
    ['broken JSON', '{"customerId":'],
    ['an empty body', ''],
    ['no body', undefined],
  ])('answers 400 MalformedJson for %s without calling the command', async (_name, body) => {
    const res = await call({
      method: 'POST',
      path: '/orders',
      ...(body !== undefined && { body }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ error: 'MalformedJson' });
    expect(commands.placeOrder).not.toHaveBeenCalled();
  });

  it('maps a validation result to 400 with every issue path and message', async () => {
    commands.placeOrder.mockResolvedValue({
      kind: 'invalid',
      issues: [
        { path: 'items[0].quantity', message: 'Too small' },
        { path: 'currency', message: 'must be a 3-letter ISO 4217 code' },
      ],
    });
    const res = await call({ method: 'POST', path: '/orders', body: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({
      error: 'ValidationError',
      issues: [
        { path: 'items[0].quantity', message: 'Too small' },
        { path: 'currency', message: 'must be a 3-letter ISO 4217 code' },
      ],
    });
  });

  it('maps a conflict to 409', async () => {
    commands.placeOrder.mockResolvedValue({
      kind: 'conflict',
      orderId: 'o-9',
      message: 'order already exists',
    });
    const res = await call({ method: 'POST', path: '/orders', body: { ...ORDER, orderId: 'o-9' } });
    expect(res.statusCode).toBe(409);
    expect(res.json).toMatchObject({ error: 'Conflict', orderId: 'o-9' });
  });
});

describe('body limits and text PostgreSQL cannot store', () => {
  const item = ORDER.items[0];

  it('answers 413 for a body over the byte limit, before parsing it', async () => {
    const limits: BodyLimits = { maxBodyBytes: 1_000, maxArrayItems: 1_000 };
    const big = { ...ORDER, customerId: 'c'.repeat(1_000) };
    const res = await call({ method: 'POST', path: '/orders', body: big }, limits);
    expect(res.statusCode).toBe(413);
    expect(res.json).toMatchObject({ error: 'PayloadTooLarge' });
    expect(String((res.json as { message: string }).message)).toMatch(/limit is 1000/);
    expect(commands.placeOrder).not.toHaveBeenCalled();
  });

  it('counts bytes, not characters (multi-byte text)', async () => {
    const body = JSON.stringify({ ...ORDER, customerId: 'é'.repeat(300) }); // 600+ bytes
    const limits: BodyLimits = { maxBodyBytes: body.length + 10, maxArrayItems: 10 };
    const res = await call({ method: 'POST', path: '/orders', body }, limits);
    expect(res.statusCode).toBe(413);
  });

  it('takes a body exactly at the limit', async () => {
    const body = JSON.stringify(ORDER);
    const limits: BodyLimits = { maxBodyBytes: Buffer.byteLength(body), maxArrayItems: 10 };
    const res = await call({ method: 'POST', path: '/orders', body }, limits);
    expect(res.statusCode).toBe(202);
  });

  it('answers 400 naming the field for a NUL, before the database sees it', async () => {
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: { ...ORDER, customerId: 'c\u0000-1' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({
      error: 'ValidationError',
      issues: [{ path: 'customerId', message: 'contains a NUL or an unpaired surrogate' }],
    });
    expect(commands.placeOrder).not.toHaveBeenCalled();
  });

  it.each([
    ['a lone high surrogate', '"x\\ud800y"'],
    ['a lone low surrogate', '"x\\udc00"'],
  ])('answers 400 for %s (JSON can escape it, UTF-8 cannot hold it)', async (_name, text) => {
    const body = `{"customerId":"c-1","items":[{"sku":${text},"quantity":1,"unitPriceMinor":1}],"totalMinor":1,"currency":"EUR"}`;
    const res = await call({ method: 'POST', path: '/orders', body });
    expect(res.statusCode).toBe(400);
    expect(res.json).toMatchObject({ issues: [{ path: 'items[0].sku' }] });
  });

  it('keeps a proper surrogate pair (an emoji)', async () => {
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: { ...ORDER, customerId: 'c-😀' },
    });
    expect(res.statusCode).toBe(202);
  });

  it('answers 400 for an array over the item limit', async () => {
    const limits: BodyLimits = { ...STAGE_LIMITS, maxArrayItems: 3 };
    const body = { ...ORDER, items: [item, item, item, item] };
    const res = await call({ method: 'POST', path: '/orders', body }, limits);
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({
      error: 'ValidationError',
      issues: [{ path: 'items', message: 'has 4 items; at most 3' }],
    });
  });

  it('applies to events on an order too', async () => {
    const res = await call({
      method: 'POST',
      path: '/orders/o-1/events',
      body: { eventType: 'OrderShipped', data: { carrier: 'x\u0000', trackingNumber: 't' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json).toMatchObject({ issues: [{ path: 'data.carrier' }] });
    expect(commands.recordOrderEvent).not.toHaveBeenCalled();
  });
});

describe('POST /orders/{orderId}/events', () => {
  const EVENT = { eventType: 'PaymentCaptured', data: { paymentId: 'p-1' } };

  it('passes the decoded path id and body to the command and answers 202', async () => {
    const res = await call({ method: 'POST', path: '/orders/o%2042/events', body: EVENT });
    expect(commands.recordOrderEvent).toHaveBeenCalledWith('o 42', EVENT, {
      eventId: 'generated-id',
      correlationId: 'generated-id',
      traceparent: NEW_TRACEPARENT,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json).toEqual({
      orderId: 'o 42',
      eventId: 'generated-id',
      correlationId: 'generated-id',
    });
  });

  it('maps a missing order to 404', async () => {
    commands.recordOrderEvent.mockResolvedValue({ kind: 'not_found', orderId: 'o-404' });
    const res = await call({ method: 'POST', path: '/orders/o-404/events', body: EVENT });
    expect(res.statusCode).toBe(404);
    expect(res.json).toMatchObject({ error: 'NotFound' });
  });

  it('answers 400 MalformedJson for a broken body', async () => {
    const res = await call({ method: 'POST', path: '/orders/o-1/events', body: '[' });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ error: 'MalformedJson' });
    expect(commands.recordOrderEvent).not.toHaveBeenCalled();
  });

  it('answers 400 for a path segment that is not valid percent-encoding', async () => {
    const res = await call({ method: 'POST', path: '/orders/%E0%A4%A/events', body: EVENT });
    expect(res.statusCode).toBe(400);
    expect(commands.recordOrderEvent).not.toHaveBeenCalled();
  });
});

describe('GET /orders/{orderId}', () => {
  it('passes the decoded path id and answers 200 with the state, uncached', async () => {
    commands.getOrder.mockResolvedValue({
      kind: 'found',
      order: {
        orderId: 'o 1',
        status: 'SHIPPED',
        version: 3,
        updatedAt: new Date('2026-05-06T07:08:09.010Z'),
      },
    });
    const res = await call({ method: 'GET', path: '/orders/o%201' });
    expect(commands.getOrder).toHaveBeenCalledWith('o 1');
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['cache-control']).toBe('no-store');
    expect(res.json).toEqual({
      orderId: 'o 1',
      status: 'SHIPPED',
      version: 3,
      updatedAt: '2026-05-06T07:08:09.010Z',
    });
  });

  it('maps an unknown order to 404 and an invalid id to 400, like the other routes', async () => {
    commands.getOrder.mockResolvedValueOnce({ kind: 'not_found', orderId: 'nope' });
    const missing = await call({ method: 'GET', path: '/orders/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json).toEqual({ error: 'NotFound', message: 'order "nope" does not exist' });

    commands.getOrder.mockResolvedValueOnce({
      kind: 'invalid',
      issues: [{ path: 'orderId', message: 'Too big' }],
    });
    const invalid = await call({ method: 'GET', path: '/orders/x' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json).toEqual({
      error: 'ValidationError',
      issues: [{ path: 'orderId', message: 'Too big' }],
    });
  });

  it('answers 500 without details when the read fails', async () => {
    commands.getOrder.mockRejectedValue(new Error('connection reset'));
    const res = await call({ method: 'GET', path: '/orders/o-1' });
    expect(res.statusCode).toBe(500);
    expect(JSON.stringify(res.json)).not.toContain('connection reset');
  });
});

describe('routing', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/nope'],
    ['GET', '/orders/o-1/extra'],
    ['POST', '/orders/o-1/events/extra'],
  ])('answers 404 for %s %s', async (method, path) => {
    const res = await call({ method, path, body: '{}' });
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ error: 'NotFound' });
    expect(res.header).toBe('generated-id');
  });

  it.each([
    ['GET', '/orders', 'POST'],
    ['PUT', '/orders', 'POST'],
    ['DELETE', '/orders/o-1/events', 'POST'],
    ['POST', '/health', 'GET'],
    ['POST', '/orders/o-1', 'GET'],
  ])('answers 405 for %s %s with Allow: %s', async (method, path, allow) => {
    const res = await call({ method, path, ...(method !== 'GET' && { body: '{}' }) });
    expect(res.statusCode).toBe(405);
    expect(res.json).toEqual({ error: 'MethodNotAllowed' });
    expect(res.headers?.allow).toBe(allow);
    expect(commands.placeOrder).not.toHaveBeenCalled();
    expect(commands.recordOrderEvent).not.toHaveBeenCalled();
    expect(commands.getOrder).not.toHaveBeenCalled();
  });
});

describe('correlation id', () => {
  it('defaults to the new event id and is returned as a header', async () => {
    const res = await call({ method: 'POST', path: '/orders', body: ORDER });
    expect(res.header).toBe('generated-id');
  });

  it('takes a valid x-correlation-id header for the command, body and response header', async () => {
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: ORDER,
      headers: { 'X-Correlation-Id': 'upstream-42' },
    });
    expect(commands.placeOrder).toHaveBeenCalledWith(ORDER, {
      eventId: 'generated-id',
      correlationId: 'upstream-42',
      traceparent: NEW_TRACEPARENT,
    });
    expect(res.json).toMatchObject({ correlationId: 'upstream-42', eventId: 'generated-id' });
    expect(res.header).toBe('upstream-42');
  });

  it.each([
    ['longer than 128 characters', 'x'.repeat(129)],
    ['not printable ASCII', 'abc\u0001def'],
    ['not ASCII', 'café'],
  ])('rejects a header %s with 400 and runs no command', async (_name, value) => {
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: ORDER,
      headers: { [CORRELATION_HEADER]: value },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({
      error: 'ValidationError',
      issues: [{ path: 'headers.x-correlation-id', message: expect.any(String) }],
    });
    expect(res.header).toBe('generated-id');
    expect(commands.placeOrder).not.toHaveBeenCalled();
  });

  it('accepts exactly 128 printable characters', async () => {
    const id = `${'a'.repeat(120)} -_:/.=+`;
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: ORDER,
      headers: { [CORRELATION_HEADER]: id },
    });
    expect(id).toHaveLength(128);
    expect(res.statusCode).toBe(202);
    expect(res.header).toBe(id);
  });

  it('is on every log line of the request and removed afterwards', async () => {
    await call({
      method: 'POST',
      path: '/orders',
      body: ORDER,
      headers: { [CORRELATION_HEADER]: 'corr-logs' },
    });
    const accepted = log.lines.find((l) => l.message === 'order event accepted');
    expect(accepted?.keys).toEqual({ correlationId: 'corr-logs', traceId: NEW_TRACE_ID });
    expect(log.lines.every((l) => l.keys.correlationId === 'corr-logs')).toBe(true);
    expect(log.currentKeys()).toEqual({});
  });
});

describe('trace context (traceparent header, X-Ray)', () => {
  const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const XRAY = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

  const placedIds = () => commands.placeOrder.mock.calls[0]?.[1];
  const accepted = () => log.lines.find((l) => l.message === 'order event accepted');

  it('continues a valid caller traceparent under a new span id, keeping its flags', async () => {
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: ORDER,
      headers: { traceparent: `00-${CALLER_TRACE}-00f067aa0ba902b7-00` },
    });
    expect(res.statusCode).toBe(202);
    expect(placedIds()?.traceparent).toBe(`00-${CALLER_TRACE}-${NEW_SPAN_ID}-00`);
    expect(accepted()?.fields[0]).toMatchObject({ traceId: CALLER_TRACE, sampled: false });
    expect(accepted()?.keys.traceId).toBe(CALLER_TRACE);
  });

  it.each([
    ['upper-case hex', `00-${CALLER_TRACE.toUpperCase()}-00f067aa0ba902b7-01`],
    [
      'two headers joined',
      `00-${CALLER_TRACE}-00f067aa0ba902b7-01,00-${CALLER_TRACE}-00f067aa0ba902b7-01`,
    ],
    ['version ff', `ff-${CALLER_TRACE}-00f067aa0ba902b7-01`],
    ['garbage', 'not-a-trace'],
  ])(
    'starts a new sampled trace for an invalid traceparent (%s), and still answers 202',
    async (_name, value) => {
      const res = await call({
        method: 'POST',
        path: '/orders',
        body: ORDER,
        headers: { traceparent: value },
      });
      expect(res.statusCode).toBe(202);
      expect(placedIds()?.traceparent).toBe(NEW_TRACEPARENT);
      expect(accepted()?.fields[0]).toMatchObject({ traceId: NEW_TRACE_ID, sampled: true });
    },
  );

  it("takes the Lambda's X-Ray context over the caller's, and logs the caller's trace id", async () => {
    await call(
      {
        method: 'POST',
        path: '/orders',
        body: ORDER,
        headers: { traceparent: `00-${CALLER_TRACE}-00f067aa0ba902b7-01` },
      },
      STAGE_LIMITS,
      XRAY,
    );
    expect(placedIds()?.traceparent).toBe(
      '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01',
    );
    expect(accepted()?.fields[0]).toMatchObject({
      traceId: '5759e988bd862e3fe1be46a994272793',
      callerTraceId: CALLER_TRACE,
    });
  });

  it('keeps the trace context out of the response body', async () => {
    const res = await call({ method: 'POST', path: '/orders', body: ORDER });
    expect(res.json).toEqual({
      orderId: 'o-1',
      eventId: 'generated-id',
      correlationId: 'generated-id',
    });
  });
});

describe('unexpected errors', () => {
  it('answer 500 with a generic body; the details go to the log with the correlation id', async () => {
    commands.placeOrder.mockRejectedValue(new Error('duplicate key value violates "secret_idx"'));
    const res = await call({
      method: 'POST',
      path: '/orders',
      body: ORDER,
      headers: { [CORRELATION_HEADER]: 'corr-500' },
    });
    expect(res.statusCode).toBe(500);
    expect(res.json).toEqual({ error: 'InternalServerError', message: 'internal error' });
    expect(res.body).not.toMatch(/secret_idx/);
    expect(res.header).toBe('corr-500');
    const error = log.lines.find((l) => l.level === 'error');
    expect(error?.keys).toEqual({ correlationId: 'corr-500', traceId: NEW_TRACE_ID });
    expect(error?.fields[0]?.error).toEqual(
      expect.objectContaining({ message: expect.stringMatching(/secret_idx/) }),
    );
    expect(log.currentKeys()).toEqual({});
  });

  it('answer 500 for an event that is not an HTTP API event', async () => {
    const api = createOrderApi({ commands, logger: log.logger, limits: STAGE_LIMITS });
    const res = await api({ nope: true } as never, lambdaContext);
    expect(res.statusCode).toBe(500);
    expect(parseBody(res)).toEqual({ error: 'InternalServerError', message: 'internal error' });
  });
});

describe('metrics', () => {
  it('counts an accepted request', async () => {
    await call({ method: 'POST', path: '/orders', body: ORDER });
    expect(addMetric).toHaveBeenCalledWith(ORDER_API_METRICS.accepted, 'Count', 1);
    expect(addMetric).toHaveBeenCalledTimes(1);
  });

  it('counts a rejected request', async () => {
    await call({ method: 'POST', path: '/orders', body: '{' });
    expect(addMetric).toHaveBeenCalledWith(ORDER_API_METRICS.rejected, 'Count', 1);
    expect(addMetric).toHaveBeenCalledTimes(1);
  });
});
