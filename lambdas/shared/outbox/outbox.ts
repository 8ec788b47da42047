// The transactional outbox: the write API used inside business transactions, and the queries
// the relay runs. All SQL on the `outbox` table lives here.
import type { ClientBase } from 'pg';

/** The envelope fields the outbox stores and the relay turns into key, value and headers. */
export interface OutboxEvent {
  readonly eventId: string;
  readonly eventType: string;
  readonly aggregateId: string;
  readonly schemaVersion: string;
  readonly correlationId: string;
  readonly timestamp: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Kafka headers every published event carries (DESIGN §2). */
export function outboxHeaders(event: OutboxEvent): Record<string, string> {
  return {
    eventId: event.eventId,
    eventType: event.eventType,
    schemaVersion: event.schemaVersion,
    correlationId: event.correlationId,
  };
}

/**
 * Appends an event inside the caller's transaction. Call it after the aggregate's own row is
 * written (and so locked): events of one aggregate then take `seq` values in commit order,
 * which is the order the relay publishes them in.
 */
export async function appendEvent(client: ClientBase, event: OutboxEvent): Promise<void> {
  await client.query(
    `INSERT INTO outbox (id, aggregate_id, event_type, payload, headers)
     VALUES ($1, $2, $3, $4, $5)`,
    [event.eventId, event.aggregateId, event.eventType, event, outboxHeaders(event)],
  );
}

/**
 * Wakes a LISTENing relay; call it after the transaction that appended events has committed.
 * Its own transaction, committed asynchronously: PostgreSQL serialises the commits of
 * notifying transactions on one database-wide lock held through the commit's WAL flush, so a
 * NOTIFY inside the business transaction (the trigger of migration 0001, dropped in 0005) made
 * every order write wait for the previous one's disk flush. The empty payload is on purpose:
 * the relay re-reads the table. A wake-up lost to a crash costs one polling interval.
 */
export const WAKE_RELAY_SQL =
  "BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('outbox', ''); COMMIT";

export async function wakeRelay(client: ClientBase): Promise<void> {
  await client.query(WAKE_RELAY_SQL);
}

export interface OutboxRow {
  readonly id: string;
  readonly seq: string;
  readonly aggregateId: string;
  readonly eventType: string;
  readonly payload: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly createdAt: Date;
}

/**
 * Arbitrary constant for the relay's transaction-scoped advisory lock: one relay publishes at
 * a time, so batches of one outbox are published strictly in seq order (DESIGN §2, ordering).
 */
export const RELAY_LOCK_KEY = 0x6f757462; // "outb"

/** Takes the relay lock for the current transaction; false when another relay holds it. */
export async function tryRelayLock(client: ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_xact_lock($1) AS locked',
    [RELAY_LOCK_KEY],
  );
  return rows[0]?.locked === true;
}

/** Claims the oldest unpublished rows in seq order; must run inside a transaction. */
export async function claimPending(client: ClientBase, limit: number): Promise<OutboxRow[]> {
  const { rows } = await client.query<{
    id: string;
    seq: string;
    aggregate_id: string;
    event_type: string;
    payload: Record<string, unknown>;
    headers: Record<string, string>;
    created_at: Date;
  }>(
    `SELECT id, seq, aggregate_id, event_type, payload, headers, created_at
       FROM outbox
      WHERE published_at IS NULL
      ORDER BY seq
      LIMIT $1
        FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    payload: r.payload,
    headers: r.headers,
    createdAt: r.created_at,
  }));
}

export async function markPublished(client: ClientBase, ids: readonly string[]): Promise<void> {
  await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])', [ids]);
}

/** Age in ms of the oldest unpublished row, 0 when none is pending. */
export async function oldestPendingAgeMs(client: ClientBase): Promise<number> {
  const { rows } = await client.query<{ age_ms: string | null }>(
    `SELECT (extract(epoch FROM now() - created_at) * 1000)::bigint AS age_ms
       FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1`,
  );
  return Math.max(0, Number(rows[0]?.age_ms ?? 0));
}

/** Deletes up to `limit` rows published more than `olderThanHours` ago; returns how many. */
export async function deletePublishedBefore(
  client: ClientBase,
  olderThanHours: number,
  limit: number,
): Promise<number> {
  const result = await client.query(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox
        WHERE published_at IS NOT NULL AND published_at < now() - make_interval(hours => $1)
        LIMIT $2)`,
    [olderThanHours, limit],
  );
  return result.rowCount ?? 0;
}
