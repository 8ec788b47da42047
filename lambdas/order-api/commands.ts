// Order commands: validate input with the event's own schema, then write the order row and its
// outbox event in one transaction. No HTTP or Lambda types here; http.ts maps the results.
import { randomUUID } from 'node:crypto';
import type { ClientBase } from 'pg';
import type { z } from 'zod';
import { inTransaction } from '../shared/db/transaction';
import { createEnvelope, formatPath, type SchemaIssue } from '../shared/events/envelope';
import { ORDER_EVENT_REGISTRY, type OrderEventType, orderIdSchema } from '../shared/events/orders';
import type { LogSink } from '../shared/log-sink';
import { appendEvent, wakeRelay } from '../shared/outbox/outbox';
import {
  type Database,
  insertOrder,
  lockOrder,
  type OrderState,
  ping,
  readOrder,
} from './orders-repository';

/** Event types a client may record against an existing order (OrderPlaced is POST /orders). */
export const RECORDABLE_EVENT_TYPES = [
  'PaymentCaptured',
  'OrderShipped',
  'OrderCancelled',
] as const satisfies readonly OrderEventType[];
export type RecordableEventType = (typeof RECORDABLE_EVENT_TYPES)[number];

/** Ids fixed per request by the caller, so logs carry them before any command runs. */
export interface RequestIds {
  /** Becomes the new event's eventId (and the outbox row id); must be a UUID. */
  readonly eventId: string;
  readonly correlationId: string;
  /** W3C trace context for the event's Kafka record (outbox row headers), not for the event. */
  readonly traceparent?: string;
}

export type CommandResult =
  | {
      readonly kind: 'accepted';
      readonly orderId: string;
      readonly eventId: string;
      readonly eventType: OrderEventType;
      readonly correlationId: string;
    }
  | { readonly kind: 'invalid'; readonly issues: readonly SchemaIssue[] }
  | { readonly kind: 'not_found'; readonly orderId: string }
  | { readonly kind: 'conflict'; readonly orderId: string; readonly message: string };

export type OrderQueryResult =
  | { readonly kind: 'found'; readonly order: OrderState }
  | { readonly kind: 'invalid'; readonly issues: readonly SchemaIssue[] }
  | { readonly kind: 'not_found'; readonly orderId: string };

export type HealthResult = { readonly healthy: true } | { readonly healthy: false; error: unknown };

export interface CommandDeps {
  /** Id for an order the client did not name. */
  readonly newOrderId?: () => string;
  readonly now?: () => Date;
  /** Where a failed relay wake-up is reported (the command itself has succeeded by then). */
  readonly logger?: Pick<LogSink, 'warn'>;
}

/** The commands bound to a database; what the HTTP layer calls. */
export interface OrderCommands {
  placeOrder(input: unknown, ids: RequestIds): Promise<CommandResult>;
  recordOrderEvent(orderId: string, input: unknown, ids: RequestIds): Promise<CommandResult>;
  getOrder(orderId: string): Promise<OrderQueryResult>;
  checkHealth(): Promise<HealthResult>;
}

export function orderCommands(db: Database, deps: CommandDeps = {}): OrderCommands {
  return {
    placeOrder: (input, ids) => placeOrder(db, input, ids, deps),
    recordOrderEvent: (orderId, input, ids) => recordOrderEvent(db, orderId, input, ids, deps),
    getOrder: (orderId) => getOrder(db, orderId),
    checkHealth: () => checkHealth(db),
  };
}

/**
 * Every committed command appended an event: the relay is woken after the commit. A failure is
 * reported and rethrown (the client is then discarded); the command stays accepted, and the
 * relay's polling picks the event up within its interval.
 */
function relayWake(deps: CommandDeps) {
  return {
    afterCommit: async (client: ClientBase) => {
      try {
        await wakeRelay(client);
      } catch (error) {
        deps.logger?.warn('relay wake-up failed; the relay will find the event by polling', {
          error,
        });
        throw error;
      }
    },
  };
}

/** Creates the order (status CREATED) and its OrderPlaced event atomically. */
export async function placeOrder(
  db: Database,
  input: unknown,
  ids: RequestIds,
  deps: CommandDeps = {},
): Promise<CommandResult> {
  if (!isJsonObject(input)) return invalid('', 'must be a JSON object');
  const orderId = input.orderId === undefined ? (deps.newOrderId ?? randomUUID)() : input.orderId;
  const parsed = validate(ORDER_EVENT_REGISTRY.OrderPlaced.schema, { ...input, orderId });
  if (!parsed.ok) return { kind: 'invalid', issues: parsed.issues };
  const data = parsed.value;

  const event = createEnvelope(
    { eventType: 'OrderPlaced', data, correlationId: ids.correlationId },
    envelopeDeps(ids, deps),
  );
  return inTransaction(
    db,
    async (client) => {
      const inserted = await insertOrder(client, {
        id: data.orderId,
        customerId: data.customerId,
        totalMinor: data.totalMinor,
        currency: data.currency,
      });
      if (!inserted) {
        return {
          commit: false,
          result: { kind: 'conflict', orderId: data.orderId, message: 'order already exists' },
        };
      }
      // After the order row: the event's seq then follows the row's commit (outbox.ts).
      await appendEvent(client, event, ids.traceparent);
      return { commit: true, result: accepted(event) };
    },
    relayWake(deps),
  );
}

/** Records a fact about an existing order; the consumer decides whether it moves the status. */
export async function recordOrderEvent(
  db: Database,
  orderId: string,
  input: unknown,
  ids: RequestIds,
  deps: CommandDeps = {},
): Promise<CommandResult> {
  if (!isJsonObject(input)) return invalid('', 'must be a JSON object');
  const { eventType, data } = input;
  if (!isRecordable(eventType)) {
    return invalid('eventType', `must be one of ${RECORDABLE_EVENT_TYPES.join(', ')}`);
  }
  if (!isJsonObject(data)) return invalid('data', 'must be a JSON object');
  // The order id in the path is the aggregate; a body naming another order is a client bug.
  if (data.orderId !== undefined && data.orderId !== orderId) {
    return invalid('data.orderId', `must equal the order id in the path ("${orderId}")`);
  }
  const parsed = validate(ORDER_EVENT_REGISTRY[eventType].schema, { ...data, orderId }, ['data']);
  if (!parsed.ok) return { kind: 'invalid', issues: parsed.issues };

  const event = createEnvelope(
    { eventType, data: parsed.value, correlationId: ids.correlationId },
    envelopeDeps(ids, deps),
  );
  return inTransaction(
    db,
    async (client) => {
      if (!(await lockOrder(client, orderId))) {
        return { commit: false, result: { kind: 'not_found', orderId } };
      }
      await appendEvent(client, event, ids.traceparent);
      return { commit: true, result: accepted(event) };
    },
    relayWake(deps),
  );
}

/** The order's current state, as the consumer last applied it (one query, no transaction). */
export async function getOrder(db: Database, orderId: string): Promise<OrderQueryResult> {
  const parsed = validate(orderIdSchema, orderId, ['orderId']);
  if (!parsed.ok) return { kind: 'invalid', issues: parsed.issues };
  const order = await readOrder(db, parsed.value);
  return order === undefined ? { kind: 'not_found', orderId } : { kind: 'found', order };
}

export async function checkHealth(db: Database): Promise<HealthResult> {
  try {
    await ping(db);
    return { healthy: true };
  } catch (error) {
    return { healthy: false, error };
  }
}

// --- helpers -----------------------------------------------------------------------------

type Validated<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: SchemaIssue[] };

function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: readonly PropertyKey[] = [],
): Validated<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: formatPath([...prefix, ...issue.path]),
      message: issue.message,
    })),
  };
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRecordable(value: unknown): value is RecordableEventType {
  return (RECORDABLE_EVENT_TYPES as readonly unknown[]).includes(value);
}

function invalid(path: string, message: string): CommandResult {
  return { kind: 'invalid', issues: [{ path, message }] };
}

function envelopeDeps(ids: RequestIds, deps: CommandDeps) {
  return { newId: () => ids.eventId, ...(deps.now !== undefined ? { now: deps.now } : {}) };
}

function accepted(event: {
  eventId: string;
  eventType: OrderEventType;
  aggregateId: string;
  correlationId: string;
}): CommandResult {
  return {
    kind: 'accepted',
    orderId: event.aggregateId,
    eventId: event.eventId,
    eventType: event.eventType,
    correlationId: event.correlationId,
  };
}
