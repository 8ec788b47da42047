// The functions' database roles (migration 0010) on the real PostgreSQL: connected as its own
// role, each function's real statements succeed and everything outside its grants fails with
// insufficient_privilege (42501).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parkableDeadLetter, parkDeadLetter } from '../../lambdas/dlq-triage/park';
import { orderCommands } from '../../lambdas/order-api/commands';
import { applyBatch } from '../../lambdas/order-consumer/apply-batch';
import { deleteProcessedEventsBefore } from '../../lambdas/outbox-relay/processed-events';
import { pgClientConfig } from '../../lambdas/shared/db/pool';
import { inTransaction } from '../../lambdas/shared/db/transaction';
import {
  claimNext,
  deletePublishedBefore,
  markPublished,
  markSetAside,
  outboxGauges,
  tryRelayLock,
} from '../../lambdas/shared/outbox/outbox';
import {
  DATABASE_OPERATOR_ROLE,
  DATABASE_ROLES,
  type DatabaseRoleOf,
} from '../../lib/config/stage-config';
import { lifecycle } from '../../tools/fixtures/order-events';
import { createTestDatabase, quietLogger, type TestDatabase } from './support';

let db: TestDatabase;
const pools = new Map<string, pg.Pool>();

/** A pool that logs in as `role` (trust auth locally; IAM tokens through RDS Proxy on AWS). */
function as(role: string): pg.Pool {
  let pool = pools.get(role);
  if (!pool) {
    pool = new pg.Pool({ ...pgClientConfig({ ...db.env, user: role }), max: 2 });
    pool.on('error', () => undefined);
    pools.set(role, pool);
  }
  return pool;
}

/** One committed transaction, through the code's own helper. */
const inTx = <T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> =>
  inTransaction(pool, async (client) => ({ commit: true, result: await work(client) }));

const ids = () => ({ eventId: randomUUID(), correlationId: randomUUID() });
const ORDER = {
  customerId: 'c-roles',
  items: [{ sku: 'sku-1', quantity: 1, unitPriceMinor: 700 }],
  totalMinor: 700,
  currency: 'EUR',
};

beforeAll(async () => {
  db = await createTestDatabase('roles_it');
});

afterAll(async () => {
  for (const pool of pools.values()) await pool.end().catch(() => undefined);
  await db?.drop();
});

describe('one database role per function', () => {
  it('the config names the roles the migration creates, each able to log in', async () => {
    const { rows } = await db.pool.query<{ rolname: string; rolcanlogin: boolean }>(
      'SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
      [[...Object.values(DATABASE_ROLES), DATABASE_OPERATOR_ROLE]],
    );
    expect(rows.map((r) => r.rolname)).toEqual(
      [...Object.values(DATABASE_ROLES), DATABASE_OPERATOR_ROLE].sort(),
    );
    expect(rows.every((r) => r.rolcanlogin)).toBe(true);
    // None is a superuser or owns anything: whatever they do goes through the grants.
    const { rows: owned } = await db.pool.query(
      `SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
        WHERE r.rolname = ANY($1) OR r.rolsuper AND r.rolname = ANY($1)`,
      [Object.values(DATABASE_ROLES)],
    );
    expect(owned).toEqual([]);
  });

  it('order API: places an order, records a fact, reads it back', async () => {
    const commands = orderCommands(as(DATABASE_ROLES.orderApi), { logger: quietLogger });
    const placed = await commands.placeOrder(ORDER, ids());
    expect(placed.kind).toBe('accepted');
    const orderId = placed.kind === 'accepted' ? placed.orderId : '';
    const paid = await commands.recordOrderEvent(
      orderId,
      {
        eventType: 'PaymentCaptured',
        data: { paymentId: 'p-1', amountMinor: 700, currency: 'EUR' },
      },
      ids(),
    );
    expect(paid.kind).toBe('accepted');
    expect(await commands.getOrder(orderId)).toMatchObject({
      kind: 'found',
      order: { status: 'CREATED', version: 1 },
    });
    expect(await commands.checkHealth()).toEqual({ healthy: true });
  });

  it('relay: takes the lock, claims, marks published or set aside, reads gauges, purges', async () => {
    const relay = as(DATABASE_ROLES.outboxRelay);
    await inTx(relay, async (c) => {
      expect(await tryRelayLock(c)).toBe(true);
      const claimed = await claimNext(c, 10, []);
      expect(claimed.length).toBeGreaterThan(0);
      const [first, ...rest] = claimed;
      if (first) await markSetAside(c, [{ id: first.id, reason: 'role test' }]);
      await markPublished(
        c,
        rest.map((r) => r.id),
      );
    });
    await inTx(relay, async (c) => {
      expect(await outboxGauges(c)).toMatchObject({ setAsideRows: 1 });
      await deletePublishedBefore(c, 1, 100);
      await deleteProcessedEventsBefore(c, 1, 100);
    });
  });

  it('consumer: applies a lifecycle (inserts, locks, updates the state) and records it', async () => {
    const client = await as(DATABASE_ROLES.orderConsumer).connect();
    try {
      const orderId = `roles-${randomUUID()}`;
      const outcomes = await applyBatch(client, lifecycle(orderId), { maxAttempts: 1 });
      expect(outcomes.map((o) => o.status)).toEqual(['applied', 'applied', 'applied']);
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM processed_events');
    expect(rows[0]?.n).toBeGreaterThanOrEqual(3);
  });

  it('triage: parks a dead letter', async () => {
    const record = {
      topic: 'order-events-dlq',
      partition: 0,
      offset: '7',
      timestamp: Date.now(),
      key: Buffer.from('o-1'),
      value: Buffer.from('not json'),
      headers: [],
    };
    const now = Date.now();
    const parked = await parkDeadLetter(
      as(DATABASE_ROLES.dlqTriage),
      parkableDeadLetter(record, now),
      'role test',
      record,
      now,
    );
    expect(parked.inserted).toBe(true);
  });

  const forbidden: Record<DatabaseRoleOf | 'operator', readonly string[]> = {
    orderApi: [
      "UPDATE orders SET status = 'SHIPPED'",
      'DELETE FROM orders',
      'SELECT * FROM outbox',
      'UPDATE outbox SET published_at = now()',
      'SELECT * FROM processed_events',
      'SELECT * FROM dead_letters',
      'TRUNCATE orders',
      'DROP TABLE orders',
      'CREATE TABLE intruder (id int)',
    ],
    outboxRelay: [
      "UPDATE outbox SET payload = '{}'::jsonb",
      'INSERT INTO outbox (id, aggregate_id, event_type, payload) ' +
        "VALUES (gen_random_uuid(), 'x', 'OrderPlaced', '{}')",
      'SELECT * FROM orders',
      "INSERT INTO processed_events (idempotency_key, event_id) VALUES ('k', 'e')",
      'SELECT * FROM dead_letters',
      'DROP TABLE outbox',
    ],
    orderConsumer: [
      'DELETE FROM orders',
      'UPDATE orders SET total_amount_minor = 0',
      'DELETE FROM processed_events',
      'SELECT * FROM outbox',
      'SELECT * FROM dead_letters',
      'TRUNCATE processed_events',
    ],
    dlqTriage: [
      'SELECT * FROM dead_letters',
      'SELECT payload FROM dead_letters',
      "UPDATE dead_letters SET park_reason = 'x'",
      'DELETE FROM dead_letters',
      'SELECT * FROM orders',
      'SELECT * FROM outbox',
      'SELECT * FROM processed_events',
    ],
    // The operator commands' own statements run as this role in their integration tests.
    operator: [
      'SELECT * FROM orders',
      'SELECT * FROM processed_events',
      'DELETE FROM dead_letters',
      "UPDATE dead_letters SET payload = '{}'::jsonb",
      'DELETE FROM outbox',
      "UPDATE outbox SET payload = '{}'::jsonb",
      'UPDATE outbox SET published_at = now()',
    ],
  };
  const roleOf = (fn: DatabaseRoleOf | 'operator') =>
    fn === 'operator' ? DATABASE_OPERATOR_ROLE : DATABASE_ROLES[fn];

  for (const [fn, statements] of Object.entries(forbidden) as [
    DatabaseRoleOf | 'operator',
    string[],
  ][]) {
    it.each(statements)(`${fn} may not: %s`, async (sql) => {
      await expect(as(roleOf(fn)).query(sql)).rejects.toMatchObject({ code: '42501' });
    });
  }
});
