// HTTP adapter for the order commands (API Gateway HTTP API, payload 2.0): routing, body
// decoding, correlation ids, and mapping command results to status codes. Routing is the
// Powertools HTTP event handler (GA since its `/http` export); it answers an unknown method on a
// known path with 404, so the known paths register the other verbs to return 405.
import { randomUUID } from 'node:crypto';
import { HttpVerbs, Router } from '@aws-lambda-powertools/event-handler/http';
import type { HttpMethod, RequestContext } from '@aws-lambda-powertools/event-handler/types';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { formatPath, type SchemaIssue } from '../shared/events/envelope';
import type { LogSink } from '../shared/log-sink';
import { METRICS } from '../shared/metrics-catalog';
import {
  formatTraceparent,
  type RequestTrace,
  requestTraceContext,
  TRACEPARENT_HEADER,
  type TraceIds,
} from '../shared/tracing/trace-context';
import type { CommandResult, OrderCommands, OrderQueryResult, RequestIds } from './commands';

export const CORRELATION_HEADER = 'x-correlation-id';
/** Printable ASCII, bounded: the id goes into every log line and Kafka header. */
const CORRELATION_ID_PATTERN = /^[\x20-\x7E]{1,128}$/;

export const ORDER_API_METRICS = {
  accepted: METRICS.orderRequestsAccepted,
  rejected: METRICS.orderRequestsRejected,
} as const;

/** The Powertools Logger satisfies this; tests pass a recording fake. */
export interface RequestLogger extends LogSink {
  appendKeys(keys: { correlationId: string; traceId: string }): void;
  removeKeys(keys: string[]): void;
}

/** The Powertools Metrics satisfies this. */
export interface MetricSink {
  addMetric(name: string, unit: 'Count', value: number): unknown;
}

/** What a request body may hold (the stage config's `api` limits, through the environment). */
export interface BodyLimits {
  /** Bytes of the decoded body: keeps the event far below Kafka's 1 MiB message limit. */
  readonly maxBodyBytes: number;
  /** Elements of any one array in the body (an order's items). */
  readonly maxArrayItems: number;
}

export interface OrderApiDeps {
  readonly commands: OrderCommands;
  readonly logger: RequestLogger;
  readonly metrics?: MetricSink;
  /** The stage config's `api` limits (orderApiSettings), through the environment. */
  readonly limits: BodyLimits;
  /** Id of the event a request may create; also the correlation id when the caller sent none. */
  readonly newId?: () => string;
  /** The invocation's X-Ray trace header (Lambda's `_X_AMZN_TRACE_ID`); none locally. */
  readonly xrayTraceHeader?: () => string | undefined;
  /** Where new trace and span ids come from (tests fix them). */
  readonly traceIds?: TraceIds;
}

export type OrderApi = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

type Env = { store: { request: { ids: RequestIds; trace: RequestTrace } } };

const ROUTES = {
  health: '/health',
  orders: '/orders',
  order: '/orders/:orderId',
  orderEvents: '/orders/:orderId/events',
} as const;

const ALLOWED: Record<(typeof ROUTES)[keyof typeof ROUTES], HttpMethod> = {
  [ROUTES.health]: 'GET',
  [ROUTES.orders]: 'POST',
  [ROUTES.order]: 'GET',
  [ROUTES.orderEvents]: 'POST',
};

export function createOrderApi(deps: OrderApiDeps): OrderApi {
  const { commands, logger } = deps;
  const { limits } = deps;
  const newId = deps.newId ?? randomUUID;
  const app = new Router<Env>({ logger });

  app.use(async ({ reqCtx, next }) => {
    const eventId = newId();
    const header = reqCtx.req.headers.get(CORRELATION_HEADER) ?? '';
    const headerValid = header === '' || CORRELATION_ID_PATTERN.test(header);
    const correlationId = header !== '' && headerValid ? header : eventId;
    // The trace context travels in the outbox row's headers, never in the event itself.
    const trace = requestTraceContext(
      {
        xrayHeader: deps.xrayTraceHeader?.(),
        traceparent: reqCtx.req.headers.get(TRACEPARENT_HEADER),
      },
      deps.traceIds,
    );
    reqCtx.set('ids', { eventId, correlationId, traceparent: formatTraceparent(trace.context) });
    reqCtx.set('trace', trace);
    logger.appendKeys({ correlationId, traceId: trace.context.traceId });
    // Route handlers never throw (see `guard`): the router takes a rejecting next() for a
    // middleware bug and replaces the error, so catching here would not work.
    try {
      if (headerValid) await next();
      else {
        reqCtx.res = validationError([
          {
            path: `headers.${CORRELATION_HEADER}`,
            message: 'must be 1 to 128 printable ASCII characters',
          },
        ]);
      }
    } finally {
      logger.removeKeys(['correlationId', 'traceId']);
    }
    reqCtx.res.headers.set(CORRELATION_HEADER, correlationId);
    count(deps, reqCtx.res.status);
  });

  /** Turns an unexpected error into a generic 500; details stay in the (correlated) log. */
  const guard =
    (route: (reqCtx: RequestContext<Env>) => Promise<Response>) =>
    async (reqCtx: RequestContext<Env>): Promise<Response> => {
      try {
        return await route(reqCtx);
      } catch (error) {
        logger.error('request failed', { error, method: reqCtx.req.method, route: reqCtx.route });
        return json(500, { error: 'InternalServerError', message: 'internal error' });
      }
    };

  app.get(
    ROUTES.health,
    guard(async () => {
      const health = await commands.checkHealth();
      if (health.healthy) return json(200, { status: 'ok' });
      logger.warn('health check: PostgreSQL did not answer', { error: health.error });
      return json(503, { status: 'unavailable' });
    }),
  );

  app.post(
    ROUTES.orders,
    guard(async (reqCtx) => {
      const body = await readJson(reqCtx.req, limits);
      if (!body.ok) return body.response;
      return toResponse(
        logger,
        await commands.placeOrder(body.value, idsOf(reqCtx)),
        reqCtx.get('trace'),
      );
    }),
  );

  app.get(
    ROUTES.order,
    guard(async (reqCtx) => orderResponse(await commands.getOrder(reqCtx.params.orderId ?? ''))),
  );

  app.post(
    ROUTES.orderEvents,
    guard(async (reqCtx) => {
      const body = await readJson(reqCtx.req, limits);
      if (!body.ok) return body.response;
      const orderId = reqCtx.params.orderId ?? '';
      return toResponse(
        logger,
        await commands.recordOrderEvent(orderId, body.value, idsOf(reqCtx)),
        reqCtx.get('trace'),
      );
    }),
  );

  for (const [path, allowed] of Object.entries(ALLOWED) as [`/${string}`, HttpMethod][]) {
    const others = (Object.keys(HttpVerbs) as HttpMethod[]).filter((m) => m !== allowed);
    app.route(
      async () => {
        const res = json(405, { error: 'MethodNotAllowed' });
        res.headers.set('allow', allowed);
        return res;
      },
      { method: others, path },
    );
  }

  app.notFound(async () => json(404, { error: 'NotFound' }));
  // A path segment like "%E0%A4%A" fails decoding while the route is matched.
  app.errorHandler(URIError, async () => json(400, { error: 'MalformedPath' }));

  return async (event, context) => {
    try {
      return await app.resolve(withoutBodyOnGet(event), context);
    } catch (error) {
      // Only an event the router cannot read at all gets here.
      logger.error('request could not be routed', { error });
      return {
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: 'InternalServerError', message: 'internal error' }),
      };
    }
  };
}

/** A web Request cannot carry a body on GET or HEAD; one sent anyway is ignored, not a 500. */
function withoutBodyOnGet(event: APIGatewayProxyEventV2): APIGatewayProxyEventV2 {
  const method = event.requestContext?.http?.method;
  if (event.body === undefined || (method !== 'GET' && method !== 'HEAD')) return event;
  const { body: _ignored, ...rest } = event;
  return { ...rest, isBase64Encoded: false };
}

function idsOf(reqCtx: RequestContext<Env>): RequestIds {
  const ids = reqCtx.get('ids');
  if (ids === undefined) throw new Error('request ids missing: correlation middleware not run');
  return ids;
}

function toResponse(
  logger: RequestLogger,
  result: CommandResult,
  trace: RequestTrace | undefined,
): Response {
  switch (result.kind) {
    case 'accepted': {
      const { orderId, eventId, eventType, correlationId } = result;
      // traceId in the fields too: a logger whose appendKeys does nothing still carries it.
      logger.info('order event accepted', {
        orderId,
        eventId,
        eventType,
        traceId: trace?.context.traceId,
        sampled: trace?.context.sampled,
        ...(trace?.callerTraceId ? { callerTraceId: trace.callerTraceId } : {}),
      });
      return json(202, { orderId, eventId, correlationId });
    }
    case 'invalid':
      return validationError(result.issues);
    case 'not_found':
      return notFound(result.orderId);
    case 'conflict':
      return json(409, { error: 'Conflict', message: result.message, orderId: result.orderId });
  }
}

function orderResponse(result: OrderQueryResult): Response {
  switch (result.kind) {
    case 'found': {
      const { orderId, status, version, updatedAt } = result.order;
      // The state moves as events apply: a cached answer would hide that.
      const res = json(200, { orderId, status, version, updatedAt: updatedAt.toISOString() });
      res.headers.set('cache-control', 'no-store');
      return res;
    }
    case 'invalid':
      return validationError(result.issues);
    case 'not_found':
      return notFound(result.orderId);
  }
}

function notFound(orderId: string): Response {
  return json(404, { error: 'NotFound', message: `order "${orderId}" does not exist` });
}

function validationError(issues: readonly SchemaIssue[]): Response {
  return json(400, {
    error: 'ValidationError',
    issues: issues.map(({ path, message }) => ({ path, message })),
  });
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

type JsonBody =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly response: Response };

/**
 * The body as JSON, within the limits: too large is 413; not JSON is 400; a string PostgreSQL
 * cannot store (NUL, a lone UTF-16 surrogate) or an array over the limit is 400 naming its path.
 */
async function readJson(req: Request, limits: BodyLimits): Promise<JsonBody> {
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > limits.maxBodyBytes) {
    return {
      ok: false,
      response: json(413, {
        error: 'PayloadTooLarge',
        message: `body is ${bytes.byteLength} bytes; the limit is ${limits.maxBodyBytes}`,
      }),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return { ok: false, response: json(400, { error: 'MalformedJson' }) };
  }
  const issues = unstorable(value, limits);
  return issues.length > 0 ? { ok: false, response: validationError(issues) } : { ok: true, value };
}

// A surrogate not part of a pair: JSON can escape one, UTF-8 (so PostgreSQL) cannot hold it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text PostgreSQL refuses: a NUL (text columns and jsonb) or an unpaired surrogate. */
function isUnstorable(text: string): boolean {
  return text.includes('\0') || LONE_SURROGATE.test(text);
}

/** Issues, by path, for what the database would refuse or the limits forbid (at most 10). */
export function unstorable(value: unknown, limits: BodyLimits): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const visit = (v: unknown, at: readonly PropertyKey[]): void => {
    if (issues.length >= 10) return;
    const path = at.length === 0 ? '(body)' : formatPath(at);
    if (typeof v === 'string') {
      if (isUnstorable(v)) {
        issues.push({ path, message: 'contains a NUL or an unpaired surrogate' });
      }
      return;
    }
    if (at.length > 32) {
      issues.push({ path, message: 'is nested too deeply' });
      return;
    }
    if (Array.isArray(v)) {
      if (v.length > limits.maxArrayItems) {
        issues.push({ path, message: `has ${v.length} items; at most ${limits.maxArrayItems}` });
        return;
      }
      for (const [i, item] of v.entries()) visit(item, [...at, i]);
      return;
    }
    if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        if (isUnstorable(key)) {
          issues.push({ path, message: 'has a key with a NUL or an unpaired surrogate' });
        } else visit(item, [...at, key]);
      }
    }
  };
  visit(value, []);
  return issues;
}

function count(deps: OrderApiDeps, status: number): void {
  if (status === 202) deps.metrics?.addMetric(ORDER_API_METRICS.accepted, 'Count', 1);
  else if (status >= 400 && status < 500) {
    deps.metrics?.addMetric(ORDER_API_METRICS.rejected, 'Count', 1);
  }
}
