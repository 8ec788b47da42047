import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  type Breaker,
  batchItemIdentifier,
  decide,
  partitionsOf,
  type RedrivePolicy,
  redriveDelayMs,
  redriveLimit,
  type TriageDeps,
  type TriageOptions,
  toKafkaJsHeaders,
  triageBatch,
} from '../../../lambdas/dlq-triage/triage';
import {
  DEAD_LETTER_ROW_COLUMNS,
  type DeadLetterMessage,
  deadLetterSchema,
  decodeDeadLetter,
} from '../../../lambdas/shared/dead-letter/message';
import { ERROR_TYPES, TransientError } from '../../../lambdas/shared/errors/taxonomy';
import { CircuitBreaker } from '../../../lambdas/shared/resilience/circuit-breaker';
import { loadStageConfig } from '../../../lib/config/stage-config';
import { deadLetter, dlqRecord, mskEvent, mskRecord } from './fixtures';

const silent = { error() {}, warn() {}, info() {}, debug() {} };
const DLQ = 'order-events-dlq';
/** Positions of the columns after the row's in triage's INSERT. */
const MESSAGE = DEAD_LETTER_ROW_COLUMNS.length;
const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const BREAKER = loadStageConfig('dev').breaker;

const POLICY: RedrivePolicy = {
  maxRedrives: 5,
  maxProcessingFailureRedrives: 2,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  jitterRatio: 0,
};
const OPTIONS: TriageOptions = {
  ...POLICY,
  redriveTopics: ['order-events'],
  stopBeforeTimeoutMs: 1_000,
  maxRedriveBytes: 1_048_576,
  outageWait: { baseMs: 500, capMs: 5_000 },
  outageLogEvery: 10,
};

/** Fakes for every effect, recording what triage asked for; the clock moves only by sleep. */
function harness(
  opts: {
    remainingMs?: number;
    rowCount?: number;
    dbError?: Error;
    postgres?: Breaker;
    kafka?: Breaker;
  } = {},
) {
  const clock = { t: T0 };
  const sleeps: number[] = [];
  const queries: Array<{ text: string; values: unknown[] }> = [];
  const sends: Array<Record<string, unknown>> = [];
  const events: string[] = [];
  const passThrough: Breaker = { execute: (fn) => fn() };
  const deps: TriageDeps = {
    db: {
      async query(text, values = []) {
        if (opts.dbError) throw opts.dbError;
        queries.push({ text, values });
        events.push(`park:${String(values[9])}`);
        return { rowCount: opts.rowCount ?? 1 };
      },
    },
    producer: {
      async send(record) {
        sends.push(record as unknown as Record<string, unknown>);
        events.push(`send@${clock.t}`);
        return [];
      },
    },
    breakers: { postgres: opts.postgres ?? passThrough, kafka: opts.kafka ?? passThrough },
    logger: silent,
    telemetry: {
      received: () => events.push('received'),
      redriven: () => events.push('redriven'),
      parked: (m) => events.push(`parked:${m.errorType}`),
    },
    remainingMs: () => (opts.remainingMs ?? 300_000) - (clock.t - T0),
    now: () => clock.t,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.t += ms;
    },
    random: () => 0.5,
  };
  return { deps, clock, sleeps, queries, sends, events };
}

function count(events: readonly string[], name: string): number {
  return events.filter((e) => e === name).length;
}

const kafkaId = (partition: number, offset: number) => ({
  partition: `${DLQ}-${partition}`,
  offset,
});

describe('batchItemIdentifier', () => {
  it('is the Kafka object identifier { partition: <topic>-<partition>, offset }', () => {
    expect(batchItemIdentifier({ topic: DLQ, partition: 2, offset: '17' })).toEqual({
      partition: 'order-events-dlq-2',
      offset: 17,
    });
  });
});

describe('partitionsOf', () => {
  it('groups per topic-partition in offset order and decodes base64 key and value', () => {
    const event = mskEvent([
      mskRecord({ key: Buffer.from('k'), value: Buffer.from('b') }, DLQ, 0, 10),
      mskRecord({ key: null, value: Buffer.from('a') }, DLQ, 0, 9),
      mskRecord({ key: null, value: null, headers: { h: 'v' } }, DLQ, 1, 3),
    ]);
    const groups = partitionsOf(event);
    expect(groups.map((g) => g.map((r) => `${r.partition}:${r.offset}`))).toEqual([
      ['0:9', '0:10'],
      ['1:3'],
    ]);
    expect(groups[0]?.[1]?.key?.toString()).toBe('k');
    expect(groups[0]?.[0]?.key).toBeNull();
    expect(groups[0]?.[0]?.value?.toString()).toBe('a');
    expect(groups[1]?.[0]?.value).toBeNull();
    expect(Buffer.from(groups[1]?.[0]?.headers[0]?.value ?? '').toString()).toBe('v');
  });
});

describe('decide: disposition per error type and redrive count', () => {
  const topics = new Set(['order-events']);
  const expected: Record<(typeof ERROR_TYPES)[number], (n: number) => 'PARK' | 'REDRIVE'> = {
    SCHEMA_VIOLATION: () => 'PARK',
    INVALID_TRANSITION: () => 'PARK',
    IDEMPOTENCY_CONFLICT: () => 'PARK',
    TRANSIENT: (n) => (n < 5 ? 'REDRIVE' : 'PARK'),
    PROCESSING_FAILURE: (n) => (n < 2 ? 'REDRIVE' : 'PARK'),
  };
  for (const errorType of ERROR_TYPES) {
    for (const redriveCount of [0, 1, 2, 4, 5, 6]) {
      const want = expected[errorType](redriveCount);
      it(`${errorType} with redriveCount ${redriveCount} → ${want}`, () => {
        const d = decide(deadLetter({ errorType, redriveCount }), POLICY, topics);
        expect(d.action).toBe(want);
      });
    }
  }

  it('PROCESSING_FAILURE never gets more redrives than TRANSIENT', () => {
    expect(redriveLimit('PROCESSING_FAILURE', { ...POLICY, maxProcessingFailureRedrives: 9 })).toBe(
      5,
    );
  });

  it('parks a redrivable message whose source topic is not a redrive topic', () => {
    const d = decide(deadLetter({ sourceTopic: 'elsewhere' }), POLICY, topics);
    expect(d).toMatchObject({ action: 'PARK', reason: expect.stringContaining('elsewhere') });
  });

  it('is due at lastFailureAt + the delay for its redrive count', () => {
    const d = decide(deadLetter({ redriveCount: 2, lastFailureAt: new Date(T0) }), POLICY, topics);
    expect(d).toEqual({ action: 'REDRIVE', delayMs: 8_000, dueAt: T0 + 8_000 });
  });
});

describe('redriveDelayMs', () => {
  it('doubles per redrive from the base and stops at the maximum', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 50].map((n) => redriveDelayMs(n, POLICY));
    expect(delays).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('jitter removes at most its ratio and never lets a later redrive come sooner', () => {
    const jittered = { ...POLICY, jitterRatio: 0.2 };
    expect(redriveDelayMs(1, jittered, () => 0)).toBe(4_000);
    expect(redriveDelayMs(1, jittered, () => 0.999_999)).toBe(3_200);
    for (let n = 0; n < 4; n++) {
      expect(redriveDelayMs(n + 1, jittered, () => 0.999_999)).toBeGreaterThan(
        redriveDelayMs(n, jittered, () => 0),
      );
    }
  });

  it('rejects a negative count', () => {
    expect(() => redriveDelayMs(-1, POLICY)).toThrow(RangeError);
  });
});

describe('toKafkaJsHeaders', () => {
  it('keeps binary values and repeated keys in order', () => {
    const h = toKafkaJsHeaders([
      { key: 'a', value: '1' },
      { key: 'b', value: Uint8Array.from([0xff]) },
      { key: 'a', value: '2' },
    ]);
    expect((h.a as Buffer[]).map(String)).toEqual(['1', '2']);
    expect([...(h.b as Buffer)]).toEqual([0xff]);
  });
});

describe('triageBatch: redrive', () => {
  it('waits until lastFailureAt + delay, then produces the original record with redrive headers', async () => {
    const h = harness();
    // Dead-lettered 500 ms ago with one redrive behind it: due 4 s after the failure.
    const message = deadLetter({ redriveCount: 1, lastFailureAt: new Date(T0 - 500) });
    const result = await triageBatch(mskEvent([dlqRecord(message, DLQ, 0, 7)]), h.deps, OPTIONS);

    expect(result.batchItemFailures).toEqual([]);
    expect(h.sleeps).toEqual([3_500]);
    expect(h.events).toEqual(['received', `send@${T0 + 3_500}`, 'redriven']);
    expect(h.queries).toEqual([]);
    const sent = h.sends[0] as {
      topic: string;
      acks: number;
      messages: Array<{ key: Buffer; value: Buffer; headers: Record<string, Buffer> }>;
    };
    expect(sent.topic).toBe('order-events');
    expect(sent.acks).toBe(-1);
    const m = sent.messages[0];
    expect(m?.key.toString()).toBe('order-1');
    expect(m?.value.equals(Buffer.from(message.original.value ?? '', 'base64'))).toBe(true);
    expect(String(m?.headers.eventId)).toBe('evt-1');
    expect([...(m?.headers.bin ?? [])]).toEqual([0xff, 0x00, 0x01]);
    expect(String(m?.headers.redriveCount)).toBe('2');
    expect(String(m?.headers.attempts)).toBe('3');
    expect(String(m?.headers.firstFailureAt)).toBe(message.firstFailureAt);
  });

  it('does not wait for a message that is already due', async () => {
    const h = harness();
    const message = deadLetter({ lastFailureAt: new Date(T0 - 10_000) });
    await triageBatch(mskEvent([dlqRecord(message, DLQ, 0, 7)]), h.deps, OPTIONS);
    expect(h.sleeps).toEqual([]);
    expect(count(h.events, 'redriven')).toBe(1);
  });

  it('waits for due times in offset order, with growing delays per redrive count', async () => {
    const h = harness();
    const records = [0, 1, 2, 3].map((n) =>
      dlqRecord(deadLetter({ redriveCount: n, lastFailureAt: new Date(T0) }), DLQ, 0, 10 + n),
    );
    await triageBatch(mskEvent(records.reverse()), h.deps, OPTIONS);
    // Due at T0+2s, +4s, +8s, +16s: each wait is what is left after the previous one.
    expect(h.sleeps).toEqual([2_000, 2_000, 4_000, 8_000]);
    expect(h.events.filter((e) => e.startsWith('send@'))).toEqual(
      [2_000, 4_000, 8_000, 16_000].map((d) => `send@${T0 + d}`),
    );
  });

  it('reports the partition from the record whose wait does not fit (its earliest failure)', async () => {
    const h = harness({ remainingMs: 5_000 });
    const records = [
      dlqRecord(deadLetter({ lastFailureAt: new Date(T0 - 10_000) }), DLQ, 0, 1), // due now
      dlqRecord(deadLetter({ redriveCount: 2, lastFailureAt: new Date(T0) }), DLQ, 0, 2), // 8 s
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '9' }), DLQ, 0, 3),
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '8' }), DLQ, 1, 1),
    ];
    const result = await triageBatch(mskEvent(records), h.deps, OPTIONS);
    expect(h.sleeps).toEqual([]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: kafkaId(0, 2) }]);
    expect(result).toMatchObject({ redriven: 1, parked: 1 });
  });

  it('starts nothing when the invocation is about to time out', async () => {
    const h = harness({ remainingMs: 1_000 });
    const message = deadLetter({ errorType: 'SCHEMA_VIOLATION' });
    const result = await triageBatch(mskEvent([dlqRecord(message, DLQ, 0, 1)]), h.deps, OPTIONS);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: kafkaId(0, 1) }]);
    expect(h.events).toEqual([]);
  });
});

describe('triageBatch: park', () => {
  it('parks non-redrivable types and exhausted redrives with the row and the whole message', async () => {
    const h = harness();
    const records = [
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '1' }), DLQ, 0, 1),
      dlqRecord(deadLetter({ errorType: 'INVALID_TRANSITION', sourceOffset: '2' }), DLQ, 0, 2),
      dlqRecord(deadLetter({ errorType: 'IDEMPOTENCY_CONFLICT', sourceOffset: '3' }), DLQ, 0, 3),
      dlqRecord(deadLetter({ redriveCount: 5, sourceOffset: '4' }), DLQ, 0, 4),
      dlqRecord(
        deadLetter({ errorType: 'PROCESSING_FAILURE', redriveCount: 2, sourceOffset: '5' }),
        DLQ,
        0,
        5,
      ),
    ];
    const result = await triageBatch(mskEvent(records), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 5, redriven: 0 });
    expect(h.sends).toEqual([]);
    expect(h.events.filter((e) => e.startsWith('parked:'))).toEqual([
      'parked:SCHEMA_VIOLATION',
      'parked:INVALID_TRANSITION',
      'parked:IDEMPOTENCY_CONFLICT',
      'parked:TRANSIENT',
      'parked:PROCESSING_FAILURE',
    ]);
    const q = h.queries[0];
    expect(q?.text).toMatch(/ON CONFLICT ON CONSTRAINT dead_letters_record_key DO NOTHING/);
    expect(q?.text).toMatch(/message, park_reason, raw_record\)/);
    // As received: a reason, and no raw copy (the message is the record).
    expect(q?.values.slice(MESSAGE + 1)).toEqual([
      'policy: SCHEMA_VIOLATION is never redriven',
      null,
    ]);
    const stored = JSON.parse(String(q?.values[MESSAGE])) as DeadLetterMessage;
    expect(deadLetterSchema.parse(stored)).toEqual(
      deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '1' }),
    );
    expect(q?.values.slice(7, 10)).toEqual(['order-events', 2, '1']);
  });

  it('counts a redelivered, already parked record as handled but not parked again', async () => {
    const h = harness({ rowCount: 0 });
    const message = deadLetter({ errorType: 'SCHEMA_VIOLATION' });
    const result = await triageBatch(mskEvent([dlqRecord(message, DLQ, 0, 1)]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 0, alreadyParked: 1 });
    expect(h.events.some((e) => e.startsWith('parked:'))).toBe(false);
  });

  it.each([
    ['garbage bytes', Buffer.from([0xff, 0x00, 0x41]), 'NOT_JSON'],
    ['JSON that is not a dead letter', Buffer.from('{"records":[1]}'), 'NOT_A_DEAD_LETTER'],
    ['a tombstone', null, 'NOT_JSON'],
  ])(
    'parks %s as PROCESSING_FAILURE with its raw bytes, never redriving it',
    async (_name, value, kind) => {
      const h = harness();
      const record = mskRecord(
        { key: Buffer.from('k1'), value, headers: { eventId: 'e9' } },
        DLQ,
        2,
        33,
      );
      const result = await triageBatch(mskEvent([record]), h.deps, OPTIONS);
      expect(result).toMatchObject({ batchItemFailures: [], parked: 1 });
      expect(h.sends).toEqual([]);
      const values = h.queries[0]?.values ?? [];
      const decoded = decodeDeadLetter(String(values[MESSAGE]));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      const m = decoded.message;
      expect(m.errorType).toBe('PROCESSING_FAILURE');
      expect(m.errorMessage).toContain(kind);
      expect(m.source).toEqual({ topic: DLQ, partition: 2, offset: '33' });
      expect(m.original.value).toBe(value === null ? null : value.toString('base64'));
      expect(m.key).toBe(Buffer.from('k1').toString('base64'));
      expect(m.eventId).toBe('e9');
      expect(m.lastFailureAt).toBe(new Date(T0).toISOString());
    },
  );
});

describe('triageBatch: failures', () => {
  function openBreaker(name: string): CircuitBreaker {
    const breaker = new CircuitBreaker({ name, ...BREAKER, now: () => T0 });
    return breaker;
  }
  async function trip(breaker: CircuitBreaker): Promise<void> {
    for (let i = 0; i < BREAKER.failureThreshold; i++)
      await breaker
        .execute(() => Promise.reject(new TransientError('down')))
        .catch(() => undefined);
    expect(breaker.state).toBe('OPEN');
  }

  it('an open postgres breaker fails the records fast: nothing parked, all reported', async () => {
    const postgres = openBreaker('postgres');
    await trip(postgres);
    const h = harness({ postgres });
    const records = [
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '1' }), DLQ, 0, 1),
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '2' }), DLQ, 0, 2),
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: '3' }), DLQ, 1, 5),
    ];
    const result = await triageBatch(mskEvent(records), h.deps, OPTIONS);
    expect(h.queries).toEqual([]);
    expect(result.parked).toBe(0);
    // It waited for the database until the stop margin, then handed the partitions back.
    const waited = h.clock.t - T0;
    expect(waited).toBeGreaterThan(300_000 - OPTIONS.stopBeforeTimeoutMs - 5_000);
    expect(waited).toBeLessThanOrEqual(300_000 - OPTIONS.stopBeforeTimeoutMs);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      expect.arrayContaining([kafkaId(0, 1), kafkaId(1, 5)]),
    );
    expect(result.batchItemFailures).toHaveLength(2);
  });

  it('an open kafka breaker fails redrives without producing or parking them', async () => {
    const kafka = openBreaker('kafka');
    await trip(kafka);
    const h = harness({ kafka });
    const message = deadLetter({ lastFailureAt: new Date(T0 - 60_000) });
    const result = await triageBatch(mskEvent([dlqRecord(message, DLQ, 0, 4)]), h.deps, OPTIONS);
    expect(h.sends).toEqual([]);
    expect(h.queries).toEqual([]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: kafkaId(0, 4) }]);
  });

  it('a database outage that ends within the invocation is waited out: parked in order, nothing handed back', async () => {
    let down = 4;
    const h = harness();
    const query = h.deps.db.query;
    const deps: TriageDeps = {
      ...h.deps,
      db: {
        query: (text, values) =>
          down-- > 0
            ? Promise.reject(
                Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
              )
            : query(text, values),
      },
    };
    const records = [1, 2].map((n) =>
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: String(n) }), DLQ, 0, n),
    );
    const result = await triageBatch(mskEvent(records), deps, OPTIONS);
    expect(result).toMatchObject({ parked: 2, batchItemFailures: [] });
    // Full jitter with random() = 0.5 (Math.random is not the harness's): four waits.
    expect(h.sleeps).toHaveLength(4);
    expect(h.queries.map((q) => q.values[9])).toHaveLength(2);
  });

  it("logs the outage wait's first check and every outageLogEvery-th one, not each", async () => {
    let down = 7;
    const h = harness();
    const query = h.deps.db.query;
    const warned: unknown[] = [];
    const deps: TriageDeps = {
      ...h.deps,
      logger: { ...silent, warn: (_message, fields) => warned.push(fields?.attempt) },
      db: {
        query: (text, values) =>
          down-- > 0
            ? Promise.reject(
                Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
              )
            : query(text, values),
      },
    };
    const record = dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION' }), DLQ, 0, 1);
    const result = await triageBatch(mskEvent([record]), deps, { ...OPTIONS, outageLogEvery: 3 });
    expect(result).toMatchObject({ parked: 1, batchItemFailures: [] });
    expect(h.sleeps).toHaveLength(7);
    expect(warned).toEqual([1, 3, 6]);
  });

  it('a failed insert reports its partition from that record', async () => {
    const h = harness({ dbError: Object.assign(new Error('boom'), { code: '57P01' }) });
    const records = [1, 2].map((n) =>
      dlqRecord(deadLetter({ errorType: 'SCHEMA_VIOLATION', sourceOffset: String(n) }), DLQ, 0, n),
    );
    const result = await triageBatch(mskEvent(records), h.deps, OPTIONS);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: kafkaId(0, 1) }]);
    expect(result.parked).toBe(0);
  });
});
