// A checked-out client whose server connection dies must not crash the process: the pool does
// not listen for errors on clients it has handed out (drill finding 5).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, pgClientConfig } from '../../lambdas/shared/db/pool';
import { parsePgEnv } from '../../lambdas/shared/env';
import { sleep } from './support';

let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client(pgClientConfig(parsePgEnv(process.env)));
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
});

describe('createPool', () => {
  it('survives the server ending a checked-out connection; the next query fails cleanly', async () => {
    const pool = createPool(parsePgEnv(process.env), { applicationName: 'pool-crash-test' });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // The client is held, idle, as the relay holds its transaction while the broker acks.
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await sleep(300);
      expect(uncaught).toEqual([]);
      const failed = await client.query('SELECT 1').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(Error);
      client.release(failed as Error);
      // The pool replaces the broken client.
      await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
    }
  });
});
