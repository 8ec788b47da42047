// The PostgreSQL ground truth of the consumer (docs/ARCHITECTURE.md §3): a batch of order events is
// applied in ONE transaction with a handful of set-based statements, and every applied event
// leaves its processed_events row in the same transaction, so no event ever applies twice.
//
//   lock the orders involved (sorted ids: one lock order, no deadlocks between batches)
//   → read which keys are already processed, and the applied transitions that events finding
//     their order already in the target state must be compared with (one query, after the
//     locks: READ COMMITTED re-reads, so a batch that committed the same keys first is seen)
//   → plan in memory with the state machine (pure: `planBatch`)
//   → write: update existing orders, insert new ones, record processed keys.
//
// Orders that do not exist yet cannot be row-locked. Two batches creating the same order both
// plan its OrderPlaced as applied; the second one's insert finds the row (ON CONFLICT waits for
// the first to commit) and the batch is rolled back and re-run, now seeing the row and the keys.

import type { ClientBase } from 'pg';
import { transaction } from '../shared/db/transaction';
import {
  fromTransitionRejection,
  IdempotencyConflictError,
  type InvalidTransitionError,
  TransientError,
  TransitionConflictError,
} from '../shared/errors/taxonomy';
import type { OrderEvent } from '../shared/events/envelope';
import { nextState, type OrderState, TRANSITIONS } from '../shared/events/state-machine';
import { idempotencyKey, payloadHash } from './idempotency-key';

export type ApplyOutcome =
  | {
      readonly status: 'applied';
      /** `undefined` when the event created the order. */
      readonly from: OrderState | undefined;
      readonly to: OrderState;
    }
  | {
      readonly status: 'duplicate';
      /**
       * PROCESSED: the key is in processed_events (or earlier in this batch).
       * ALREADY_APPLIED: the order is already in the event's target state (e.g. OrderPlaced for
       * an order the API created) and the event's business data matches the transition's
       * recorded one (or there is none to compare); the key is recorded now so a redelivery is
       * cheap. With other data it is rejected with a TransitionConflictError instead.
       */
      readonly reason: 'PROCESSED' | 'ALREADY_APPLIED';
    }
  | {
      readonly status: 'rejected';
      /** Nothing changed and the key is not recorded: the caller dead-letters the event. */
      readonly error: InvalidTransitionError | IdempotencyConflictError;
    };

export interface NewOrderRow {
  readonly id: string;
  readonly customerId: string;
  readonly totalMinor: number;
  readonly currency: string;
  /** State after every event of the batch for this order. */
  readonly status: OrderState;
  /** Applied transitions, the creation included (an order starts at version 1). */
  readonly version: number;
}

export interface StateUpdate {
  readonly id: string;
  /** State after every event of the batch for this order. */
  readonly status: OrderState;
  /** Applied transitions: the order's version grows by this much. */
  readonly transitions: number;
}

export interface ProcessedRow {
  readonly idempotencyKey: string;
  readonly eventId: string;
  readonly payloadHash: string;
  readonly aggregateId: string;
  readonly eventType: string;
}

/** A processed_events row of an order's transition (its order and event type). */
export interface RecordedTransition {
  readonly eventId: string;
  /** Null for a row recorded before payload hashes were. */
  readonly payloadHash: string | null;
}

/**
 * Names an order's transition. The state machine enters each state by one event type only and
 * never re-enters it, so an order applies each event type at most once: the pair identifies
 * the transition. The event type comes first and never holds a space, so no pair collides.
 */
export function transitionKey(aggregateId: string, eventType: string): string {
  return `${eventType} ${aggregateId}`;
}

export interface BatchPlan {
  /** One per input event, in input order. */
  readonly outcomes: readonly ApplyOutcome[];
  /** Orders created by an OrderPlaced of this batch, sorted by id. */
  readonly newOrders: readonly NewOrderRow[];
  /** Existing orders whose state changed, one row per order, sorted by id. */
  readonly stateUpdates: readonly StateUpdate[];
  /** Keys to record: applied and ALREADY_APPLIED events, each key once. */
  readonly processed: readonly ProcessedRow[];
}

interface Running {
  readonly existed: boolean;
  state: OrderState | undefined;
  transitions: number;
  created?: { customerId: string; totalMinor: number; currency: string };
}

/**
 * Decides every event's outcome against the orders' current states, walking the events in
 * input order (per aggregate, that is the partition's offset order). Pure: no I/O, no clock.
 *
 * `currentStates` holds the locked orders (a missing id means no order); `processedKeys` the
 * keys already in processed_events, each with its stored payload hash (null when recorded
 * before hashes were). `keys` and `hashes`, when given, are the events' idempotency keys and
 * payload hashes in input order (saves hashing twice). A key recorded before, here or earlier
 * in the batch, makes the event a PROCESSED duplicate when its payload hash matches and an
 * IDEMPOTENCY_CONFLICT when it does not; a key whose earlier event was rejected is not
 * recorded, so the later one is judged again.
 *
 * An event under a new key that finds its order already in its target state repeats a
 * transition applied before. `transitions` holds the recorded rows of such transitions (by
 * `transitionKey`); with those of this batch, they decide: a row with the event's payload hash
 * makes it a harmless ALREADY_APPLIED duplicate (a replay of the same business fact with a new
 * timestamp); only other hashes make it a TransitionConflictError (IDEMPOTENCY_CONFLICT). No
 * comparable row (recorded before the transition columns existed, purged by retention, or an
 * order the API created whose OrderPlaced is first seen) cannot be compared: a duplicate.
 */
export function planBatch(
  events: readonly OrderEvent[],
  currentStates: ReadonlyMap<string, OrderState>,
  processedKeys: ReadonlyMap<string, string | null>,
  keys: readonly string[] = events.map(idempotencyKey),
  hashes: readonly string[] = events.map(payloadHash),
  transitions: ReadonlyMap<string, readonly RecordedTransition[]> = new Map(),
): BatchPlan {
  if (keys.length !== events.length || hashes.length !== events.length) {
    throw new RangeError(
      `planBatch: ${keys.length} keys and ${hashes.length} hashes for ${events.length} events`,
    );
  }
  const running = new Map<string, Running>();
  const recorded = new Map<string, string>();
  // Transitions applied or confirmed earlier in this batch, by transitionKey.
  const batchTransitions = new Map<string, RecordedTransition[]>();
  const processed: ProcessedRow[] = [];
  const outcomes: ApplyOutcome[] = [];
  const record = (event: OrderEvent, key: string, hash: string) => {
    recorded.set(key, hash);
    processed.push({
      idempotencyKey: key,
      eventId: event.eventId,
      payloadHash: hash,
      aggregateId: event.aggregateId,
      eventType: event.eventType,
    });
    const transition = transitionKey(event.aggregateId, event.eventType);
    const rows = batchTransitions.get(transition);
    const row = { eventId: event.eventId, payloadHash: hash };
    if (rows === undefined) batchTransitions.set(transition, [row]);
    else rows.push(row);
  };

  events.forEach((event, index) => {
    const key = keys[index] as string;
    const hash = hashes[index] as string;
    const before = recorded.has(key) ? recorded.get(key) : processedKeys.get(key);
    if (before !== undefined) {
      if (before === null || before === hash) {
        outcomes.push({ status: 'duplicate', reason: 'PROCESSED' });
      } else {
        outcomes.push({
          status: 'rejected',
          error: new IdempotencyConflictError(
            `idempotency key ${key} was first processed with a different payload`,
            {
              context: {
                eventId: event.eventId,
                eventType: event.eventType,
                aggregateId: event.aggregateId,
                correlationId: event.correlationId,
              },
            },
          ),
        });
      }
      return;
    }
    let order = running.get(event.aggregateId);
    if (order === undefined) {
      const state = currentStates.get(event.aggregateId);
      order = { existed: state !== undefined, state, transitions: 0 };
      running.set(event.aggregateId, order);
    }
    const result = nextState(order.state, event.eventType);
    if (result.ok) {
      outcomes.push({ status: 'applied', from: order.state, to: result.state });
      if (event.eventType === 'OrderPlaced' && order.state === undefined) {
        order.created = {
          customerId: event.data.customerId,
          totalMinor: event.data.totalMinor,
          currency: event.data.currency,
        };
      }
      order.state = result.state;
      order.transitions += 1;
      record(event, key, hash);
      return;
    }
    const context = {
      eventId: event.eventId,
      eventType: event.eventType,
      aggregateId: event.aggregateId,
      correlationId: event.correlationId,
    };
    const rejection = fromTransitionRejection(result.rejection, context);
    if (rejection.kind === 'DUPLICATE') {
      const transition = transitionKey(event.aggregateId, event.eventType);
      const before = [
        ...(transitions.get(transition) ?? []),
        ...(batchTransitions.get(transition) ?? []),
      ].filter((row) => row.payloadHash !== null);
      const [other] = before;
      if (other !== undefined && !before.some((row) => row.payloadHash === hash)) {
        const conflict = {
          eventType: event.eventType,
          aggregateId: event.aggregateId,
          appliedEventId: other.eventId,
          data: describeData(event.data),
        };
        outcomes.push({
          status: 'rejected',
          error: new TransitionConflictError(conflict, {
            context: { ...context, appliedEventId: other.eventId },
          }),
        });
        return;
      }
      outcomes.push({ status: 'duplicate', reason: 'ALREADY_APPLIED' });
      record(event, key, hash);
      return;
    }
    outcomes.push({ status: 'rejected', error: rejection.error });
  });

  const newOrders: NewOrderRow[] = [];
  const stateUpdates: StateUpdate[] = [];
  const byId = [...running.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, order] of byId) {
    if (order.transitions === 0 || order.state === undefined) continue;
    if (order.existed) {
      stateUpdates.push({ id, status: order.state, transitions: order.transitions });
    } else if (order.created !== undefined) {
      newOrders.push({ id, ...order.created, status: order.state, version: order.transitions });
    }
  }
  return { outcomes, newOrders, stateUpdates, processed };
}

const MAX_VALUE_CHARS = 80;

/** The business fields of an event's data for a message: scalars as JSON, arrays by length. */
function describeData(data: Readonly<Record<string, unknown>>): string {
  return Object.entries(data)
    .filter(([name, value]) => name !== 'orderId' && value !== undefined)
    .map(([name, value]) => {
      if (Array.isArray(value)) return `${name}=[${value.length} entries]`;
      const json = JSON.stringify(value) ?? String(value);
      return `${name}=${json.length > MAX_VALUE_CHARS ? `${json.slice(0, MAX_VALUE_CHARS)}…` : json}`;
    })
    .join(', ');
}

export interface ApplyBatchOptions {
  /**
   * Runs of the whole transaction when a concurrent batch created one of its new orders first
   * (the stage config's `consumer.applyAttempts`). After the last one a TransientError is
   * thrown: the caller retries later.
   */
  readonly maxAttempts: number;
}

/** A concurrent batch wrote first; the transaction is rolled back and run again. */
class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

/**
 * Applies `events` (already parsed, in per-partition offset order) in one transaction that
 * this function opens and commits on `client`; returns one outcome per event, in input order.
 * On any error the transaction is rolled back and the error rethrown: nothing of the batch is
 * kept. `client` must not be inside a transaction; release it with the error when this throws.
 */
export async function applyBatch(
  client: ClientBase,
  events: readonly OrderEvent[],
  options: ApplyBatchOptions,
): Promise<ApplyOutcome[]> {
  if (events.length === 0) return [];
  const maxAttempts = Math.max(1, options.maxAttempts);
  const keys = events.map(idempotencyKey);
  const hashes = events.map(payloadHash);
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction(client, async () => ({
        commit: true,
        result: await applyOnce(client, events, keys, hashes),
      }));
    } catch (error) {
      if (!(error instanceof ConcurrentWriteError)) throw error;
      if (attempt >= maxAttempts) {
        throw new TransientError(
          `order batch lost ${attempt} races with concurrent writers: ${error.message}`,
          { cause: error },
        );
      }
    }
  }
}

const LOCK_ORDERS = `
  SELECT id, status FROM orders WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`;

// The batch's keys, and the recorded transitions of the (order, event type) pairs in $2/$3.
const SELECT_PROCESSED = `
  SELECT true AS by_key, idempotency_key, event_id, payload_hash, aggregate_id, event_type
    FROM processed_events
   WHERE idempotency_key = ANY($1::text[])
  UNION ALL
  SELECT false, idempotency_key, event_id, payload_hash, aggregate_id, event_type
    FROM processed_events
   WHERE (aggregate_id, event_type) IN (SELECT * FROM unnest($2::text[], $3::text[]))`;

const UPDATE_STATES = `
  UPDATE orders AS o
     SET status = u.status, version = o.version + u.transitions, updated_at = now()
    FROM unnest($1::text[], $2::text[], $3::int[]) AS u(id, status, transitions)
   WHERE o.id = u.id`;

const INSERT_ORDERS = `
  INSERT INTO orders (id, customer_id, status, total_amount_minor, currency, version)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[])
  ON CONFLICT (id) DO NOTHING`;

const INSERT_PROCESSED = `
  INSERT INTO processed_events (idempotency_key, event_id, payload_hash, aggregate_id, event_type)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
  ON CONFLICT (idempotency_key) DO NOTHING`;

async function applyOnce(
  client: ClientBase,
  events: readonly OrderEvent[],
  keys: readonly string[],
  hashes: readonly string[],
): Promise<ApplyOutcome[]> {
  const ids = [...new Set(events.map((e) => e.aggregateId))].sort();
  const locked = await client.query<{ id: string; status: OrderState }>(LOCK_ORDERS, [ids]);
  const states = new Map(locked.rows.map((row) => [row.id, row.status]));

  // Only an event finding its order already in its target state can repeat a recorded
  // transition (one applied in this batch is compared in memory).
  const pairs = new Map<string, readonly [string, string]>();
  for (const e of events) {
    if (states.get(e.aggregateId) === TRANSITIONS[e.eventType].to) {
      pairs.set(transitionKey(e.aggregateId, e.eventType), [e.aggregateId, e.eventType]);
    }
  }
  const seen = await client.query<{
    by_key: boolean;
    idempotency_key: string;
    event_id: string;
    payload_hash: string | null;
    aggregate_id: string | null;
    event_type: string | null;
  }>(SELECT_PROCESSED, [
    [...new Set(keys)],
    [...pairs.values()].map(([id]) => id),
    [...pairs.values()].map(([, type]) => type),
  ]);
  const processedKeys = new Map<string, string | null>();
  const transitions = new Map<string, RecordedTransition[]>();
  for (const row of seen.rows) {
    if (row.by_key) {
      processedKeys.set(row.idempotency_key, row.payload_hash);
    } else if (row.aggregate_id !== null && row.event_type !== null) {
      const transition = transitionKey(row.aggregate_id, row.event_type);
      const recorded = { eventId: row.event_id, payloadHash: row.payload_hash };
      transitions.set(transition, [...(transitions.get(transition) ?? []), recorded]);
    }
  }

  const plan = planBatch(events, states, processedKeys, keys, hashes, transitions);

  if (plan.stateUpdates.length > 0) {
    const updated = await client.query(UPDATE_STATES, [
      plan.stateUpdates.map((u) => u.id),
      plan.stateUpdates.map((u) => u.status),
      plan.stateUpdates.map((u) => u.transitions),
    ]);
    // The rows are locked by this transaction, so this can only fail if the schema changed.
    if (updated.rowCount !== plan.stateUpdates.length) {
      throw new Error(`updated ${updated.rowCount} of ${plan.stateUpdates.length} locked orders`);
    }
  }
  if (plan.newOrders.length > 0) {
    const inserted = await client.query(INSERT_ORDERS, [
      plan.newOrders.map((o) => o.id),
      plan.newOrders.map((o) => o.customerId),
      plan.newOrders.map((o) => o.status),
      plan.newOrders.map((o) => o.totalMinor),
      plan.newOrders.map((o) => o.currency),
      plan.newOrders.map((o) => o.version),
    ]);
    if (inserted.rowCount !== plan.newOrders.length) {
      throw new ConcurrentWriteError(
        `${plan.newOrders.length - (inserted.rowCount ?? 0)} new order(s) created concurrently`,
      );
    }
  }
  if (plan.processed.length > 0) {
    const recorded = await client.query(INSERT_PROCESSED, [
      plan.processed.map((p) => p.idempotencyKey),
      plan.processed.map((p) => p.eventId),
      plan.processed.map((p) => p.payloadHash),
      plan.processed.map((p) => p.aggregateId),
      plan.processed.map((p) => p.eventType),
    ]);
    // Every key was checked after the locks; one appearing since means a writer that did not
    // lock the order got there first. Re-running sees it, so nothing is reported twice.
    if (recorded.rowCount !== plan.processed.length) {
      throw new ConcurrentWriteError(
        `${plan.processed.length - (recorded.rowCount ?? 0)} key(s) recorded concurrently`,
      );
    }
  }
  return [...plan.outcomes];
}
