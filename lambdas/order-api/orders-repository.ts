// All SQL the order API runs on the `orders` table, plus the transaction wrapper its commands use.
import type { ClientBase, Pool } from 'pg';

/** What the commands need from a pool: a client for a transaction, or a one-off query. */
export type Database = Pick<Pool, 'connect' | 'query'>;

export interface NewOrder {
  readonly id: string;
  readonly customerId: string;
  readonly totalMinor: number;
  readonly currency: string;
}

/** Inserts a CREATED order; false when an order with that id already exists. */
export async function insertOrder(client: ClientBase, order: NewOrder): Promise<boolean> {
  // ON CONFLICT waits for a concurrent insert of the same id to finish, then reports it.
  const result = await client.query(
    `INSERT INTO orders (id, customer_id, status, total_amount_minor, currency)
     VALUES ($1, $2, 'CREATED', $3, $4)
     ON CONFLICT (id) DO NOTHING`,
    [order.id, order.customerId, order.totalMinor, order.currency],
  );
  return result.rowCount === 1;
}

/**
 * Locks the order row for the rest of the transaction; false when the order does not exist.
 * The lock serializes writers of one order, so their outbox rows take `seq` values in commit
 * order. The row itself is the consumer's to change: status, `version` (applied transitions)
 * and `updated_at` move only when the state machine applies an event.
 */
export async function lockOrder(client: ClientBase, orderId: string): Promise<boolean> {
  const locked = await client.query('SELECT id FROM orders WHERE id = $1 FOR UPDATE', [orderId]);
  return locked.rowCount === 1;
}

export async function ping(db: Database): Promise<void> {
  await db.query('SELECT 1');
}

export interface TransactionOutcome<T> {
  /** False rolls back (nothing to keep, e.g. the order was missing). */
  readonly commit: boolean;
  readonly result: T;
}

/**
 * Runs `work` in one transaction on one pooled client; any throw rolls everything back.
 * `afterCommit` runs on the same client once the commit succeeded; it cannot undo the
 * transaction, so its failure is swallowed (the client is discarded, not reused).
 */
export async function inTransaction<T>(
  db: Database,
  work: (client: ClientBase) => Promise<TransactionOutcome<T>>,
  options: { readonly afterCommit?: (client: ClientBase) => Promise<void> } = {},
): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const outcome = await work(client);
    await client.query(outcome.commit ? 'COMMIT' : 'ROLLBACK');
    if (outcome.commit && options.afterCommit) {
      try {
        await options.afterCommit(client);
      } catch (error) {
        broken = error instanceof Error ? error : new Error(String(error));
      }
    }
    return outcome.result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      // A connection that cannot roll back must not go back to the pool.
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
