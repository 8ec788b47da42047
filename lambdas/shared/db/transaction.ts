// The one way this code checks out a pooled client and runs a transaction. A client whose work
// failed is discarded rather than returned to the pool: after a lost connection or a failed
// ROLLBACK it may be unusable, and pg-pool only drops a client that is released with an error.
import type { ClientBase, Pool, PoolClient } from 'pg';

export type Connectable = Pick<Pool, 'connect'>;

/** Runs `work` on a checked-out client and releases it (discarded when `work` threw). */
export async function withClient<T>(
  db: Connectable,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await db.connect();
  let failed: Error | undefined;
  try {
    return await work(client);
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failed);
  }
}

/** What a transaction's work returns: whether to commit, and its result either way. */
export interface TransactionOutcome<T> {
  /** False rolls back (nothing to keep, e.g. the order was missing). */
  readonly commit: boolean;
  readonly result: T;
  /** Runs once the COMMIT succeeded (metrics and logs that must not claim an uncommitted write). */
  readonly after?: () => void;
}

/**
 * BEGIN, `work`, then COMMIT or ROLLBACK as it says, on a client the caller holds; any throw
 * rolls back and is rethrown (a failed ROLLBACK is left to the caller's release).
 */
export async function transaction<T>(
  client: ClientBase,
  work: () => Promise<TransactionOutcome<T>>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    const outcome = await work();
    await client.query(outcome.commit ? 'COMMIT' : 'ROLLBACK');
    if (outcome.commit) outcome.after?.();
    return outcome.result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * One transaction on its own pooled client. `afterCommit` runs on the same client once the
 * commit succeeded; it cannot undo the transaction, so its failure is swallowed (the client is
 * discarded, not reused).
 */
export async function inTransaction<T>(
  db: Connectable,
  work: (client: PoolClient) => Promise<TransactionOutcome<T>>,
  options: { readonly afterCommit?: (client: PoolClient) => Promise<void> } = {},
): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    const committed = { value: false };
    const result = await transaction(client, async () => {
      const outcome = await work(client);
      committed.value = outcome.commit;
      return outcome;
    });
    if (committed.value && options.afterCommit) {
      try {
        await options.afterCommit(client);
      } catch (error) {
        broken = error instanceof Error ? error : new Error(String(error));
      }
    }
    return result;
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
