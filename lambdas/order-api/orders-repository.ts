// All SQL the order API runs on the `orders` table (transactions: lambdas/shared/db/transaction.ts).
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

/** Advisory-lock namespace of the order API's per-order lock (two-key form; the relay's is one key). */
const ORDER_LOCK_NAMESPACE = 1;

/**
 * Serializes the API's writers of one order for the rest of the transaction, so their outbox
 * rows take `seq` values in commit order; false when the order does not exist. An advisory
 * lock, not `FOR UPDATE`: a row lock needs an UPDATE grant, and the API's database role may not
 * change the row. Status, `version` (applied transitions) and `updated_at` are the consumer's.
 */
export async function lockOrder(client: ClientBase, orderId: string): Promise<boolean> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    ORDER_LOCK_NAMESPACE,
    orderId,
  ]);
  const found = await client.query('SELECT 1 FROM orders WHERE id = $1', [orderId]);
  return found.rowCount === 1;
}

/** What a client may read back about an order: where the state machine has it. */
export interface OrderState {
  readonly orderId: string;
  readonly status: string;
  /** Applied transitions (1 when placed). */
  readonly version: number;
  /** When the consumer last applied a transition (or the order was placed). */
  readonly updatedAt: Date;
}

export async function readOrder(db: Database, orderId: string): Promise<OrderState | undefined> {
  const result = await db.query<{ status: string; version: number; updated_at: Date }>(
    'SELECT status, version, updated_at FROM orders WHERE id = $1',
    [orderId],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return { orderId, status: row.status, version: row.version, updatedAt: row.updated_at };
}

export async function ping(db: Database): Promise<void> {
  await db.query('SELECT 1');
}
