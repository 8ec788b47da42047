// The idempotency key of an order event (DESIGN §2): SHA-256 over the business fields that
// identify the fact, never over the delivery (a relay duplicate arrives at a new offset and
// may carry a new eventId). Both layers (the cache fast path and processed_events) use it.
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
  const encoded = JSON.stringify([event.aggregateId, event.eventType, event.timestamp]);
  return createHash('sha256').update(encoded, 'utf8').digest('hex');
}
