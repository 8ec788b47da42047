// Migrations against real PostgreSQL: every file goes down and up again, and 0003's backfill
// computes the same record digest as the code that parks dead letters after it.
import { Buffer } from 'node:buffer';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrationsWithNewClient } from '../../lambdas/migrate/run-migrations';
import { pgClientConfig } from '../../lambdas/shared/db/pool';
import { buildDeadLetter, recordDigest } from '../../lambdas/shared/dead-letter/message';
import { repoMigrationsDir } from '../../lambdas/shared/env';
import { SchemaViolationError } from '../../lambdas/shared/errors/taxonomy';
import { createTestDatabase, quietLogger, type TestDatabase } from './support';

let db: TestDatabase;

const migrate = (direction: 'up' | 'down', count?: number) =>
  runMigrationsWithNewClient(pgClientConfig(db.env), {
    dir: repoMigrationsDir(),
    direction,
    ...(count !== undefined ? { count } : {}),
    logger: quietLogger,
  });

beforeAll(async () => {
  db = await createTestDatabase('migrations_it');
});

afterAll(async () => {
  await db?.drop();
});

/** A row as 0001/0002 stored it: no record_digest column yet. */
async function insertLegacyRow(offset: number, value: string, withMessage: boolean) {
  const message = buildDeadLetter({
    value: Buffer.from(value),
    key: 'order-1',
    source: { topic: 'order-events', partition: 0, offset },
    error: new SchemaViolationError('schema says no'),
    attempts: 1,
    firstFailureAt: new Date('2026-11-01T00:00:00Z'),
  });
  await db.pool.query(
    `INSERT INTO dead_letters (error_type, error_message, payload, source_topic,
       source_partition, source_offset, attempts, first_failed_at, last_failed_at, message)
     VALUES ('SCHEMA_VIOLATION', 'schema says no', '{}'::jsonb, 'order-events', 0, $1,
       1, now(), now(), $2::jsonb)`,
    [offset, withMessage ? JSON.stringify(message) : null],
  );
  return message;
}

const digests = async () =>
  (
    await db.pool.query<{ o: string; d: string }>(
      'SELECT source_offset::text AS o, record_digest AS d FROM dead_letters ORDER BY id',
    )
  ).rows;

describe('migrations (real PostgreSQL)', () => {
  it('0003 backfills the digest parking computes, and keys rows on position and record', async () => {
    // Back to just before 0003, whatever came after it.
    const later = readdirSync(repoMigrationsDir()).filter((f) => f >= '0003').length;
    const undone = (await migrate('down', later)).migrations;
    expect(undone.at(-1)).toBe('0003_dead-letter-record-digest');
    const withMessage = await insertLegacyRow(1, '{"a":1}', true);
    await insertLegacyRow(2, '{"a":2}', false);
    // The old key: one row per source position, whatever the record.
    await expect(insertLegacyRow(1, '{"other":true}', true)).rejects.toMatchObject({
      code: '23505',
    });

    expect((await migrate('up', 1)).migrations).toEqual(['0003_dead-letter-record-digest']);
    const [first, legacy] = await digests();
    expect(first).toEqual({ o: '1', d: recordDigest(withMessage) });
    expect(legacy?.d).toMatch(/^[0-9a-f]{64}$/);

    // The new key: another record at a reused position is a new row; the same record is not.
    const insert = (digest: string) =>
      db.pool.query(
        `INSERT INTO dead_letters (error_type, error_message, payload, source_topic,
           source_partition, source_offset, attempts, first_failed_at, last_failed_at,
           record_digest)
         VALUES ('SCHEMA_VIOLATION', 'x', '{}'::jsonb, 'order-events', 0, 1, 1, now(), now(), $1)`,
        [digest],
      );
    await insert('f'.repeat(64));
    await expect(insert(recordDigest(withMessage))).rejects.toMatchObject({ code: '23505' });
    await expect(insert('not-a-digest')).rejects.toMatchObject({ code: '23514' });
    await migrate('up');
  });

  it('every migration goes down and comes back up', async () => {
    await db.pool.query('TRUNCATE dead_letters');
    const down = await migrate('down', Number.MAX_SAFE_INTEGER);
    expect(down.migrations).toHaveLength(readdirSync(repoMigrationsDir()).length);
    const up = await migrate('up');
    expect(up.migrations).toEqual([...down.migrations].reverse());
    const { rows } = await db.pool.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint
        WHERE conname IN ('dead_letters_record_key', 'processed_events_payload_hash_check')
        ORDER BY conname`,
    );
    expect(rows.map((r) => r.conname)).toEqual([
      'dead_letters_record_key',
      'processed_events_payload_hash_check',
    ]);
  });
});
