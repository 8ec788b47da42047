import fc from 'fast-check';
import type { Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  drainPass,
  protocolErrorType,
  type RelayDeps,
  runRelay,
  toMessage,
  type WakeReason,
} from '../../../lambdas/outbox-relay/relay';
import {
  BATCH_OVERHEAD_BYTES,
  chunkBySize,
  estimateRecordBytes,
  fitsAlone,
  HEADER_OVERHEAD_BYTES,
  RECORD_OVERHEAD_BYTES,
} from '../../../lambdas/shared/kafka/record-size';
import type { OutboxRow } from '../../../lambdas/shared/outbox/outbox';
import { relaySettings } from '../../../lib/config/function-environment';
import { loadStageConfig } from '../../../lib/config/stage-config';

const LIMIT = 1_048_576;
/** The relay's retention and failure settings from the stage config, as the Lambda passes them. */
const RELAY = relaySettings(loadStageConfig('dev'));
const RETENTION = {
  publishedRetentionHours: RELAY.publishedRetentionHours,
  processedEventsRetentionHours: RELAY.processedEventsRetentionHours,
  retentionEveryMs: RELAY.retentionEveryMs,
  retentionBatch: RELAY.retentionBatchSize,
  retentionBudgetMs: RELAY.retentionBudgetMs,
  failureBackoff: RELAY.failureBackoff,
};

const silent = { error() {}, warn() {}, info() {}, debug() {} };

function row(n: number, over: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`,
    seq: String(n),
    aggregateId: `order-${n % 3}`,
    eventType: 'OrderPlaced',
    payload: { eventId: `e${n}` },
    headers: { eventId: `e${n}`, correlationId: `c${n}` },
    createdAt: new Date(0),
    ...over,
  };
}

/** A kafkajs protocol error as the producer throws it. */
function protocolError(type: string): Error {
  return Object.assign(new Error(`broker says ${type}`), { name: 'KafkaJSProtocolError', type });
}

/** A scripted stand-in for pg: answers the relay's statements and records them. */
function fakeDb(opts: { lock?: boolean; pending?: OutboxRow[]; processedBacklog?: number } = {}) {
  const log: string[] = [];
  let pending = [...(opts.pending ?? [])];
  const releases: Array<Error | undefined> = [];
  const setAside = new Map<string, string>();
  let processedBacklog = opts.processedBacklog ?? 0;
  const client = {
    async query(sql: string, params?: unknown[]) {
      const s = sql.trim().split(/\s+/).slice(0, 2).join(' ');
      log.push(s);
      if (sql.includes('pg_try_advisory_xact_lock'))
        return { rows: [{ locked: opts.lock ?? true }] };
      if (sql.includes('<> ALL')) {
        const limit = Number(params?.[0]);
        const exclude = new Set(params?.[1] as string[]);
        return {
          rows: pending
            .filter((r) => !exclude.has(r.id))
            .slice(0, limit)
            .map((r) => ({
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
      if (sql.startsWith('UPDATE outbox SET published_at')) {
        const ids = new Set(params?.[0] as string[]);
        pending = pending.filter((r) => !ids.has(r.id));
        return { rows: [], rowCount: ids.size };
      }
      if (sql.includes('set_aside_at = now()')) {
        const [ids, reasons] = params as [string[], string[]];
        for (const [i, id] of ids.entries()) setAside.set(id, reasons[i] as string);
        pending = pending.filter((r) => !setAside.has(r.id));
        return { rows: [], rowCount: ids.length };
      }
      if (sql.includes('DELETE FROM processed_events')) {
        const n = Math.min(Number(params?.[1]), processedBacklog);
        processedBacklog -= n;
        return { rows: [], rowCount: n };
      }
      if (sql.includes('DELETE FROM')) return { rows: [], rowCount: 0 };
      if (sql.includes('age_ms'))
        return {
          rows: [{ age_ms: pending.length ? '42' : null, set_aside: String(setAside.size) }],
        };
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
    setAside,
    pendingCount: () => pending.length,
    /** A row committed by a writer while the relay runs. */
    commit: (r: OutboxRow) => {
      pending.push(r);
    },
  };
}

function deps(db: ReturnType<typeof fakeDb>, overrides: Partial<RelayDeps> = {}) {
  const sent: Array<{ topic: string; acks?: number; keys: string[] }> = [];
  const telemetry = {
    published: [] as number[],
    setAside: [] as number[],
    oldest: [] as number[],
    setAsideNow: [] as number[],
    flushes: 0,
  };
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
      setAside: (n) => telemetry.setAside.push(n),
      oldestPending: (ms) => telemetry.oldest.push(ms),
      setAsideNow: (n) => telemetry.setAsideNow.push(n),
      flush: () => {
        telemetry.flushes++;
      },
    },
    ...overrides,
  };
  return { d, sent, telemetry, waits };
}

/** One batch: a pass that claims no second one. */
function publishBatch(
  d: RelayDeps,
  options: { topic: string; batchSize: number; maxMessageBytes: number },
) {
  return drainPass(d, { ...options, claimMore: () => false });
}

describe('publishBatch', () => {
  it('stands by without reading or sending when another relay holds the lock', async () => {
    const db = fakeDb({ lock: false, pending: [row(1)] });
    const { d, sent } = deps(db);
    expect(await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT })).toEqual({
      status: 'standby',
      claimed: 0,
      published: 0,
      setAside: 0,
      held: 0,
      batches: 0,
    });
    expect(sent).toEqual([]);
    expect(db.log).toEqual(['BEGIN', 'SELECT pg_try_advisory_xact_lock($1)', 'ROLLBACK']);
  });

  it('commits an empty claim as idle', async () => {
    const db = fakeDb();
    const { d, sent } = deps(db);
    expect(await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT })).toEqual({
      status: 'idle',
      claimed: 0,
      published: 0,
      setAside: 0,
      held: 0,
      batches: 0,
    });
    expect(sent).toEqual([]);
    expect(db.log.at(-1)).toBe('COMMIT');
  });

  it('sends with acks=all, keyed by aggregate, then marks and commits', async () => {
    const db = fakeDb({ pending: [row(1), row(2), row(3)] });
    const { d, sent, telemetry } = deps(db);
    expect(
      await publishBatch(d, { topic: 'order-events', batchSize: 2, maxMessageBytes: LIMIT }),
    ).toEqual({ status: 'published', claimed: 2, published: 2, setAside: 0, held: 0, batches: 1 });
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
    await expect(
      publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT }),
    ).rejects.toBe(boom);
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
    await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT });
    expect(order).toEqual(['hook:1', 'SELECT o.id,']);
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
      maxMessageBytes: LIMIT,
      ...RETENTION,
      // Each check counts: the loop's, and the pass's before each further claim.
      shouldContinue: () => loops++ < 6,
    });
    // One pass: batches of 2, 2 (full: the next is claimed at once), 1 (partial: the pass
    // ends and the relay waits), then an idle pass (wait).
    expect(sent.map((s) => s.keys.length)).toEqual([2, 2, 1]);
    // Idle, it waits (inside the pass, then between passes), never longer than the interval.
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits.every((w) => w > 0 && w <= 250)).toBe(true);
    expect(summary).toMatchObject({ published: 5, batches: 3 });
    expect(summary.wakes).toEqual({ poll: waits.length, notify: 0 });
    expect(telemetry.published).toEqual([2, 2, 1]);
    expect(telemetry.flushes).toBeGreaterThanOrEqual(1);
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
      maxMessageBytes: LIMIT,
      ...RETENTION,
      shouldContinue: () => loops++ < 3,
      maxWaitMs: () => 300,
    });
    expect(waits.every((w) => w <= 300)).toBe(true);
    expect(waits.length).toBeGreaterThan(0);
  });
});

describe('drainPass: overlapping batches', () => {
  /** A producer whose sends the test acknowledges (or fails) one by one. */
  function gatedProducer(log: string[]) {
    const waiting: Array<{ resolve: () => void; reject: (e: Error) => void; keys: string[] }> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    return {
      waiting,
      maxInFlight: () => maxInFlight,
      producer: {
        // biome-ignore lint/suspicious/noExplicitAny: kafkajs' send signature is wide
        send: (async (record: any) => {
          const keys = record.messages.map((m: { value: string }) => JSON.parse(m.value).eventId);
          log.push(`SEND ${keys.join(',')}`);
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            await new Promise<void>((resolve, reject) => waiting.push({ resolve, reject, keys }));
          } finally {
            inFlight--;
          }
          log.push(`ACK ${keys.join(',')}`);
          return [];
          // biome-ignore lint/suspicious/noExplicitAny: see above
        }) as any,
      },
    };
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  async function ackNext(gate: ReturnType<typeof gatedProducer>) {
    for (let i = 0; i < 50 && gate.waiting.length === 0; i++) await tick();
    gate.waiting.shift()?.resolve();
    await tick();
  }

  it('claims the next batch while one is sent, sends one at a time, marks each after its ack', async () => {
    const db = fakeDb({ pending: Array.from({ length: 6 }, (_, i) => row(i + 1)) });
    const gate = gatedProducer(db.log);
    const { d } = deps(db, { producer: gate.producer });
    const pass = drainPass(d, { topic: 't', batchSize: 2, maxMessageBytes: LIMIT });
    for (let i = 0; i < 3; i++) await ackNext(gate);
    const result = await pass;
    expect(result).toMatchObject({ status: 'published', published: 6, batches: 3 });
    expect(gate.maxInFlight()).toBe(1);
    const at = (entry: string) => db.log.indexOf(entry);
    // The second claim was issued before the first batch was acknowledged.
    const claims = db.log.flatMap((l, i) => (l === 'SELECT o.id,' ? [i] : []));
    expect(claims[1]).toBeLessThan(at('ACK e1,e2'));
    // Each batch's mark follows its own acknowledgement.
    const marks = db.log.flatMap((l, i) => (l === 'UPDATE outbox' ? [i] : []));
    expect(marks).toHaveLength(3);
    expect(marks[0]).toBeGreaterThan(at('ACK e1,e2'));
    expect(marks[2]).toBeGreaterThan(at('ACK e5,e6'));
    expect(db.log.at(-1)).toBe('COMMIT');
    expect(db.pendingCount()).toBe(0);
  });

  it('leaves rows claimed and not yet marked out of the next claim: none is sent twice', async () => {
    const db = fakeDb({ pending: Array.from({ length: 7 }, (_, i) => row(i + 1)) });
    const { d, sent } = deps(db);
    await drainPass(d, { topic: 't', batchSize: 3, maxMessageBytes: LIMIT });
    const keys = sent.flatMap((s) => s.keys);
    expect(keys).toHaveLength(7);
    expect(sent.map((s) => s.keys.length)).toEqual([3, 3, 1]);
  });

  it('stops at a failed send: earlier acknowledged batches are marked, later ones not sent', async () => {
    const db = fakeDb({ pending: Array.from({ length: 6 }, (_, i) => row(i + 1)) });
    const gate = gatedProducer(db.log);
    const { d } = deps(db, { producer: gate.producer });
    const pass = drainPass(d, { topic: 't', batchSize: 2, maxMessageBytes: LIMIT });
    pass.catch(() => undefined);
    await ackNext(gate);
    for (let i = 0; i < 50 && gate.waiting.length === 0; i++) await tick();
    gate.waiting.shift()?.reject(new Error('Connection error: ECONNREFUSED'));
    await expect(pass).rejects.toThrow(/ECONNREFUSED/);
    expect(db.log.filter((l) => l.startsWith('SEND'))).toEqual(['SEND e1,e2', 'SEND e3,e4']);
    expect(db.log.filter((l) => l === 'UPDATE outbox')).toHaveLength(1);
    expect(db.log.at(-1)).toBe('ROLLBACK');
    expect(db.pendingCount()).toBe(4);
  });

  it('waits inside the pass when idle: a row committed meanwhile goes out without a new pass', async () => {
    const db = fakeDb({ pending: [row(1)] });
    const reasons: string[] = [];
    let woken = 0;
    const { d, sent } = deps(db, {
      wake: {
        async wait(): Promise<WakeReason> {
          woken++;
          if (woken === 1) db.commit(row(2));
          return woken === 1 ? 'notify' : 'poll';
        },
        interrupt() {},
      },
    });
    let budget = 2;
    await drainPass(d, {
      topic: 't',
      batchSize: 10,
      maxMessageBytes: LIMIT,
      idleWaitMs: () => (budget-- > 0 ? 100 : 0),
      onWake: (reason) => reasons.push(reason),
    });
    expect(sent.map((s) => s.keys)).toEqual([['order-1'], ['order-2']]);
    expect(db.log.filter((l) => l === 'BEGIN')).toHaveLength(1);
    expect(reasons).toEqual(['notify', 'poll']);
    expect(db.pendingCount()).toBe(0);
  });

  it("keeps every order's events in seq order on the topic, whatever the batch size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        async (orders, batchSize) => {
          const rows = orders.map((o, i) => row(i + 1, { aggregateId: `order-${o}` }));
          const db = fakeDb({ pending: rows });
          const published: string[] = [];
          const { d } = deps(db, {
            producer: {
              // biome-ignore lint/suspicious/noExplicitAny: kafkajs' send signature is wide
              send: (async (record: any) => {
                for (const m of record.messages) published.push(JSON.parse(m.value).eventId);
                return [];
                // biome-ignore lint/suspicious/noExplicitAny: see above
              }) as any,
            },
          });
          await drainPass(d, { topic: 't', batchSize, maxMessageBytes: LIMIT });
          expect(published).toEqual(rows.map((r) => r.payload.eventId));
        },
      ),
      { numRuns: 100 },
    );
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
      maxMessageBytes: LIMIT,
      ...RETENTION,
      shouldContinue: () => loops++ < 12,
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

  it("passes the row's traceparent on as a Kafka header, and keeps it out of the value", () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const message = toMessage(row(7, { headers: { eventId: 'e7', traceparent } }));
    expect(message.headers).toEqual({ eventId: 'e7', traceparent });
    expect(message.value).not.toContain(traceparent);
  });
});

describe('publishBatch: one line per sampled event', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const traced = (n: number, flags: string, aggregateId = `order-${n}`) =>
    row(n, {
      aggregateId,
      headers: {
        eventId: `e${n}`,
        correlationId: `c${n}`,
        traceparent: `00-${TRACE.slice(0, 30)}${String(n).padStart(2, '0')}-00f067aa0ba902b7-${flags}`,
      },
    });
  const recording = () => {
    const lines: Array<[string, Record<string, unknown>]> = [];
    return {
      lines,
      logger: { ...silent, info: (m: string, f: Record<string, unknown>) => lines.push([m, f]) },
    };
  };

  it('logs each sampled event with its trace id and, for a one-partition send, its offset', async () => {
    const db = fakeDb({
      pending: [traced(1, '01', 'o'), traced(2, '00', 'o'), traced(3, '01', 'o')],
    });
    const log = recording();
    const { d } = deps(db, {
      logger: log.logger,
      producer: {
        send: async () => [
          { topicName: 'order-events', partition: 4, errorCode: 0, baseOffset: '100' },
        ],
      },
    });
    await publishBatch(d, { topic: 'order-events', batchSize: 10, maxMessageBytes: LIMIT });
    expect(log.lines.filter(([m]) => m === 'event published')).toEqual([
      [
        'event published',
        {
          traceId: `${TRACE.slice(0, 30)}01`,
          eventId: row(1).id,
          eventType: 'OrderPlaced',
          orderId: 'o',
          correlationId: 'c1',
          seq: '1',
          topic: 'order-events',
          partition: 4,
          offset: '100',
        },
      ],
      // The unsampled event in between took offset 101.
      [
        'event published',
        expect.objectContaining({ traceId: `${TRACE.slice(0, 30)}03`, offset: '102' }),
      ],
    ]);
  });

  it('leaves partition and offset out when the send spanned partitions', async () => {
    const db = fakeDb({ pending: [traced(1, '01'), traced(2, '01')] });
    const log = recording();
    const { d } = deps(db, {
      logger: log.logger,
      producer: {
        send: async () => [
          { topicName: 't', partition: 0, errorCode: 0, baseOffset: '5' },
          { topicName: 't', partition: 1, errorCode: 0, baseOffset: '9' },
        ],
      },
    });
    await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT });
    const published = log.lines.filter(([m]) => m === 'event published').map(([, f]) => f);
    expect(published).toHaveLength(2);
    for (const f of published) {
      expect(f).toMatchObject({ topic: 't' });
      expect(f).not.toHaveProperty('partition');
      expect(f).not.toHaveProperty('offset');
    }
  });

  it('logs nothing per event for unsampled, trace-less or unreadable trace headers', async () => {
    const db = fakeDb({
      pending: [traced(1, '00'), row(2), row(3, { headers: { traceparent: 'garbage' } })],
    });
    const log = recording();
    const { d } = deps(db, { logger: log.logger });
    const result = await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT });
    expect(result.published).toBe(3);
    expect(log.lines.filter(([m]) => m === 'event published')).toEqual([]);
  });
});

describe('estimateRecordBytes', () => {
  it('counts key, value, header names and values, and every varint at its widest', () => {
    const message: Message = {
      key: 'order-1',
      value: 'héllo', // 6 bytes in UTF-8
      headers: { eventId: 'e1', correlationId: 'c1' },
    };
    expect(estimateRecordBytes(message)).toBe(
      RECORD_OVERHEAD_BYTES + 7 + 6 + 2 * HEADER_OVERHEAD_BYTES + 'eventIde1correlationIdc1'.length,
    );
  });

  it('counts each element of a header array as a header, and null or missing parts as empty', () => {
    expect(estimateRecordBytes({ key: null, value: null })).toBe(RECORD_OVERHEAD_BYTES);
    expect(estimateRecordBytes({ value: Buffer.alloc(10), headers: { h: ['a', 'bc'] } })).toBe(
      RECORD_OVERHEAD_BYTES + 10 + 2 * HEADER_OVERHEAD_BYTES + 1 + 1 + 1 + 2,
    );
  });

  it('is never below the record format: a v2 record of small fields takes less', () => {
    // The same message measured on the broker (max accepted value at the limit) took 80 bytes
    // of batch and record overhead; the estimate allows 61 + 36 + 4 headers x 10.
    const headers = { eventId: 'x', eventType: 'y', schemaVersion: 'z', correlationId: 'w' };
    const overhead =
      BATCH_OVERHEAD_BYTES +
      estimateRecordBytes({ key: '', value: '', headers }) -
      'eventIdxeventTypeyschemaVersionzcorrelationIdw'.length;
    expect(overhead).toBeGreaterThanOrEqual(80);
    expect(overhead).toBeLessThan(200);
  });

  it('fitsAlone leaves room for the batch header', () => {
    expect(fitsAlone(LIMIT - BATCH_OVERHEAD_BYTES, LIMIT)).toBe(true);
    expect(fitsAlone(LIMIT - BATCH_OVERHEAD_BYTES + 1, LIMIT)).toBe(false);
  });
});

describe('chunkBySize', () => {
  it('cuts in order so that header plus records stay within the limit', () => {
    const limit = BATCH_OVERHEAD_BYTES + 100;
    expect(chunkBySize([40, 40, 20, 1, 100, 50, 50], (n) => n, limit)).toEqual([
      [40, 40, 20],
      [1],
      [100],
      [50, 50],
    ]);
    expect(chunkBySize([], (n: number) => n, limit)).toEqual([]);
  });

  it('refuses an item that cannot fit alone', () => {
    expect(() => chunkBySize([10, 101], (n) => n, BATCH_OVERHEAD_BYTES + 100)).toThrow(RangeError);
  });

  it('keeps every item, in order, with each chunk within the limit and as full as it can be', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 5_000 }),
        fc.array(fc.integer({ min: 1, max: 5_000 }), { maxLength: 200 }),
        (budget, raw) => {
          const items = raw.map((n) => Math.min(n, budget));
          const chunks = chunkBySize(items, (n) => n, BATCH_OVERHEAD_BYTES + budget);
          expect(chunks.flat()).toEqual(items);
          const sums = chunks.map((c) => c.reduce((a, b) => a + b, 0));
          for (const sum of sums) expect(sum).toBeLessThanOrEqual(budget);
          // Greedy: the next chunk's first item would not have fitted in the previous one.
          chunks.slice(1).forEach((c, i) => {
            expect((sums[i] as number) + (c[0] as number)).toBeGreaterThan(budget);
          });
        },
      ),
    );
  });
});

describe('protocolErrorType', () => {
  it('reads the type of a protocol error, also when kafkajs wraps it', () => {
    expect(protocolErrorType(protocolError('MESSAGE_TOO_LARGE'))).toBe('MESSAGE_TOO_LARGE');
    const wrapped = Object.assign(new Error('retries exhausted'), {
      cause: protocolError('CORRUPT_MESSAGE'),
    });
    expect(protocolErrorType(wrapped)).toBe('CORRUPT_MESSAGE');
    expect(protocolErrorType(new Error('ECONNREFUSED'))).toBeUndefined();
    expect(protocolErrorType('text')).toBeUndefined();
  });
});

describe('publishBatch within the topic limit', () => {
  const padded = (n: number, bytes: number, aggregateId = `order-${n}`) =>
    row(n, { aggregateId, payload: { eventId: `e${n}`, pad: 'x'.repeat(bytes) } });
  const recordOf = (r: OutboxRow) => estimateRecordBytes(toMessage(r));

  it('cuts one claim into several sends, each within the limit, in seq order; marks them all', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => padded(i + 1, 1_000, 'order-same'));
    const limit = BATCH_OVERHEAD_BYTES + 10 * recordOf(rows[29] as OutboxRow);
    const db = fakeDb({ pending: rows });
    const sizes: number[] = [];
    const keys: string[] = [];
    const { d } = deps(db, {
      producer: {
        send: async (record) => {
          sizes.push(
            BATCH_OVERHEAD_BYTES + record.messages.reduce((n, m) => n + estimateRecordBytes(m), 0),
          );
          keys.push(...record.messages.map((m) => JSON.parse(String(m.value)).eventId));
          return [];
        },
      },
    });
    const result = await publishBatch(d, { topic: 't', batchSize: 100, maxMessageBytes: limit });
    expect(result).toMatchObject({ claimed: 30, published: 30, setAside: 0 });
    expect(sizes).toHaveLength(3);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(limit);
    expect(keys).toEqual(rows.map((r) => r.payload.eventId));
    expect(db.pendingCount()).toBe(0);
  });

  it('sets a row too large alone aside unsent, holds its aggregate, sends everyone else', async () => {
    const big = padded(2, 2_000, 'order-big');
    const later = padded(4, 10, 'order-big');
    const rows = [padded(1, 10), big, padded(3, 10), later, padded(5, 10)];
    const db = fakeDb({ pending: rows });
    const { d, sent, telemetry } = deps(db);
    const result = await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: 1_500 });
    expect(result).toEqual({
      status: 'published',
      claimed: 5,
      published: 3,
      setAside: 1,
      held: 1,
      batches: 1,
    });
    expect(sent.flatMap((s) => s.keys)).toEqual(['order-1', 'order-3', 'order-5']);
    expect([...db.setAside.keys()]).toEqual([big.id]);
    expect(db.setAside.get(big.id)).toMatch(/^MESSAGE_TOO_LARGE: about \d+ bytes, over .* 1500/);
    // The held row stays pending (a later claim skips it while its aggregate has a set-aside row).
    expect(db.pendingCount()).toBe(1);
    expect(telemetry.setAside).toEqual([1]);
    expect(db.log.slice(-1)).toEqual(['COMMIT']);
  });

  it('finds the row a broker refuses in a chunk by sending one at a time, with a new producer', async () => {
    const rows = [
      padded(1, 10, 'order-a'),
      padded(2, 10, 'order-bad'),
      padded(3, 10, 'order-b'),
      padded(4, 10, 'order-bad'),
      padded(5, 10, 'order-a'),
    ];
    const db = fakeDb({ pending: rows });
    const sends: string[][] = [];
    let renewals = 0;
    const { d, telemetry } = deps(db, {
      producer: {
        send: async (record) => {
          const ids = record.messages.map((m) => JSON.parse(String(m.value)).eventId as string);
          sends.push(ids);
          if (ids.includes('e2')) throw protocolError('INVALID_RECORD');
          return [];
        },
      },
      renewProducer: async () => {
        renewals++;
      },
    });
    const result = await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT });
    expect(result).toMatchObject({ claimed: 5, published: 3, setAside: 1, held: 1 });
    expect(sends).toEqual([['e1', 'e2', 'e3', 'e4', 'e5'], ['e1'], ['e2'], ['e3'], ['e5']]);
    expect(renewals).toBe(1);
    expect(db.setAside.get(rows[1]?.id as string)).toMatch(/^INVALID_RECORD: broker says/);
    expect(telemetry.published).toEqual([3]);
  });

  it('keeps later chunks of a set-aside aggregate back too', async () => {
    const rows = [padded(1, 500, 'order-x'), padded(2, 500, 'order-y'), padded(3, 500, 'order-x')];
    const limit = BATCH_OVERHEAD_BYTES + recordOf(rows[0] as OutboxRow);
    const db = fakeDb({ pending: rows });
    const sends: string[][] = [];
    const { d } = deps(db, {
      producer: {
        send: async (record) => {
          const ids = record.messages.map((m) => JSON.parse(String(m.value)).eventId as string);
          sends.push(ids);
          if (ids.includes('e1')) throw protocolError('MESSAGE_TOO_LARGE');
          return [];
        },
      },
    });
    const result = await publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: limit });
    expect(result).toMatchObject({ published: 1, setAside: 1, held: 1 });
    expect(sends).toEqual([['e1'], ['e2']]);
  });

  it('renews the producer and fails the iteration when its sequence state is broken', async () => {
    const db = fakeDb({ pending: [row(1)] });
    let renewals = 0;
    const { d } = deps(db, {
      producer: {
        send: async () => {
          throw protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER');
        },
      },
      renewProducer: async () => {
        renewals++;
      },
    });
    await expect(
      publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT }),
    ).rejects.toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(renewals).toBe(1);
    expect(db.setAside.size).toBe(0);
    expect(db.pendingCount()).toBe(1);
  });

  it('a transient error in the middle of the probe fails the whole iteration: nothing is marked', async () => {
    const rows = [padded(1, 10, 'order-a'), padded(2, 10, 'order-b')];
    const db = fakeDb({ pending: rows });
    let calls = 0;
    const { d } = deps(db, {
      producer: {
        send: async () => {
          calls++;
          if (calls === 1) throw protocolError('MESSAGE_TOO_LARGE');
          throw new Error('Connection error: ECONNREFUSED');
        },
      },
    });
    await expect(
      publishBatch(d, { topic: 't', batchSize: 10, maxMessageBytes: LIMIT }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(db.log).not.toContain('UPDATE outbox');
    expect(db.setAside.size).toBe(0);
  });
});

describe('runRelay with set-aside rows', () => {
  it('treats a full claim as a backlog even when rows were set aside, and reports the gauge', async () => {
    const big = row(1, { payload: { pad: 'x'.repeat(2_000) } });
    const db = fakeDb({ pending: [big, row(2), row(3), row(4)] });
    let loops = 0;
    const { d, waits, telemetry } = deps(db);
    const summary = await runRelay(d, {
      topic: 't',
      batchSize: 2,
      pollIntervalMs: 250,
      maxMessageBytes: 1_500,
      ...RETENTION,
      shouldContinue: () => loops++ < 4,
    });
    // Claims of 2 (1 set aside, 1 published: full, the next at once), then 2 (row 4 shares
    // row 1's order: held), then an idle claim ends the pass (a wait).
    expect(summary).toMatchObject({ published: 2, setAside: 1, batches: 2 });
    expect(waits).toEqual([250]);
    expect(telemetry.setAsideNow.at(-1)).toBe(1);
  });
});

describe('runRelay retention', () => {
  it('works a processed_events backlog off over several iterations within its time budget', async () => {
    const db = fakeDb({ processedBacklog: 35 });
    let loops = 0;
    // A clock that a wait moves on: each idle wait spends the pass's time, as it would.
    let clock = 0;
    const { d } = deps(db, {
      now: () => clock,
      wake: {
        async wait(ms: number): Promise<WakeReason> {
          clock += ms;
          return 'poll';
        },
        interrupt() {},
      },
    });
    const summary = await runRelay(d, {
      topic: 't',
      batchSize: 10,
      pollIntervalMs: 1,
      maxMessageBytes: LIMIT,
      ...RETENTION,
      retentionBatch: 10,
      retentionBudgetMs: 0,
      // Asked by the loop, by the pass before each further claim and before the wait.
      shouldContinue: () => loops++ < 40,
    });
    // One batch per pass (the budget is spent at once); behind, the next pass comes next
    // iteration rather than a minute later.
    expect(summary.processedEventsDeleted).toBe(35);
    const deletes = db.log.filter((l) => l === 'DELETE FROM');
    expect(deletes.length).toBeGreaterThanOrEqual(8); // outbox + processed_events per pass
  });
});
