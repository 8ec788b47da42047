// The raw limits the project figures are compared with, measured in the same run on scratch
// copies of the real tables: what PostgreSQL and Redis do with the statement shapes the relay
// and the consumer use, without any of the pipeline's code around them.
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import pg from 'pg';
import type { RedisEnv } from '../../../lambdas/shared/env';
import { WAKE_RELAY_SQL } from '../../../lambdas/shared/outbox/outbox';
import type { RawLimits } from './report';
import { perSecond } from './stats';

export interface RawLimitSizes {
  readonly claimRows: number;
  readonly claimBatch: number;
  readonly updateRows: number;
  readonly updateBatch: number;
  readonly setNxOps: number;
  readonly setNxInFlight: number;
  readonly singleTx: number;
  readonly outboxWrites: number;
  readonly outboxWriteConnections: number;
}

/**
 * The relay's claim (SELECT … ORDER BY seq LIMIT n FOR UPDATE SKIP LOCKED) and mark
 * (UPDATE … published_at) folded into one statement per transaction, on a copy of the outbox
 * filled with the rows the relay will publish.
 */
async function claimAndMark(pool: pg.Pool, rows: number, batch: number): Promise<number> {
  await pool.query('CREATE TABLE raw_outbox (LIKE outbox INCLUDING ALL)');
  await pool.query(
    `INSERT INTO raw_outbox (id, aggregate_id, event_type, payload, headers)
     SELECT gen_random_uuid(), aggregate_id, event_type, payload, headers
       FROM outbox ORDER BY seq LIMIT $1`,
    [rows],
  );
  await pool.query('VACUUM ANALYZE raw_outbox');
  const client = await pool.connect();
  try {
    let claimed = 0;
    const started = performance.now();
    for (;;) {
      const result = await client.query(
        `UPDATE raw_outbox SET published_at = now()
          WHERE id IN (SELECT id FROM raw_outbox WHERE published_at IS NULL
                        ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING id, seq, aggregate_id, event_type, payload, headers, created_at`,
        [batch],
      );
      claimed += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < batch) break;
    }
    return perSecond(claimed, performance.now() - started);
  } finally {
    client.release();
    await pool.query('DROP TABLE raw_outbox');
  }
}

/** apply-batch.ts's UPDATE_STATES shape: one unnest UPDATE of `batch` orders per transaction. */
async function batchedUpdate(pool: pg.Pool, rows: number, batch: number): Promise<number> {
  await pool.query('CREATE TABLE raw_orders (LIKE orders INCLUDING ALL)');
  await pool.query(
    `INSERT INTO raw_orders (id, customer_id, status, total_amount_minor, currency)
     SELECT 'raw-' || g, 'cust-1', 'CREATED', 2500, 'EUR' FROM generate_series(1, $1) AS g`,
    [rows],
  );
  await pool.query('VACUUM ANALYZE raw_orders');
  const client = await pool.connect();
  try {
    const started = performance.now();
    for (let first = 1; first <= rows; first += batch) {
      const ids = Array.from({ length: Math.min(batch, rows - first + 1) }, (_, i) => {
        return `raw-${first + i}`;
      });
      await client.query(
        `UPDATE raw_orders AS o
            SET status = u.status, version = o.version + u.transitions, updated_at = now()
           FROM unnest($1::text[], $2::text[], $3::int[]) AS u(id, status, transitions)
          WHERE o.id = u.id`,
        [ids, ids.map(() => 'PAYMENT_CAPTURED'), ids.map(() => 1)],
      );
    }
    return perSecond(rows, performance.now() - started);
  } finally {
    client.release();
    await pool.query('DROP TABLE raw_orders');
  }
}

/** One INSERT per transaction on one connection: the commit (WAL flush) rate. */
async function singleTransactions(pool: pg.Pool, count: number): Promise<number> {
  await pool.query('CREATE TABLE raw_tx (id integer PRIMARY KEY, v text NOT NULL)');
  const client = await pool.connect();
  try {
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      await client.query('INSERT INTO raw_tx (id, v) VALUES ($1, $2)', [i, 'x']);
    }
    return perSecond(count, performance.now() - started);
  } finally {
    client.release();
    await pool.query('DROP TABLE raw_tx');
  }
}

/**
 * SET key value NX EX with @redis/client on one connection, `inFlight` commands per round
 * trip. `pipeline`: one explicit pipeline (multi().execAsPipeline()) per round trip, the
 * limit. `promises`: one promise per command with the client's defaults, as the Powertools
 * cache layer issues them (@redis/client 6 arms a 5 s AbortSignal timeout per command).
 * Keys are run-unique and expire after a minute.
 */
async function setNx(
  redis: RedisEnv,
  ops: number,
  inFlight: number,
  mode: 'pipeline' | 'promises',
): Promise<number> {
  const client = createClient({ socket: { host: redis.host, port: redis.port } });
  await client.connect();
  const prefix = `bench-raw:${randomUUID()}:`;
  const options = { condition: 'NX', expiration: { type: 'EX', value: 60 } } as const;
  try {
    const started = performance.now();
    for (let first = 0; first < ops; first += inFlight) {
      const n = Math.min(inFlight, ops - first);
      if (mode === 'pipeline') {
        const pipeline = client.multi();
        for (let i = 0; i < n; i++) pipeline.set(`${prefix}${first + i}`, 'INPROGRESS', options);
        await pipeline.execAsPipeline();
      } else {
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            client.set(`${prefix}${first + i}`, 'INPROGRESS', options),
          ),
        );
      }
    }
    return perSecond(ops, performance.now() - started);
  } finally {
    await client.quit();
  }
}

/**
 * The order API's write shape (one order row and one outbox row per transaction) from
 * `connections` clients at once, on scratch copies of the tables, with the relay's wake-up sent
 * three ways: after the commit in its own asynchronously committed transaction (what the API
 * does, wakeRelay), inside the transaction (what migration 0001's trigger did), or not at all.
 * PostgreSQL serialises the commits of notifying transactions on one lock held through the WAL
 * flush, so the second is bound by one flush at a time.
 */
type WakeMode = 'after-commit' | 'in-transaction' | 'none';

/**
 * The three wake-up cases, interleaved twice (A B C A B C), each reported as the better of
 * its two runs: run once in a fixed order, the first case paid for whatever ran before it.
 */
async function outboxWriteCases(
  pool: pg.Pool,
  config: pg.PoolConfig,
  count: number,
  connections: number,
): Promise<
  Pick<
    RawLimits,
    'outboxWritesPerSec' | 'outboxWritesNotifyInTxPerSec' | 'outboxWritesNoNotifyPerSec'
  >
> {
  const modes: readonly WakeMode[] = ['after-commit', 'in-transaction', 'none'];
  const best = new Map<WakeMode, number>();
  for (let round = 0; round < 2; round++) {
    for (const mode of modes) {
      const rate = await outboxWrites(pool, config, count, connections, mode);
      best.set(mode, Math.max(best.get(mode) ?? 0, rate));
    }
  }
  return {
    outboxWritesPerSec: best.get('after-commit') ?? 0,
    outboxWritesNotifyInTxPerSec: best.get('in-transaction') ?? 0,
    outboxWritesNoNotifyPerSec: best.get('none') ?? 0,
  };
}

async function outboxWrites(
  pool: pg.Pool,
  config: pg.PoolConfig,
  count: number,
  connections: number,
  wake: WakeMode,
): Promise<number> {
  const suffix = wake.replace('-', '_');
  await pool.query(`CREATE TABLE raw_w_orders_${suffix} (LIKE orders INCLUDING ALL)`);
  await pool.query(`CREATE TABLE raw_w_outbox_${suffix} (LIKE outbox INCLUDING ALL)`);
  const payload = JSON.stringify({ eventType: 'OrderPlaced', data: { n: 1 } });
  // Its own pool: every writer holds its connection for the whole run.
  const writers = new pg.Pool({ ...config, max: connections });
  let next = 0;
  try {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async () => {
        const client = await writers.connect();
        try {
          for (let i = next++; i < count; i = next++) {
            await client.query('BEGIN');
            await client.query(
              `INSERT INTO raw_w_orders_${suffix} (id, customer_id, status, total_amount_minor, currency)
               VALUES ($1, 'cust-1', 'CREATED', 2500, 'EUR')`,
              [`w-${i}`],
            );
            await client.query(
              `INSERT INTO raw_w_outbox_${suffix} (id, aggregate_id, event_type, payload, headers)
               VALUES (gen_random_uuid(), $1, 'OrderPlaced', $2, '{}')`,
              [`w-${i}`, payload],
            );
            // A channel of its own: the project's relays listen on 'outbox'.
            if (wake === 'in-transaction') await client.query("SELECT pg_notify('raw_w', '')");
            await client.query('COMMIT');
            if (wake === 'after-commit') {
              await client.query(WAKE_RELAY_SQL.replace("'outbox'", "'raw_w'"));
            }
          }
        } finally {
          client.release();
        }
      }),
    );
    return perSecond(count, performance.now() - started);
  } finally {
    await writers.end();
    await pool.query(`DROP TABLE raw_w_orders_${suffix}, raw_w_outbox_${suffix}`);
  }
}

export async function measureRawLimits(
  pool: pg.Pool,
  /** Connection settings of the same database, for the concurrent writers' own pool. */
  config: pg.PoolConfig,
  redis: RedisEnv,
  sizes: RawLimitSizes,
): Promise<RawLimits> {
  return {
    claimMarkRowsPerSec: await claimAndMark(pool, sizes.claimRows, sizes.claimBatch),
    batchedUpdateRowsPerSec: await batchedUpdate(pool, sizes.updateRows, sizes.updateBatch),
    pipelinedSetNxOpsPerSec: await setNx(redis, sizes.setNxOps, sizes.setNxInFlight, 'pipeline'),
    setNxOnePromiseEachOpsPerSec: await setNx(
      redis,
      sizes.setNxOps,
      sizes.setNxInFlight,
      'promises',
    ),
    singleTxPerSec: await singleTransactions(pool, sizes.singleTx),
    ...(await outboxWriteCases(pool, config, sizes.outboxWrites, sizes.outboxWriteConnections)),
  };
}
