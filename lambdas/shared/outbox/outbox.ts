// The transactional outbox: the write API used inside business transactions, and the queries
// the relay runs. All SQL on the `outbox` table lives here and in set-aside.ts (the operator's).
import type { ClientBase } from 'pg';
import { TRACEPARENT_HEADER } from '../tracing/trace-context';

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

/**
 * Kafka headers every published event carries (docs/ARCHITECTURE.md §3), plus the W3C
 * `traceparent` when the writer has one: trace context is transport metadata, so it stays out
 * of the event (the payload is business data under the schema check).
 */
export function outboxHeaders(event: OutboxEvent, traceparent?: string): Record<string, string> {
  return {
    eventId: event.eventId,
    eventType: event.eventType,
    schemaVersion: event.schemaVersion,
    correlationId: event.correlationId,
    ...(traceparent !== undefined ? { [TRACEPARENT_HEADER]: traceparent } : {}),
  };
}

/**
 * Appends an event inside the caller's transaction. Call it after the aggregate's own row is
 * written (and so locked): events of one aggregate then take `seq` values in commit order,
 * which is the order the relay publishes them in.
 */
export async function appendEvent(
  client: ClientBase,
  event: OutboxEvent,
  traceparent?: string,
): Promise<void> {
  await client.query(
    `INSERT INTO outbox (id, aggregate_id, event_type, payload, headers)
     VALUES ($1, $2, $3, $4, $5)`,
    [event.eventId, event.aggregateId, event.eventType, event, outboxHeaders(event, traceparent)],
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
 * a time, so batches of one outbox are published strictly in seq order (docs/ARCHITECTURE.md §3, ordering).
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

/**
 * What the relay may publish: pending, neither set aside nor discarded, and not held behind a
 * set-aside row of its aggregate (which it must not overtake). The NOT EXISTS probes the
 * partial index outbox_set_aside_aggregate_idx, empty while nothing is set aside.
 */
const CLAIMABLE = `o.published_at IS NULL AND o.set_aside_at IS NULL AND o.discarded_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM outbox s
                         WHERE s.aggregate_id = o.aggregate_id AND s.set_aside_at IS NOT NULL)`;

/**
 * The relay's pipelined claim: no row locks, because only the holder of the relay lock claims,
 * and the rows it already has in flight (claimed, not yet marked) are excluded by id. A relay
 * that took over after a lost lock therefore skips nothing: it republishes what was in flight
 * (duplicates, which consumers dedupe) but never overtakes an earlier event of an order.
 */
export const CLAIM_NEXT_SQL = `SELECT o.id, o.seq, o.aggregate_id, o.event_type, o.payload, o.headers, o.created_at
       FROM outbox o
      WHERE ${CLAIMABLE}
        AND o.id <> ALL($2::uuid[])
      ORDER BY o.seq
      LIMIT $1`;

interface ClaimedRow {
  id: string;
  seq: string;
  aggregate_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  created_at: Date;
}

/** The oldest claimable rows in seq order but those in `exclude` (see CLAIM_NEXT_SQL). */
export async function claimNext(
  client: ClientBase,
  limit: number,
  exclude: readonly string[],
): Promise<OutboxRow[]> {
  const { rows } = await client.query<ClaimedRow>(CLAIM_NEXT_SQL, [limit, exclude]);
  return rows.map(toOutboxRow);
}

/**
 * Starts a relay pass on `client`: a transaction holding the relay lock until it ends; false
 * (and rolled back) when another relay holds it. Sorting is disabled for the pass's claims so
 * that they always walk outbox_unpublished_seq_idx and stop after `limit` rows: with statistics
 * taken before a backlog (few pending rows), the planner otherwise sorts every pending row for
 * each batch, which makes draining a backlog quadratic.
 */
export async function beginRelayPass(client: ClientBase): Promise<boolean> {
  await client.query('BEGIN');
  try {
    if (!(await tryRelayLock(client))) {
      await client.query('ROLLBACK');
      return false;
    }
    await client.query('SET LOCAL enable_sort = off');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function toOutboxRow(r: ClaimedRow): OutboxRow {
  return {
    id: r.id,
    seq: r.seq,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    payload: r.payload,
    headers: r.headers,
    createdAt: r.created_at,
  };
}

export async function markPublished(client: ClientBase, ids: readonly string[]): Promise<void> {
  await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])', [ids]);
}

export interface SetAsideRow {
  readonly id: string;
  readonly reason: string;
}

/** Sets rows aside (inside the claim transaction); their aggregates' later rows are then held. */
export async function markSetAside(
  client: ClientBase,
  rows: readonly SetAsideRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `UPDATE outbox o SET set_aside_at = now(), set_aside_reason = x.reason
       FROM unnest($1::uuid[], $2::text[]) AS x(id, reason)
      WHERE o.id = x.id`,
    [rows.map((r) => r.id), rows.map((r) => r.reason)],
  );
}

export interface OutboxGauges {
  /** Age in ms of the oldest row the relay could publish now, 0 when none. */
  readonly oldestPendingAgeMs: number;
  /** Rows set aside now, waiting for an operator (held rows not counted). */
  readonly setAsideRows: number;
}

/**
 * Set-aside and held rows are left out of the age: they have their own gauge and alarm, and
 * the age keeps saying whether everyone else's events flow.
 */
export async function outboxGauges(client: ClientBase): Promise<OutboxGauges> {
  const { rows } = await client.query<{ age_ms: string | null; set_aside: string }>(
    `SELECT (SELECT (extract(epoch FROM now() - o.created_at) * 1000)::bigint
               FROM outbox o WHERE ${CLAIMABLE} ORDER BY o.seq LIMIT 1) AS age_ms,
            (SELECT count(*) FROM outbox WHERE set_aside_at IS NOT NULL) AS set_aside`,
  );
  return {
    oldestPendingAgeMs: Math.max(0, Number(rows[0]?.age_ms ?? 0)),
    setAsideRows: Number(rows[0]?.set_aside ?? 0),
  };
}

/**
 * Deletes up to `limit` rows published (or discarded by an operator) more than `olderThanHours`
 * ago; returns how many.
 */
export async function deletePublishedBefore(
  client: ClientBase,
  olderThanHours: number,
  limit: number,
): Promise<number> {
  const published = await client.query(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox
        WHERE published_at IS NOT NULL AND published_at < now() - make_interval(hours => $1)
        LIMIT $2)`,
    [olderThanHours, limit],
  );
  const n = published.rowCount ?? 0;
  if (n >= limit) return n;
  // Rare rows: topped up into the same batch so the caller's "fewer than limit" still ends it.
  const discarded = await client.query(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox
        WHERE discarded_at IS NOT NULL AND discarded_at < now() - make_interval(hours => $1)
        LIMIT $2)`,
    [olderThanHours, limit - n],
  );
  return n + (discarded.rowCount ?? 0);
}
