// The order API's real HTTP adapter (lambdas/order-api/http.ts: routing, status codes, the 202
// and GET bodies) served over HTTP by the local API server, in front of commands kept in memory:
// they validate with the events' own schemas and apply one pending event per GET, as a consumer
// catching up would. Lets the unit tests run the smoke's sequence without PostgreSQL; the
// integration test runs it against the real pipeline.
import { randomUUID } from 'node:crypto';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import type { CommandResult, OrderCommands } from '../../../../lambdas/order-api/commands';
import { RECORDABLE_EVENT_TYPES } from '../../../../lambdas/order-api/commands';
import { createOrderApi } from '../../../../lambdas/order-api/http';
import {
  ORDER_EVENT_REGISTRY,
  type OrderEventType,
} from '../../../../lambdas/shared/events/orders';
import { type OrderState, TRANSITIONS } from '../../../../lambdas/shared/events/state-machine';
import { type LocalApi, startLocalApi } from '../../../../tools/local-runtime/api-server';

interface StoredOrder {
  status: OrderState;
  version: number;
  updatedAt: Date;
  readonly pending: OrderEventType[];
}

export interface StandIn {
  readonly url: string;
  readonly orders: Map<string, StoredOrder>;
  /** Every request the adapter received, in order. */
  readonly events: APIGatewayProxyEventV2[];
  close(): Promise<void>;
}

export interface StandInOptions {
  /** Ids the API hands out, in order (order id, then one per request); random after. */
  readonly orderIds?: readonly string[];
  readonly requestIds?: readonly string[];
  /** Looks at each request first; a response returned here is sent instead (e.g. 403). */
  readonly gate?: (event: APIGatewayProxyEventV2) => APIGatewayProxyStructuredResultV2 | undefined;
}

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const orders = new Map<string, StoredOrder>();
  const events: APIGatewayProxyEventV2[] = [];
  const orderIds = [...(options.orderIds ?? [])];
  const requestIds = [...(options.requestIds ?? [])];
  const commands = inMemoryCommands(orders, () => orderIds.shift() ?? randomUUID());
  const api = createOrderApi({
    commands,
    logger: { debug() {}, info() {}, warn() {}, error() {}, appendKeys() {}, removeKeys() {} },
    limits: { maxBodyBytes: 262_144, maxArrayItems: 1_000 },
    newId: () => requestIds.shift() ?? randomUUID(),
  });
  const local: LocalApi = await startLocalApi({
    port: 0,
    timeoutMs: 10_000,
    functionName: 'order-pipeline-test-order-api',
    handler: async (event: APIGatewayProxyEventV2, context: Context) => {
      events.push(event);
      return options.gate?.(event) ?? (await api(event, context));
    },
  });
  return { url: `${local.url}/`, orders, events, close: () => local.close() };
}

function inMemoryCommands(
  orders: Map<string, StoredOrder>,
  newOrderId: () => string,
): OrderCommands {
  const accepted = (
    orderId: string,
    eventType: OrderEventType,
    ids: { eventId: string; correlationId: string },
  ): CommandResult => ({ kind: 'accepted', orderId, eventType, ...ids });
  const invalid = (issues: { path: string; message: string }[]): CommandResult => ({
    kind: 'invalid',
    issues,
  });
  return {
    async placeOrder(input, ids) {
      const body = input as Record<string, unknown>;
      const orderId = typeof body.orderId === 'string' ? body.orderId : newOrderId();
      const parsed = ORDER_EVENT_REGISTRY.OrderPlaced.schema.safeParse({ ...body, orderId });
      if (!parsed.success) return invalid(issuesOf(parsed.error.issues));
      if (orders.has(orderId))
        return { kind: 'conflict', orderId, message: 'order already exists' };
      orders.set(orderId, { status: 'CREATED', version: 1, updatedAt: new Date(), pending: [] });
      return accepted(orderId, 'OrderPlaced', ids);
    },
    async recordOrderEvent(orderId, input, ids) {
      const { eventType, data } = input as { eventType?: unknown; data?: Record<string, unknown> };
      if (!(RECORDABLE_EVENT_TYPES as readonly unknown[]).includes(eventType)) {
        return invalid([{ path: 'eventType', message: 'not recordable' }]);
      }
      const type = eventType as (typeof RECORDABLE_EVENT_TYPES)[number];
      const parsed = ORDER_EVENT_REGISTRY[type].schema.safeParse({ ...data, orderId });
      if (!parsed.success) return invalid(issuesOf(parsed.error.issues, 'data.'));
      const order = orders.get(orderId);
      if (order === undefined) return { kind: 'not_found', orderId };
      order.pending.push(type);
      return accepted(orderId, type, ids);
    },
    async getOrder(orderId) {
      const order = orders.get(orderId);
      if (order === undefined) return { kind: 'not_found', orderId };
      const next = order.pending.shift();
      if (next !== undefined && TRANSITIONS[next].from.includes(order.status)) {
        order.status = TRANSITIONS[next].to;
        order.version++;
        order.updatedAt = new Date();
      }
      return {
        kind: 'found',
        order: {
          orderId,
          status: order.status,
          version: order.version,
          updatedAt: order.updatedAt,
        },
      };
    },
    async checkHealth() {
      return { healthy: true };
    },
  };
}

function issuesOf(
  issues: readonly { path: PropertyKey[]; message: string }[],
  prefix = '',
): { path: string; message: string }[] {
  return issues.map((i) => ({ path: `${prefix}${i.path.join('.')}`, message: i.message }));
}
