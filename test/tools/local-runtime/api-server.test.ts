// The local HTTP front of the order API: requests become HTTP API payload 2.0 events as the
// deployed `ANY /{proxy+}` route builds them, and handler results become responses.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ApiHandler,
  LAMBDA_SYNC_PAYLOAD_BYTES,
  type LocalApi,
  startLocalApi,
} from '../../../tools/local-runtime/api-server';

let api: LocalApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function serve(result: Partial<APIGatewayProxyStructuredResultV2> = {}) {
  const events: APIGatewayProxyEventV2[] = [];
  const remaining: number[] = [];
  const handler: ApiHandler = async (event, context) => {
    events.push(event);
    remaining.push(context.getRemainingTimeInMillis());
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      ...result,
    };
  };
  api = await startLocalApi({ handler, port: 0, timeoutMs: 10_000, functionName: 'order-api' });
  return { url: api.url, events, remaining };
}

describe('local order API server', () => {
  it('listens on loopback only, on a free port when asked for 0', async () => {
    const { url } = await serve();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
  });

  it('builds the payload 2.0 event: encoded rawPath, decoded proxy, query, lower-case headers', async () => {
    const { url, events, remaining } = await serve();
    await fetch(`${url}/orders/o%201/events?x=1&y=2`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Correlation-Id': 'corr-1' },
      body: JSON.stringify({ eventType: 'OrderShipped' }),
    });
    const [event] = events;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'ANY /{proxy+}',
      rawPath: '/orders/o%201/events',
      rawQueryString: 'x=1&y=2',
      pathParameters: { proxy: 'orders/o 1/events' },
      isBase64Encoded: false,
      body: '{"eventType":"OrderShipped"}',
      requestContext: { http: { method: 'POST', path: '/orders/o%201/events' } },
    });
    expect(event?.headers['x-correlation-id']).toBe('corr-1');
    expect(event?.headers['content-type']).toBe('application/json');
    expect(remaining[0]).toBeGreaterThan(9_000);
    expect(remaining[0]).toBeLessThanOrEqual(10_000);
  });

  it('passes a body of another content type base64-encoded, as API Gateway does', async () => {
    const { url, events } = await serve();
    const bytes = Buffer.from([0, 1, 2, 255]);
    await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(events[0]?.isBase64Encoded).toBe(true);
    expect(Buffer.from(events[0]?.body ?? '', 'base64')).toEqual(bytes);
  });

  it('sends no body on a GET and no pathParameters for a path that cannot be decoded', async () => {
    const { url, events } = await serve();
    await fetch(`${url}/orders/%E0%A4%A`);
    expect(events[0]?.body).toBeUndefined();
    expect(events[0]?.pathParameters).toBeUndefined();
    expect(events[0]?.rawPath).toBe('/orders/%E0%A4%A');
  });

  it("answers with the handler's status, headers and body (base64 results decoded)", async () => {
    const { url } = await serve({
      statusCode: 404,
      headers: { 'x-correlation-id': 'c-9', 'content-type': 'text/plain' },
      body: Buffer.from('not here').toString('base64'),
      isBase64Encoded: true,
    });
    const res = await fetch(`${url}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-correlation-id')).toBe('c-9');
    expect(await res.text()).toBe('not here');
  });

  it("refuses a body over Lambda's synchronous payload quota before the handler sees it", async () => {
    const { url, events } = await serve();
    const res = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(LAMBDA_SYNC_PAYLOAD_BYTES + 1),
    });
    expect(res.status).toBe(413);
    expect(events).toHaveLength(0);
  });

  it('says which port is taken instead of a bare EADDRINUSE', async () => {
    const { url } = await serve();
    const port = Number(new URL(url).port);
    await expect(
      startLocalApi({ handler: async () => ({}), port, timeoutMs: 1, functionName: 'x' }),
    ).rejects.toThrow(`127.0.0.1:${port} is in use`);
  });

  it('answers 500 when the handler throws, and keeps serving', async () => {
    let calls = 0;
    api = await startLocalApi({
      handler: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return { statusCode: 204 };
      },
      port: 0,
      timeoutMs: 1_000,
      functionName: 'order-api',
    });
    expect((await fetch(`${api.url}/health`)).status).toBe(500);
    expect((await fetch(`${api.url}/health`)).status).toBe(204);
  });
});
