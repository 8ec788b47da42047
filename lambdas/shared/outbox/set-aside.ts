// The operator's queries on set-aside outbox rows (`npm run outbox`). A set-aside row is one the
// broker refused for good; while it is set aside, the pending rows of its aggregate are held
// (the relay's claim skips them). Releasing or discarding the row lets them flow again.
import type { ClientBase, Pool } from 'pg';
import { inTransaction, type TransactionOutcome } from '../db/transaction';
import { wakeRelay } from './outbox';

export interface SetAsideSummary {
  readonly id: string;
  readonly seq: string;
  readonly aggregateId: string;
  readonly eventType: string;
  readonly createdAt: Date;
  readonly setAsideAt: Date;
  readonly reason: string;
  readonly payload: Record<string, unknown>;
  readonly headers: Record<string, string>;
  /** Pending rows of the same aggregate waiting behind this one. */
  readonly held: number;
}

export interface HeldRow {
  readonly id: string;
  readonly seq: string;
  readonly eventType: string;
  readonly createdAt: Date;
}

export interface OutboxRowDetail extends Omit<SetAsideSummary, 'setAsideAt' | 'reason'> {
  readonly setAsideAt: Date | null;
  readonly setAsideReason: string | null;
  readonly publishedAt: Date | null;
  readonly discardedAt: Date | null;
  readonly discardReason: string | null;
  readonly heldRows: readonly HeldRow[];
}

interface Row {
  id: string;
  seq: string;
  aggregate_id: string;
  event_type: string;
  created_at: Date;
  set_aside_at: Date | null;
  set_aside_reason: string | null;
  published_at: Date | null;
  discarded_at: Date | null;
  discard_reason: string | null;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  held: string;
}

/** Pending rows of the aggregate other than `s` itself: what waits behind it. */
const HELD_COUNT = `(SELECT count(*) FROM outbox h
      WHERE h.aggregate_id = s.aggregate_id AND h.id <> s.id AND h.published_at IS NULL
        AND h.discarded_at IS NULL AND h.set_aside_at IS NULL) AS held`;

const COLUMNS = `s.id, s.seq, s.aggregate_id, s.event_type, s.created_at, s.set_aside_at,
       s.set_aside_reason, s.published_at, s.discarded_at, s.discard_reason, s.payload, s.headers`;

/** Rows set aside now, oldest first. */
export async function listSetAside(
  db: Pick<Pool, 'query'>,
  limit: number,
): Promise<SetAsideSummary[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS}, ${HELD_COUNT}
       FROM outbox s WHERE s.set_aside_at IS NOT NULL
      ORDER BY s.seq LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    createdAt: r.created_at,
    setAsideAt: r.set_aside_at as Date,
    reason: r.set_aside_reason ?? '',
    payload: r.payload,
    headers: r.headers,
    held: Number(r.held),
  }));
}

/** One outbox row with what waits behind it; undefined when there is no such row. */
export async function getOutboxRow(
  db: Pick<Pool, 'query'>,
  id: string,
): Promise<OutboxRowDetail | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS}, ${HELD_COUNT} FROM outbox s WHERE s.id = $1`,
    [id],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  const held =
    r.set_aside_at === null
      ? []
      : (
          await db.query<{ id: string; seq: string; event_type: string; created_at: Date }>(
            `SELECT id, seq, event_type, created_at FROM outbox
              WHERE aggregate_id = $1 AND id <> $2 AND published_at IS NULL
                AND discarded_at IS NULL AND set_aside_at IS NULL
              ORDER BY seq`,
            [r.aggregate_id, r.id],
          )
        ).rows.map((h) => ({
          id: h.id,
          seq: h.seq,
          eventType: h.event_type,
          createdAt: h.created_at,
        }));
  return {
    id: r.id,
    seq: r.seq,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    createdAt: r.created_at,
    setAsideAt: r.set_aside_at,
    setAsideReason: r.set_aside_reason,
    publishedAt: r.published_at,
    discardedAt: r.discarded_at,
    discardReason: r.discard_reason,
    payload: r.payload,
    headers: r.headers,
    held: Number(r.held),
    heldRows: held,
  };
}

export type ResolveResult =
  | { readonly ok: true; readonly aggregateId: string; readonly released: number }
  | { readonly ok: false; readonly problem: 'not-found' | 'not-set-aside' };

async function resolve(
  pool: Pick<Pool, 'connect'>,
  id: string,
  update: (client: ClientBase) => Promise<{ aggregate_id: string } | undefined>,
): Promise<ResolveResult> {
  return inTransaction(
    pool,
    async (client): Promise<TransactionOutcome<ResolveResult>> => {
      // Locks the row, so a relay batch in flight cannot mark it at the same time.
      const { rows } = await client.query<{ set_aside: boolean }>(
        'SELECT set_aside_at IS NOT NULL AS set_aside FROM outbox WHERE id = $1 FOR UPDATE',
        [id],
      );
      const found = rows[0];
      if (found === undefined || !found.set_aside) {
        const problem = found === undefined ? 'not-found' : 'not-set-aside';
        return { commit: false, result: { ok: false, problem } };
      }
      const updated = await update(client);
      if (updated === undefined) throw new Error(`outbox row ${id} changed while being resolved`);
      const { rows: pending } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM outbox
          WHERE aggregate_id = $1 AND id <> $2 AND published_at IS NULL
            AND discarded_at IS NULL AND set_aside_at IS NULL`,
        [updated.aggregate_id, id],
      );
      const released = Number(pending[0]?.n ?? 0);
      return { commit: true, result: { ok: true, aggregateId: updated.aggregate_id, released } };
    },
    // The relay retries at once instead of at its next poll.
    { afterCommit: wakeRelay },
  );
}

/** Clears the mark: the relay tries the row again, and the rows held behind it follow. */
export function releaseSetAside(pool: Pick<Pool, 'connect'>, id: string): Promise<ResolveResult> {
  return resolve(pool, id, async (client) => {
    const { rows } = await client.query<{ aggregate_id: string }>(
      `UPDATE outbox SET set_aside_at = NULL, set_aside_reason = NULL
        WHERE id = $1 AND set_aside_at IS NOT NULL RETURNING aggregate_id`,
      [id],
    );
    return rows[0];
  });
}

/**
 * Marks the row as never to be published (kept, with both reasons, until retention) and lets
 * the rows held behind it flow.
 */
export function discardSetAside(
  pool: Pick<Pool, 'connect'>,
  id: string,
  reason: string,
): Promise<ResolveResult> {
  return resolve(pool, id, async (client) => {
    const { rows } = await client.query<{ aggregate_id: string }>(
      `UPDATE outbox SET set_aside_at = NULL, discarded_at = now(), discard_reason = $2
        WHERE id = $1 AND set_aside_at IS NOT NULL RETURNING aggregate_id`,
      [id, reason],
    );
    return rows[0];
  });
}
