// SQL for the dlq CLI. Every value is a bind parameter; only fixed fragments are concatenated.
import type { Filters, Selection } from './args';

export interface SqlQuery {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** What list and the action previews show; `has_message` says whether a redrive is faithful. */
const SUMMARY_COLUMNS = `id::text AS id, parked_at, status, error_type, event_type, aggregate_id,
  correlation_id, event_id, attempts, redrive_count, error_message, source_topic,
  source_partition, source_offset::text AS source_offset, (message IS NOT NULL) AS has_message`;

export interface SummaryRow {
  readonly id: string;
  readonly parked_at: Date;
  readonly status: string;
  readonly error_type: string;
  readonly event_type: string | null;
  readonly aggregate_id: string | null;
  readonly correlation_id: string | null;
  readonly event_id: string | null;
  readonly attempts: number;
  readonly redrive_count: number;
  readonly error_message: string;
  readonly source_topic: string;
  readonly source_partition: number;
  readonly source_offset: string;
  readonly has_message: boolean;
}

export interface FullRow extends SummaryRow {
  readonly first_failed_at: Date;
  readonly last_failed_at: Date;
  readonly resolved_at: Date | null;
  readonly payload: unknown;
  readonly message: unknown;
  /** Why triage (or recover) parked it; null for rows parked before migration 0008. */
  readonly park_reason?: string | null;
  /** The record's exact bytes, kept when the row is not the record as received. */
  readonly raw_record?: Buffer | null;
}

/** WHERE clause and its parameters for filters; placeholders start at $1. */
export function filterClause(filters: Filters): SqlQuery {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (sql: (placeholder: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(sql(`$${values.length}`));
  };
  add((p) => `status = ${p}`, filters.status);
  if (filters.type !== undefined) add((p) => `error_type = ${p}`, filters.type);
  // Ages are measured against the database clock, the one that wrote parked_at.
  if (filters.olderThanMs !== undefined) {
    add(
      (p) => `parked_at <= now() - make_interval(secs => ${p}::double precision)`,
      filters.olderThanMs / 1000,
    );
  }
  if (filters.newerThanMs !== undefined) {
    add(
      (p) => `parked_at >= now() - make_interval(secs => ${p}::double precision)`,
      filters.newerThanMs / 1000,
    );
  }
  if (filters.aggregate !== undefined) add((p) => `aggregate_id = ${p}`, filters.aggregate);
  return { text: conditions.join(' AND '), values };
}

/** Oldest first, so a capped bulk action works through the backlog in parking order. */
export function listQuery(filters: Filters): SqlQuery {
  const where = filterClause(filters);
  const values = [...where.values];
  let text = `SELECT ${SUMMARY_COLUMNS} FROM dead_letters WHERE ${where.text} ORDER BY parked_at, id`;
  if (filters.limit !== undefined) {
    values.push(filters.limit);
    text += ` LIMIT $${values.length}`;
  }
  return { text, values };
}

export function byIdsQuery(ids: readonly string[]): SqlQuery {
  return {
    text: `SELECT ${SUMMARY_COLUMNS} FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id`,
    values: [ids],
  };
}

/** The rows a redrive or discard considers (ids: any status, so skips can be explained). */
export function selectionQuery(selection: Selection): SqlQuery {
  return selection.kind === 'ids' ? byIdsQuery(selection.ids) : listQuery(selection.filters);
}

export function showQuery(id: string): SqlQuery {
  return {
    text: `SELECT ${SUMMARY_COLUMNS}, first_failed_at, last_failed_at, resolved_at, payload, message,
      park_reason, raw_record FROM dead_letters WHERE id = $1`,
    values: [id],
  };
}

/**
 * Locks one still-PARKED row for the length of its redrive transaction. SKIP LOCKED: a row
 * another operator is redriving right now is skipped instead of produced twice.
 */
export function claimForRedriveQuery(id: string): SqlQuery {
  return {
    text: `SELECT message FROM dead_letters WHERE id = $1 AND status = 'PARKED'
      FOR UPDATE SKIP LOCKED`,
    values: [id],
  };
}

export function markReplayedQuery(id: string): SqlQuery {
  return {
    text: `UPDATE dead_letters SET status = 'REPLAYED', resolved_at = now()
      WHERE id = $1 AND status = 'PARKED'`,
    values: [id],
  };
}

/** Only PARKED rows change; RETURNING tells which ones did. */
export function markDiscardedQuery(ids: readonly string[]): SqlQuery {
  return {
    text: `UPDATE dead_letters SET status = 'DISCARDED', resolved_at = now()
      WHERE id = ANY($1::bigint[]) AND status = 'PARKED' RETURNING id::text AS id`,
    values: [ids],
  };
}

/**
 * The row a dead letter parks into, if it is there: the key of `dead_letters_record_key`
 * (migration 0003), the same one triage's `ON CONFLICT` uses.
 */
export function parkedRecordQuery(key: {
  readonly source_topic: string;
  readonly source_partition: number;
  readonly source_offset: string;
  readonly record_digest: string;
}): SqlQuery {
  return {
    text: `SELECT id::text AS id, status FROM dead_letters
      WHERE source_topic = $1 AND source_partition = $2 AND source_offset = $3::bigint
        AND record_digest = $4`,
    values: [key.source_topic, key.source_partition, key.source_offset, key.record_digest],
  };
}
