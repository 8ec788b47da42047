import { describe, expect, it } from 'vitest';
import {
  publishBatch,
  type RelayDeps,
  runRelay,
  toMessage,
  type WakeReason,
} from '../../../lambdas/outbox-relay/relay';
import type { OutboxRow } from '../../../lambdas/shared/outbox/outbox';

const silent = { error() {}, warn() {}, info() {}, debug() {} };

function row(n: number): OutboxRow {
  return {
    id: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`,
    seq: String(n),
    aggregateId: `order-${n % 3}`,
    eventType: 'OrderPlaced',
    payload: { eventId: `e${n}` },
    headers: { eventId: `e${n}`, correlationId: `c${n}` },
    createdAt: new Date(0),
  };
}

/** A scripted stand-in for pg: answers the relay's statements and records them. */
function fakeDb(opts: { lock?: boolean; pending?: OutboxRow[] } = {}) {
  const log: string[] = [];
  let pending = [...(opts.pending ?? [])];
  const releases: Array<Error | undefined> = [];
  const client = {
    async query(sql: string, params?: unknown[]) {
      const s = sql.trim().split(/\s+/).slice(0, 2).join(' ');
      log.push(s);
      if (sql.includes('pg_try_advisory_xact_lock'))
        return { rows: [{ locked: opts.lock ?? true }] };
      if (sql.includes('FOR UPDATE SKIP LOCKED')) {
        const limit = Number(params?.[0]);
        return {
          rows: pending.slice(0, limit).map((r) => ({
            id: r.id,
            seq: r.seq,
            aggregate_id: r.aggregateId,
            event_type: r.eventType,
            payload: r.payload,
            headers: r.headers,
            created_at: r.createdAt,
          })),
        };
      }
      if (sql.startsWith('UPDATE outbox')) {
        const ids = new Set(params?.[0] as string[]);
        pending = pending.filter((r) => !ids.has(r.id));
        return { rows: [], rowCount: ids.size };
      }
      if (sql.includes('DELETE FROM outbox')) return { rows: [], rowCount: 0 };
      if (sql.includes('age_ms')) return { rows: [{ age_ms: pending.length ? '42' : null }] };
      return { rows: [] };
    },
    release(error?: Error) {
      releases.push(error);
    },
  };
  return {
    pool: { connect: async () => client },
    log,
    releases,
    pendingCount: () => pending.length,
  };
}

function deps(db: ReturnType<typeof fakeDb>, overrides: Partial<RelayDeps> = {}) {
  const sent: Array<{ topic: string; acks?: number; keys: string[] }> = [];
  const telemetry = { published: [] as number[], oldest: [] as number[], flushes: 0 };
  const waits: number[] = [];
  const d: RelayDeps = {
    // biome-ignore lint/suspicious/noExplicitAny: the fake client implements what the relay calls
    pool: db.pool as any,
    producer: {
      // biome-ignore lint/suspicious/noExplicitAny: kafkajs' send signature is wide; we read what we need
      send: (async (record: any) => {
        sent.push({
          topic: record.topic,
          acks: record.acks,
          keys: record.messages.map((m: { key: string }) => m.key),
        });
        return [];
        // biome-ignore lint/suspicious/noExplicitAny: see above
      }) as any,
    },
    wake: {
      async wait(ms: number): Promise<WakeReason> {
        waits.push(ms);
        return 'poll';
      },
      interrupt() {},
    },
    logger: silent,
    telemetry: {
      published: (n) => telemetry.published.push(n),
      oldestPending: (ms) => telemetry.oldest.push(ms),
      flush: () => {
        telemetry.flushes++;
      },
    },
    ...overrides,
  };
  return { d, sent, telemetry, waits };
}

describe('publishBatch', () => {
  it('stands by without reading or sending when another relay holds the lock', async () => {
    const db = fakeDb({ lock: false, pending: [row(1)] });
    const { d, sent } = deps(db);
    expect(await publishBatch(d, { topic: 't', batchSize: 10 })).toEqual({
      status: 'standby',
      published: 0,
    });
    expect(sent).toEqual([]);
    expect(db.log).toEqual(['BEGIN', 'SELECT pg_try_advisory_xact_lock($1)', 'ROLLBACK']);
  });

  it('commits an empty claim as idle', async () => {
    const db = fakeDb();
    const { d, sent } = deps(db);
    expect(await publishBatch(d, { topic: 't', batchSize: 10 })).toEqual({
      status: 'idle',
      published: 0,
    });
    expect(sent).toEqual([]);
    expect(db.log.at(-1)).toBe('COMMIT');
  });

  it('sends with acks=all, keyed by aggregate, then marks and commits', async () => {
    const db = fakeDb({ pending: [row(1), row(2), row(3)] });
    const { d, sent, telemetry } = deps(db);
    expect(await publishBatch(d, { topic: 'order-events', batchSize: 2 })).toEqual({
      status: 'published',
      published: 2,
    });
    expect(sent).toEqual([{ topic: 'order-events', acks: -1, keys: ['order-1', 'order-2'] }]);
    expect(db.log.slice(-2)).toEqual(['UPDATE outbox', 'COMMIT']);
    expect(db.pendingCount()).toBe(1);
    expect(telemetry.published).toEqual([2]);
  });

  it('rolls back, discards the connection and rethrows when the send fails: nothing is marked', async () => {
    const db = fakeDb({ pending: [row(1)] });
    const boom = new Error('broker unavailable');
    const { d } = deps(db, {
      producer: {
        send: async () => {
          throw boom;
        },
      },
    });
    await expect(publishBatch(d, { topic: 't', batchSize: 10 })).rejects.toBe(boom);
    expect(db.log).not.toContain('UPDATE outbox');
    expect(db.log.at(-1)).toBe('ROLLBACK');
    expect(db.releases).toEqual([boom]);
    expect(db.pendingCount()).toBe(1);
  });

  it('runs the after-publish hook between the acknowledgement and the mark', async () => {
    const db = fakeDb({ pending: [row(1)] });
    const order: string[] = [];
    const { d } = deps(db, {
      afterPublish: async (rows) => {
        order.push(`hook:${rows.length}`, db.log.at(-1) ?? '');
      },
    });
    await publishBatch(d, { topic: 't', batchSize: 10 });
    expect(order).toEqual(['hook:1', 'SELECT id,']);
  });
});

describe('runRelay', () => {
  it('drains a backlog without waiting, then waits once idle, and stops when told', async () => {
    const db = fakeDb({ pending: Array.from({ length: 5 }, (_, i) => row(i + 1)) });
    let loops = 0;
    const { d, sent, waits, telemetry } = deps(db);
    const summary = await runRelay(d, {
      topic: 't',
      batchSize: 2,
      pollIntervalMs: 250,
      publishedRetentionHours: 72,
      shouldContinue: () => loops++ < 4,
    });
    // Batches of 2, 2 (no wait: full), 1 (partial: wait), then idle (wait).
    expect(sent.map((s) => s.keys.length)).toEqual([2, 2, 1]);
    expect(waits).toEqual([250]);
    expect(summary).toMatchObject({ published: 5, batches: 3, wakes: { poll: 1, notify: 0 } });
    expect(telemetry.flushes).toBeGreaterThanOrEqual(3);
    expect(telemetry.oldest.at(-1)).toBe(0);
  });

  it('never waits past the time it is given', async () => {
    const db = fakeDb();
    let loops = 0;
    const { d, waits } = deps(db);
    await runRelay(d, {
      topic: 't',
      batchSize: 10,
      pollIntervalMs: 1_000,
      publishedRetentionHours: 72,
      shouldContinue: () => loops++ < 3,
      maxWaitMs: () => 300,
    });
    expect(waits.every((w) => w <= 300)).toBe(true);
    expect(waits.length).toBeGreaterThan(0);
  });
});

describe('runRelay under failures', () => {
  it('survives failed sends: backs off, keeps the rows pending, publishes once the broker is back', async () => {
    const db = fakeDb({ pending: [row(1), row(2)] });
    let attempts = 0;
    const warnings: unknown[] = [];
    const { d } = deps(db, {
      logger: { ...silent, warn: (_m: string, f?: unknown) => warnings.push(f) },
      producer: {
        send: async () => {
          attempts++;
          if (attempts <= 3) throw new Error('Connection error: connect ECONNREFUSED');
          return [];
        },
      },
    });
    let loops = 0;
    const summary = await runRelay(d, {
      topic: 't',
      batchSize: 10,
      pollIntervalMs: 1,
      publishedRetentionHours: 72,
      shouldContinue: () => loops++ < 6,
      failureBackoff: { baseMs: 1, capMs: 2 },
    });
    expect(summary.failures).toBe(3);
    expect(summary.published).toBe(2);
    expect(db.pendingCount()).toBe(0);
    expect(warnings).toHaveLength(3);
  });
});

describe('toMessage', () => {
  it('uses the aggregate id as key, the payload as JSON value and the row headers', () => {
    const r = row(7);
    expect(toMessage(r)).toEqual({
      key: 'order-1',
      value: JSON.stringify({ eventId: 'e7' }),
      headers: { eventId: 'e7', correlationId: 'c7' },
    });
  });
});
