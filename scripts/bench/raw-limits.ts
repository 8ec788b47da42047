// The raw limits the project figures are compared with, measured in the same run on scratch
// copies of the real tables: what PostgreSQL and Redis do with the statement shapes the relay
// and the consumer use, without any of the pipeline's code around them.
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type pg from 'pg';
import type { RedisEnv } from '../../lambdas/shared/env';
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
 * SET key value NX EX on one connection with `inFlight` commands outstanding: @redis/client
 * writes commands issued together in one go (pipelining). Keys are run-unique and expire.
 */
async function pipelinedSetNx(redis: RedisEnv, ops: number, inFlight: number): Promise<number> {
  const client = createClient({ socket: { host: redis.host, port: redis.port } });
  await client.connect();
  const prefix = `bench-raw:${randomUUID()}:`;
  try {
    const started = performance.now();
    for (let first = 0; first < ops; first += inFlight) {
      const n = Math.min(inFlight, ops - first);
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.set(`${prefix}${first + i}`, 'INPROGRESS', {
            condition: 'NX',
            expiration: { type: 'EX', value: 60 },
          }),
        ),
      );
    }
    return perSecond(ops, performance.now() - started);
  } finally {
    await client.quit();
  }
}

export async function measureRawLimits(
  pool: pg.Pool,
  redis: RedisEnv,
  sizes: RawLimitSizes,
): Promise<RawLimits> {
  return {
    claimMarkRowsPerSec: await claimAndMark(pool, sizes.claimRows, sizes.claimBatch),
    batchedUpdateRowsPerSec: await batchedUpdate(pool, sizes.updateRows, sizes.updateBatch),
    pipelinedSetNxOpsPerSec: await pipelinedSetNx(redis, sizes.setNxOps, sizes.setNxInFlight),
    singleTxPerSec: await singleTransactions(pool, sizes.singleTx),
  };
}
