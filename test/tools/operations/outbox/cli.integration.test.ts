// `npm run outbox` against real PostgreSQL: set-aside rows listed with reason, aggregate, seq,
// size and held rows; show; release and discard with their refusals; the real CLI's exit codes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toMessage } from '../../../../lambdas/outbox-relay/relay';
import { estimateRecordBytes } from '../../../../lambdas/shared/kafka/record-size';
import {
  CLAIM_NEXT_SQL,
  claimNext,
  deletePublishedBefore,
  markSetAside,
  type OutboxEvent,
  type OutboxRow,
} from '../../../../lambdas/shared/outbox/outbox';
import { DATABASE_OPERATOR_ROLE } from '../../../../lib/config/stage-config';
import { run } from '../../../../tools/operations/outbox/actions';
import { parseCommand } from '../../../../tools/operations/outbox/args';
import {
  appendCommitted,
  createTestDatabase,
  event,
  type TestDatabase,
} from '../../../integration/support';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('outbox_cli_it');
});

afterAll(async () => {
  await db?.drop();
});

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(parseCommand(argv), {
    pool: db.pool,
    output: { out: (l) => out.push(l), err: (l) => err.push(l) },
  });
  return { code, out, err };
}

/** The relay's part: the row claimed and set aside in one transaction. */
async function setAside(e: OutboxEvent, reason: string): Promise<OutboxRow> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const claimed = (await claimNext(client, 10_000, [])).find((r) => r.id === e.eventId);
    if (claimed === undefined) throw new Error(`row ${e.eventId} not claimable`);
    await markSetAside(client, [{ id: e.eventId, reason }]);
    await client.query('COMMIT');
    return claimed;
  } finally {
    client.release();
  }
}

async function claimableIds(): Promise<string[]> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string }>(CLAIM_NEXT_SQL, [10_000, []]);
    await client.query('ROLLBACK');
    return rows.map((r) => r.id);
  } finally {
    client.release();
  }
}

describe('npm run outbox', () => {
  it('lists set-aside rows with reason, aggregate, seq, size and the rows held behind each', async () => {
    const [a0, a1, a2] = await appendCommitted(db.pool, [
      event('order-a', 0),
      event('order-a', 1),
      event('order-a', 2),
    ]);
    const [b0] = await appendCommitted(db.pool, [event('order-b', 0)]);
    const [c0] = await appendCommitted(db.pool, [event('order-c', 0)]);
    const rowA = await setAside(a0 as OutboxEvent, 'MESSAGE_TOO_LARGE: test');
    await setAside(b0 as OutboxEvent, 'INVALID_RECORD: test');

    // The claim skips both set-aside rows and the rows held behind order-a's.
    expect(await claimableIds()).toEqual([c0?.eventId]);

    const json = await cli(['list', '--json']);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.out.join('\n')) as Array<Record<string, unknown>>;
    expect(listed).toEqual([
      {
        id: a0?.eventId,
        seq: rowA.seq,
        aggregateId: 'order-a',
        eventType: 'OrderPlaced',
        setAsideAt: expect.any(String),
        recordBytes: estimateRecordBytes(toMessage(rowA)),
        held: 2,
        reason: 'MESSAGE_TOO_LARGE: test',
      },
      expect.objectContaining({ id: b0?.eventId, aggregateId: 'order-b', held: 0 }),
    ]);

    const table = await cli(['list']);
    expect(table.out[0]).toMatch(
      /^ID\s+SEQ\s+AGGREGATE\s+EVENT\s+SET ASIDE AT\s+BYTES\s+HELD\s+REASON$/,
    );
    expect(table.out[1]).toContain(`${a0?.eventId}`);
    expect(table.out[1]).toMatch(/order-a .* 2\s+MESSAGE_TOO_LARGE: test$/);

    const shown = await cli(['show', a0?.eventId as string]);
    expect(shown.out).toContain('state         set aside');
    expect(shown.out).toContain('held behind   2');
    expect(shown.out.filter((l) => l.startsWith('  seq '))).toEqual([
      expect.stringContaining(a1?.eventId as string),
      expect.stringContaining(a2?.eventId as string),
    ]);
    const shownJson = JSON.parse(
      (await cli(['show', b0?.eventId as string, '--json'])).out.join(''),
    );
    expect(shownJson).toMatchObject({ state: 'set aside', setAsideReason: 'INVALID_RECORD: test' });

    // Release order-a: it and its held rows are claimable again, in seq order.
    const released = await cli(['release', a0?.eventId as string]);
    expect(released).toMatchObject({ code: 0 });
    expect(released.err[0]).toContain('2 held row(s)');
    expect(await claimableIds()).toEqual([a0?.eventId, a1?.eventId, a2?.eventId, c0?.eventId]);

    // Discard order-b: never claimable again, kept with its reasons.
    expect((await cli(['discard', b0?.eventId as string, '--reason', 'bad record'])).code).toBe(0);
    expect(await claimableIds()).not.toContain(b0?.eventId);
    const discarded = JSON.parse(
      (await cli(['show', b0?.eventId as string, '--json'])).out.join(''),
    );
    expect(discarded).toMatchObject({
      state: 'discarded',
      setAsideReason: 'INVALID_RECORD: test',
      discardReason: 'bad record',
    });
    expect((await cli(['list', '--json'])).out.join('')).toBe('[]');

    // Retention removes a discarded row like a published one, by age.
    const purge = async () => {
      const client = await db.pool.connect();
      try {
        return await deletePublishedBefore(client, 24, 100);
      } finally {
        client.release();
      }
    };
    expect(await purge()).toBe(0);
    await db.pool.query(
      `UPDATE outbox SET discarded_at = now() - interval '25 hours' WHERE id = $1`,
      [b0?.eventId],
    );
    expect(await purge()).toBe(1);
    expect((await cli(['show', b0?.eventId as string])).code).toBe(1);
  });

  it('refuses to release or discard a row that is missing or not set aside', async () => {
    const [pending] = await appendCommitted(db.pool, [event('order-d', 0)]);
    const notSetAside = await cli(['release', pending?.eventId as string]);
    expect(notSetAside.code).toBe(1);
    expect(notSetAside.err[0]).toMatch(/is not set aside; nothing to release/);
    const missing = await cli(['discard', '00000000-0000-4000-8000-000000000000', '--reason', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.err[0]).toMatch(/no outbox row/);
    expect((await cli(['show', '00000000-0000-4000-8000-000000000000'])).code).toBe(1);
  });

  it('the real CLI: exit 0 with results on stdout, exit 2 with the usage on a wrong call', async () => {
    const exec = (args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'tools/operations/outbox/cli.ts', ...args],
        {
          cwd: process.cwd(),
          env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE },
          timeout: 60_000,
        },
      );
    const { stdout } = await exec(['list', '--json']);
    expect(JSON.parse(stdout)).toEqual([]);
    let failure: { code?: number; stderr?: string } | undefined;
    try {
      await exec(['discard', '00000000-0000-4000-8000-000000000000']);
    } catch (error) {
      failure = error as { code?: number; stderr?: string };
    }
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/needs --reason[\s\S]*usage: npm run outbox/);
  });
});
