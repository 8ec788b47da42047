// Triage never skips a record: every hostile kind of the drill's catalogue, one at a time and
// all together, parks with its type and a reason, in values the columns can hold. The real
// PostgreSQL's verdict on the same kinds is test/integration/dlq-triage-hostile.test.ts.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  type Breaker,
  type MskRecordLike,
  type TriageDeps,
  type TriageOptions,
  triageBatch,
} from '../../../lambdas/dlq-triage/triage';
import {
  buildDeadLetter,
  DEAD_LETTER_ROW_COLUMNS,
  type DeadLetterMessage,
  decodeDeadLetter,
  encodeDeadLetter,
  jsonbSafeJson,
  ROW_LIMITS,
} from '../../../lambdas/shared/dead-letter/message';
import { TransientError } from '../../../lambdas/shared/errors/taxonomy';
import {
  HOSTILE_KINDS,
  type HostileRecord,
  hostileCatalog,
} from '../../../tools/verification/drill/drills/hostile-dead-letters';
import { mskEvent } from './fixtures';

const DLQ = 'order-events-dlq';
const T0 = Date.parse('2026-12-03T12:00:00.000Z');
const col = (name: (typeof DEAD_LETTER_ROW_COLUMNS)[number]) =>
  DEAD_LETTER_ROW_COLUMNS.indexOf(name);
const MESSAGE = DEAD_LETTER_ROW_COLUMNS.length;
const REASON = MESSAGE + 1;
const RAW = MESSAGE + 2;

const OPTIONS: TriageOptions = {
  maxRedrives: 5,
  maxProcessingFailureRedrives: 2,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  jitterRatio: 0,
  redriveTopics: ['order-events'],
  stopBeforeTimeoutMs: 1_000,
  maxRedriveBytes: 1_048_576,
  outageWait: { baseMs: 500, capMs: 5_000 },
  outageLogEvery: 10,
};

interface HarnessOptions {
  /** Thrown by the INSERTs, in order; undefined lets one through. */
  readonly insertErrors?: ReadonlyArray<unknown>;
  readonly sendError?: unknown;
  readonly random?: () => number;
}

function harness(opts: HarnessOptions = {}) {
  const clock = { t: T0 };
  const inserts: unknown[][] = [];
  const attempts: unknown[][] = [];
  const sends: Array<{ topic: string; messages: Array<{ headers: Record<string, unknown> }> }> = [];
  const sleeps: number[] = [];
  const pass: Breaker = { execute: (fn) => fn() };
  let insert = 0;
  const deps: TriageDeps = {
    db: {
      async query(_text, values = []) {
        attempts.push(values);
        const error = opts.insertErrors?.[insert++];
        if (error !== undefined) throw error;
        inserts.push(values);
        return { rowCount: 1 };
      },
    },
    producer: {
      async send(record) {
        if (opts.sendError !== undefined) throw opts.sendError;
        sends.push(record as never);
        return [];
      },
    },
    breakers: { postgres: pass, kafka: pass },
    logger: { error() {}, warn() {}, info() {}, debug() {} },
    telemetry: { received() {}, redriven() {}, parked() {} },
    remainingMs: () => 300_000 - (clock.t - T0),
    now: () => clock.t,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.t += ms;
    },
    random: opts.random ?? (() => 0.5),
  };
  return { deps, inserts, attempts, sends, sleeps };
}

function mskOf(r: Pick<HostileRecord, 'key' | 'value' | 'headers'>, offset: number, partition = 0) {
  const b64 = (v: Buffer | string) => Buffer.from(v).toString('base64');
  return {
    topic: DLQ,
    partition,
    offset,
    timestamp: T0 - 5_000,
    ...(r.key === null ? {} : { key: b64(r.key) }),
    ...(r.value === null ? {} : { value: b64(r.value) }),
    // Computed keys define own properties: "__proto__" stays a header name, as in AWS's JSON.
    headers: r.headers.map((h) => ({ [h.key]: h.value === null ? [] : [...Buffer.from(h.value)] })),
  } satisfies MskRecordLike;
}

function catalogRecord(kind: string, id = 'in-1', offset = 1_000): HostileRecord {
  const build = HOSTILE_KINDS[kind];
  if (build === undefined) throw new Error(`no kind ${kind}`);
  return {
    kind,
    ...build({ id, sourceTopic: 'order-events', offset, now: T0, random: () => 0.3 }),
  };
}

/** Text a PostgreSQL text column refuses (NUL) or would alter (an unpaired surrogate). */
const storable = (text: string) =>
  !text.includes('\u0000') &&
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

/** Every value of an INSERT is one its column takes. */
function expectStorable(values: readonly unknown[]): void {
  for (const name of [
    'event_id',
    'event_type',
    'aggregate_id',
    'correlation_id',
    'source_topic',
  ] as const) {
    const v = values[col(name)];
    if (v === null) continue;
    expect(storable(v as string), name).toBe(true);
    expect(Buffer.byteLength(v as string), name).toBeLessThanOrEqual(ROW_LIMITS.shortTextBytes);
  }
  expect(storable(values[col('error_message')] as string)).toBe(true);
  expect(storable(values[REASON] as string)).toBe(true);
  for (const name of ['attempts', 'redrive_count', 'source_partition'] as const) {
    const n = values[col(name)] as number;
    expect(Number.isInteger(n) && n >= 0 && n <= ROW_LIMITS.int32Max, name).toBe(true);
  }
  expect(BigInt(values[col('source_offset')] as string)).toBeLessThanOrEqual(ROW_LIMITS.int64Max);
  const first = Date.parse(values[col('first_failed_at')] as string);
  const last = Date.parse(values[col('last_failed_at')] as string);
  expect(first).toBeGreaterThanOrEqual(ROW_LIMITS.earliestFailureMs);
  expect(last).toBeLessThanOrEqual(T0 + ROW_LIMITS.futureSkewMs);
  expect(first).toBeLessThanOrEqual(last);
  for (const json of [values[col('payload')], values[MESSAGE]] as string[]) {
    expect(() => JSON.parse(json)).not.toThrow();
    expect(jsonbSafeJson(json)).toBe(json);
  }
  // The stored message is a dead letter the CLI can read back.
  expect(decodeDeadLetter(values[MESSAGE] as string).ok).toBe(true);
}

describe('every hostile kind parks with its type and a reason', () => {
  it.each(Object.keys(HOSTILE_KINDS))('%s', async (kind) => {
    const record = catalogRecord(kind);
    const h = harness();
    const result = await triageBatch(mskEvent([mskOf(record, 7)]), h.deps, OPTIONS);
    expect(result.batchItemFailures).toEqual([]);
    expect(result).toMatchObject({ parked: 1, redriven: 0 });
    expect(h.sends).toEqual([]);
    const values = h.inserts[0] ?? [];
    expect(values[col('error_type')]).toBe(record.errorType);
    expect(String(values[REASON])).toMatch(new RegExp(`^${record.reason}: `));
    expectStorable(values);
    // The exact bytes whenever the row is not the record as received, and only then.
    const reason = String(values[REASON]);
    const changed =
      /^(out of range|salvaged|backstop record|unreadable): /.test(reason) ||
      /stored with changes|PostgreSQL refused/.test(reason);
    const raw = values[RAW] as Buffer | null;
    if (changed && record.value !== null) expect(raw?.equals(Buffer.from(record.value))).toBe(true);
    else expect(raw).toBeNull();
    if (record.good) expect(changed).toBe(false);
  });

  it('a thousand of them mixed on three partitions: all parked, none reported failed', async () => {
    const records = hostileCatalog({
      count: 1_000,
      seed: 7,
      sourceTopic: 'order-events',
      tag: 't',
      now: T0,
    });
    const h = harness();
    const result = await triageBatch(
      mskEvent(records.map((r, i) => mskOf(r, i, i % 3))),
      h.deps,
      OPTIONS,
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(result).toMatchObject({ received: 1_000, parked: 1_000, redriven: 0 });
    const reasons = new Map<string, number>();
    for (const v of h.inserts) {
      const kind = String(v[REASON]).split(':')[0] as string;
      reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
    }
    expect([...reasons.keys()].sort()).toEqual([
      'backstop record',
      'out of range',
      'policy',
      'salvaged',
      'too large to redrive',
      'unreadable',
    ]);
  });
});

describe('reasons and what is kept', () => {
  it('out of range: says what was found and stored, and never redrives it', async () => {
    const h = harness();
    await triageBatch(
      mskEvent([mskOf(catalogRecord('far-future failure time'), 1)]),
      h.deps,
      OPTIONS,
    );
    expect(h.inserts[0]?.[REASON]).toBe(
      `out of range: lastFailureAt 9999-12-31T23:59:59.999Z is after now + 60 s; stored ${new Date(T0).toISOString()}; firstFailureAt 9999-12-31T23:59:59.999Z is after now + 60 s; stored ${new Date(T0).toISOString()}`,
    );
    expect(h.sleeps).toEqual([]);
  });

  it('salvaged: keeps the dead letter’s source so it can be restored there', async () => {
    const h = harness();
    await triageBatch(mskEvent([mskOf(catalogRecord('negative counts'), 1)]), h.deps, OPTIONS);
    const values = h.inserts[0] ?? [];
    expect(values.slice(col('source_topic'), col('source_offset') + 1)).toEqual([
      'order-events',
      0,
      '1000',
    ]);
    expect(values[REASON]).toMatch(
      /^salvaged: not a valid dead letter \(attempts: .*\); source order-events\/0@1000 kept; attempts -3 stored as 1; redriveCount -1 stored as 0$/,
    );
  });

  it('a backstop record: source from its failure headers, those headers left out', async () => {
    const h = harness();
    await triageBatch(
      mskEvent([mskOf(catalogRecord('raw record from the consumer mapping backstop'), 1)]),
      h.deps,
      OPTIONS,
    );
    const values = h.inserts[0] ?? [];
    expect(values.slice(col('source_topic'), col('source_offset') + 1)).toEqual([
      'order-events',
      0,
      '1000',
    ]);
    const stored = JSON.parse(String(values[MESSAGE])) as DeadLetterMessage;
    expect(stored.headers.map((x) => x.key)).toEqual(['drillInputId']);
    expect(stored.attempts).toBe(4);
    expect(values[REASON]).toMatch(
      /^backstop record: written raw by a mapping's on-failure destination \("handler threw: Error: broker down", after 4 attempt\(s\), group order-consumer\); source order-events\/0@1000 from its failure headers$/,
    );
  });

  it('garbage stays at its own dead-letter position', async () => {
    const h = harness();
    await triageBatch(mskEvent([mskOf(catalogRecord('tombstone'), 33)]), h.deps, OPTIONS);
    expect(h.inserts[0]?.slice(col('source_topic'), col('source_offset') + 1)).toEqual([
      DLQ,
      0,
      '33',
    ]);
  });

  it('an unreadable record whose timestamp no date can hold is timed at now', async () => {
    const h = harness();
    const record = { ...mskOf(catalogRecord('text that is not JSON'), 2), timestamp: -9e15 };
    const result = await triageBatch(mskEvent([record]), h.deps, OPTIONS);
    expect(result.parked).toBe(1);
    expect(h.inserts[0]?.[col('first_failed_at')]).toBe(new Date(T0).toISOString());
  });
});

describe('redrive: nothing in the record stops it or the partition', () => {
  function redrivable(headers: Array<{ key: string; value: string }>, value?: Buffer) {
    return buildDeadLetter({
      value: value ?? Buffer.from('{"eventId":"e1"}'),
      key: 'order-1',
      headers,
      source: { topic: 'order-events', partition: 1, offset: '5' },
      error: new TransientError('timeout'),
      attempts: 1,
      firstFailureAt: new Date(T0 - 60_000),
    });
  }
  const dlqOf = (m: DeadLetterMessage) => {
    const e = encodeDeadLetter(m);
    return mskOf(
      {
        key: e.key,
        value: e.value,
        headers: Object.entries(e.headers).map(([key, value]) => ({ key, value })),
      },
      3,
    );
  };

  it('sends headers named __proto__, constructor, toString as ordinary own headers', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const h = harness();
    const m = redrivable(names.map((key) => ({ key, value: `v-${key}` })));
    const result = await triageBatch(mskEvent([dlqOf(m)]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], redriven: 1 });
    const headers = h.sends[0]?.messages[0]?.headers ?? {};
    for (const key of names) {
      expect(Object.hasOwn(headers, key)).toBe(true);
      expect(String(headers[key])).toBe(`v-${key}`);
    }
  });

  it('parks a record larger than the source topic takes instead of sending it', async () => {
    const h = harness();
    const m = redrivable([], Buffer.alloc(OPTIONS.maxRedriveBytes, 0x61));
    const result = await triageBatch(mskEvent([dlqOf(m)]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1, redriven: 0 });
    expect(h.sends).toEqual([]);
    expect(h.inserts[0]?.[REASON]).toMatch(
      /^too large to redrive: the original record is \d+ bytes; order-events takes at most 1048576$/,
    );
  });

  it('parks what the broker refuses for good (too large, not authorised)', async () => {
    const refusal = Object.assign(
      new Error(
        'The request included a message larger than the max message size the server will accept',
      ),
      {
        name: 'KafkaJSProtocolError',
        type: 'MESSAGE_TOO_LARGE',
        retriable: false,
      },
    );
    const h = harness({ sendError: refusal });
    const result = await triageBatch(mskEvent([dlqOf(redrivable([]))]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1 });
    expect(h.inserts[0]?.[REASON]).toBe(
      'redrive refused: The request included a message larger than the max message size the server will accept',
    );
  });

  it('hands the partition back when the broker is unreachable', async () => {
    const down = Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' });
    const h = harness({ sendError: down });
    const result = await triageBatch(mskEvent([dlqOf(redrivable([]))]), h.deps, OPTIONS);
    expect(result.batchItemFailures).toHaveLength(1);
    expect(h.inserts).toEqual([]);
  });

  it('a failure time a little ahead of now (clock skew) waits no longer than its delay', async () => {
    const h = harness();
    const m = {
      ...redrivable([]),
      firstFailureAt: new Date(T0 + 30_000).toISOString(),
      lastFailureAt: new Date(T0 + 30_000).toISOString(),
    };
    const result = await triageBatch(mskEvent([dlqOf(m)]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], redriven: 1 });
    expect(h.sleeps).toEqual([OPTIONS.baseDelayMs]);
  });
});

describe('PostgreSQL refusing a row never fails the partition; PostgreSQL down does', () => {
  const dataError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const record = () => mskOf(catalogRecord('good schema violation'), 4);

  it('stores it normalised when the record as received is refused', async () => {
    const h = harness({ insertErrors: [dataError('22003', 'value overflows numeric format')] });
    const result = await triageBatch(mskEvent([record()]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1 });
    expect(h.attempts).toHaveLength(2);
    expect(h.inserts[0]?.[REASON]).toBe(
      'policy: SCHEMA_VIOLATION is never redriven; PostgreSQL refused the row (22003: value overflows numeric format): stored normalised',
    );
    expect(h.inserts[0]?.[RAW]).toBeInstanceOf(Buffer);
  });

  it('stores the raw bytes only when that is refused too', async () => {
    const h = harness({
      insertErrors: [dataError('22P02', 'bad json'), dataError('54000', 'index row too big')],
    });
    const result = await triageBatch(mskEvent([record()]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1 });
    const values = h.inserts[0] ?? [];
    expect(values[REASON]).toMatch(
      /: stored normalised; PostgreSQL refused the row \(54000: index row too big\): stored as raw bytes only$/,
    );
    expect(values.slice(col('source_topic'), col('source_offset') + 1)).toEqual([DLQ, 0, '4']);
    expect(values[col('event_id')]).toBeNull();
  });

  it.each([
    [
      'a lost connection',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    ],
    ['a shutdown', dataError('57P01', 'terminating connection due to administrator command')],
  ])('waits out %s and parks the row as it is, never in another form', async (_name, error) => {
    const h = harness({ insertErrors: [error, error] });
    const result = await triageBatch(mskEvent([record()]), h.deps, OPTIONS);
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1 });
    expect(h.attempts).toHaveLength(3);
    expect(new Set(h.attempts.map((a) => JSON.stringify(a)))).toHaveProperty('size', 1);
  });

  it('hands the partition back when the database stays away until the stop margin', async () => {
    const lost = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const h = harness({ insertErrors: Array(1_000).fill(lost) });
    const result = await triageBatch(mskEvent([record()]), h.deps, OPTIONS);
    expect(result.batchItemFailures).toHaveLength(1);
    expect(result.parked).toBe(0);
  });
});

describe('a bug in triage', () => {
  it('still parks the record (raw bytes only) instead of failing the batch', async () => {
    const h = harness({
      random: () => {
        throw new Error('boom');
      },
    });
    const m = buildDeadLetter({
      value: Buffer.from('{}'),
      key: null,
      source: { topic: 'order-events', partition: 0, offset: '1' },
      error: new TransientError('t'),
      attempts: 1,
      firstFailureAt: new Date(T0 - 10_000),
    });
    const e = encodeDeadLetter(m);
    const result = await triageBatch(
      mskEvent([mskOf({ key: e.key, value: e.value, headers: [] }, 9)]),
      h.deps,
      OPTIONS,
    );
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1 });
    expect(h.inserts[0]?.[REASON]).toBe('triage failed: boom');
    expect(h.inserts[0]?.[RAW]).toEqual(e.value);
  });
});
