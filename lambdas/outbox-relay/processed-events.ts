// Retention of the consumer's idempotency table. The relay runs it on its retention timer:
// it already holds a database pool and runs alone (reserved concurrency 1), and the consumer's
// hot path stays free of deletes.
import type { ClientBase } from 'pg';

/**
 * Deletes up to `limit` processed_events rows recorded more than `olderThanHours` ago, oldest
 * first, through processed_events_processed_at_idx; returns how many.
 */
export async function deleteProcessedEventsBefore(
  client: ClientBase,
  olderThanHours: number,
  limit: number,
): Promise<number> {
  const result = await client.query(
    `DELETE FROM processed_events WHERE idempotency_key IN (
       SELECT idempotency_key FROM processed_events
        WHERE processed_at < now() - make_interval(hours => $1)
        ORDER BY processed_at
        LIMIT $2)`,
    [olderThanHours, limit],
  );
  return result.rowCount ?? 0;
}
