// The idempotency key of an order event (docs/ARCHITECTURE.md §3): SHA-256 over the business fields that
// identify the fact, never over the delivery (a relay duplicate arrives at a new offset and
// may carry a new eventId). Both layers (the cache fast path and processed_events) use it,
// and both keep the payload hash that tells a repeat from a conflict (same key, other data).
import { createHash } from 'node:crypto';

/** The fields the key is computed from; everything else in the event is ignored. */
export interface IdempotencyKeyFields {
  readonly aggregateId: string;
  readonly eventType: string;
  readonly timestamp: string;
}

/**
 * Hex SHA-256 over the JSON array [aggregateId, eventType, timestamp]. JSON quotes and escapes
 * each string, so no choice of field values can shift a boundary between fields and collide.
 * The timestamp is hashed as sent (the envelope only admits UTC "Z" spellings).
 */
export function idempotencyKey(event: IdempotencyKeyFields): string {
  return memo(keys, event, () => {
    const encoded = JSON.stringify([event.aggregateId, event.eventType, event.timestamp]);
    return createHash('sha256').update(encoded, 'utf8').digest('hex');
  });
}

// The consumer asks for an event's key and hash in the chunk, at the gate and in the group
// commit; parsed events are never mutated, so each is hashed once (a profiled hot path).
const keys = new WeakMap<object, string>();
const hashes = new WeakMap<object, string>();

function memo(cache: WeakMap<object, string>, event: object, compute: () => string): string {
  let value = cache.get(event);
  if (value === undefined) {
    value = compute();
    cache.set(event, value);
  }
  return value;
}

/** JSON with object keys sorted at every level: equal payloads hash equally whatever the key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What an event says, as opposed to which fact it is: its type and data. */
export interface PayloadFields {
  readonly eventType: string;
  readonly data: unknown;
}

/**
 * Hex SHA-256 over the type and data; a repeat of a key with another hash is a conflict, and
 * so is a repeat of an applied transition under another key. Timestamp and eventId stay out:
 * the same business fact republished later hashes the same.
 */
export function payloadHash(event: PayloadFields): string {
  return memo(hashes, event, () =>
    createHash('sha256')
      .update(stableJson({ eventType: event.eventType, data: event.data }), 'utf8')
      .digest('hex'),
  );
}
