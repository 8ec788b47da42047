// Hostile dead letters against the real PostgreSQL and broker: every kind of the drill's
// catalogue parks with its type, a reason and (when the row is not the record as received)
// its exact bytes; a redelivery parks nothing twice; what the broker refuses for good is
// parked; only PostgreSQL being unreachable hands a partition back.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTriageRuntime, type TriageRuntime } from '../../lambdas/dlq-triage/runtime';
import { type MskRecordLike, type TriageDeps, triageBatch } from '../../lambdas/dlq-triage/triage';
import { headersFromKafkaJs, type KafkaHeader } from '../../lambdas/shared/dead-letter/headers';
import {
  buildDeadLetter,
  decodeDeadLetter,
  encodeDeadLetter,
} from '../../lambdas/shared/dead-letter/message';
import { parseKafkaEnv, parseTriageEnv } from '../../lambdas/shared/env';
import { TransientError } from '../../lambdas/shared/errors/taxonomy';
import {
  HOSTILE_KINDS,
  type HostileRecord,
  hostileCatalog,
} from '../../tools/verification/drill/drills/hostile-dead-letters';
import { configuredEnv } from '../fixtures/function-env';
import { mskEvent } from '../unit/dlq-triage/fixtures';
import { createTestDatabase, quietLogger, sleep, type TestDatabase, testKafka } from './support';

const DLQ = 'order-events-dlq';
const ONE_MIB = 1_048_576;

let db: TestDatabase;
let admin: Admin;
let rt: TriageRuntime;
let source: string;

beforeAll(async () => {
  db = await createTestDatabase('triage_hostile');
  admin = testKafka().admin();
  await admin.connect();
  // The redrive topic with the stage's size limit, so the broker refuses what it would.
  source = `hostile-src-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: source,
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [{ name: 'max.message.bytes', value: String(ONE_MIB) }],
      },
    ],
  });
  rt = await createTriageRuntime({
    pool: db.pool,
    kafkaEnv: parseKafkaEnv(process.env),
    triageEnv: parseTriageEnv(
      configuredEnv({
        ORDER_EVENTS_TOPIC: source,
        ORDER_EVENTS_MAX_MESSAGE_BYTES: String(ONE_MIB),
      }),
    ),
    logger: quietLogger,
    breakerMetrics: { addMetric: () => undefined },
  });
});

afterAll(async () => {
  await rt?.close();
  await admin?.deleteTopics({ topics: [source] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
});

function mskOf(r: Pick<HostileRecord, 'key' | 'value' | 'headers'>, offset: number, partition = 0) {
  const b64 = (v: Buffer | string) => Buffer.from(v).toString('base64');
  return {
    topic: DLQ,
    partition,
    offset,
    timestamp: Date.now(),
    ...(r.key === null ? {} : { key: b64(r.key) }),
    ...(r.value === null ? {} : { value: b64(r.value) }),
    headers: r.headers.map((h) => ({ [h.key]: h.value === null ? [] : [...Buffer.from(h.value)] })),
  } satisfies MskRecordLike;
}

function triage(records: readonly MskRecordLike[], overrides: Partial<TriageDeps> = {}) {
  return triageBatch(
    mskEvent(records),
    {
      ...rt.deps,
      telemetry: { received() {}, redriven() {}, parked() {} },
      remainingMs: () => 120_000,
      sleep: async () => undefined,
      ...overrides,
    },
    rt.options,
  );
}

interface ParkedRow {
  readonly error_type: string;
  readonly park_reason: string;
  readonly raw_record: Buffer | null;
  readonly message: unknown;
  readonly source_topic: string;
  readonly drill_id: string | null;
}

/** Rows by the input id each record carries among its headers. */
async function parkedById(): Promise<Map<string, ParkedRow>> {
  const { rows } = await db.pool.query<ParkedRow>(
    `SELECT error_type, park_reason, raw_record, message, source_topic,
       (SELECT convert_from(decode(h->>'value', 'base64'), 'UTF8')
          FROM jsonb_array_elements(message->'headers') h
         WHERE h->>'key' = 'drillInputId' LIMIT 1) AS drill_id
       FROM dead_letters`,
  );
  return new Map(rows.map((r) => [r.drill_id ?? '', r]));
}

describe('hostile dead letters (real PostgreSQL and broker)', () => {
  it('parks every kind, all in one batch on three partitions, then nothing twice', async () => {
    const records = hostileCatalog({
      count: 3 * Object.keys(HOSTILE_KINDS).length,
      seed: 11,
      sourceTopic: source,
      tag: 'it',
      now: Date.now(),
    });
    const batch = records.map((r, i) => mskOf(r, 100 + i, i % 3));
    const first = await triage(batch);
    expect(first.batchItemFailures).toEqual([]);
    expect(first).toMatchObject({ received: records.length, parked: records.length, redriven: 0 });

    const parked = await parkedById();
    expect(parked.size).toBe(records.length);
    for (const r of records) {
      const row = parked.get(r.id);
      const where = `${r.kind} (${r.id})`;
      expect(row, where).toBeDefined();
      if (row === undefined) continue;
      expect(row.error_type, where).toBe(r.errorType);
      expect(row.park_reason, where).toMatch(new RegExp(`^${r.reason}: `));
      const changed =
        /^(out of range|salvaged|backstop record|unreadable): /.test(row.park_reason) ||
        /stored with changes|PostgreSQL refused/.test(row.park_reason);
      if (changed && r.value !== null) {
        expect(row.raw_record?.equals(Buffer.from(r.value)), where).toBe(true);
      } else {
        expect(row.raw_record, where).toBeNull();
      }
      expect(decodeDeadLetter(JSON.stringify(row.message)).ok, where).toBe(true);
    }
    // PostgreSQL itself refused the record as received: stored normalised instead.
    const huge = records.find((r) => r.kind === 'number jsonb cannot hold');
    expect(parked.get(huge?.id ?? '')?.park_reason).toMatch(
      /PostgreSQL refused the row \(22003: value overflows numeric format\): stored normalised$/,
    );

    // Redelivered (a retried batch): every record found parked, none parked again.
    const again = await triage(batch);
    expect(again).toMatchObject({
      batchItemFailures: [],
      parked: 0,
      alreadyParked: records.length,
    });
    expect((await parkedById()).size).toBe(records.length);
  });

  it('redrives headers named __proto__ or constructor, or without a value, through the broker', async () => {
    const names = ['__proto__', 'constructor', 'toString'];
    const message = buildDeadLetter({
      value: Buffer.from(JSON.stringify({ eventId: randomUUID() })),
      key: 'order-proto',
      // And one without a value, which kafkajs cannot send as null.
      headers: [
        ...names.map((key) => ({ key, value: `v-${key}` })),
        { key: 'nothing', value: null },
      ],
      source: { topic: source, partition: 0, offset: '1' },
      error: new TransientError('timeout'),
      attempts: 1,
      firstFailureAt: new Date(Date.now() - 60_000),
    });
    const e = encodeDeadLetter(message);
    const headers = Object.entries(e.headers).map(([key, value]) => ({ key, value }));
    const result = await triage([mskOf({ key: e.key, value: e.value, headers }, 900)]);
    expect(result).toMatchObject({ batchItemFailures: [], redriven: 1 });
    const copies = await readAll(source, 1);
    const got = copies[0]?.filter((h) => names.includes(h.key));
    expect(got?.map((h) => [h.key, Buffer.from(h.value ?? '').toString()])).toEqual(
      names.map((key) => [key, `v-${key}`]),
    );
    expect(copies[0]?.find((h) => h.key === 'nothing')?.value).toEqual(Buffer.alloc(0));
  });

  it('parks a record the broker refuses for good, with the broker’s reason', async () => {
    // Past the size check (a larger limit than the topic's): the broker has the last word.
    const message = buildDeadLetter({
      value: Buffer.alloc(ONE_MIB + 10_000, 0x61),
      key: 'order-big',
      source: { topic: source, partition: 0, offset: '2' },
      error: new TransientError('timeout'),
      attempts: 1,
      firstFailureAt: new Date(Date.now() - 60_000),
    });
    const e = encodeDeadLetter(message);
    const result = await triageBatch(
      mskEvent([mskOf({ key: e.key, value: e.value, headers: [] }, 901)]),
      {
        ...rt.deps,
        telemetry: { received() {}, redriven() {}, parked() {} },
        remainingMs: () => 120_000,
        sleep: async () => undefined,
      },
      { ...rt.options, maxRedriveBytes: 10 * ONE_MIB },
    );
    expect(result).toMatchObject({ batchItemFailures: [], parked: 1, redriven: 0 });
    const { rows } = await db.pool.query<{ park_reason: string }>(
      `SELECT park_reason FROM dead_letters WHERE aggregate_id IS NULL AND source_offset = 2
         AND source_topic = $1`,
      [source],
    );
    expect(rows[0]?.park_reason).toMatch(/^redrive refused: .*(larger|too large|size)/i);
  });

  it('waits for an unreachable PostgreSQL while it has time, then hands the partition back, parking nothing', async () => {
    const down = new pg.Pool({
      user: db.env.user,
      database: db.env.database,
      host: '127.0.0.1',
      port: 1,
      connectionTimeoutMillis: 500,
    });
    try {
      const record = hostileCatalog({
        count: 1,
        seed: 1,
        sourceTopic: source,
        tag: 'down',
        now: Date.now(),
      })[0] as HostileRecord;
      // A fake clock: each wait spends the invocation's time.
      let left = 60_000;
      const waits: number[] = [];
      const result = await triage([mskOf(record, 950)], {
        db: down,
        remainingMs: () => left,
        sleep: async (ms) => {
          waits.push(ms);
          left -= ms;
        },
      });
      expect(waits.length).toBeGreaterThan(5);
      expect(left).toBeGreaterThan(rt.options.stopBeforeTimeoutMs);
      expect(result.parked).toBe(0);
      expect(result.batchItemFailures).toEqual([
        { itemIdentifier: { partition: `${DLQ}-0`, offset: 950 } },
      ]);
    } finally {
      await down.end();
    }
  });
});

/** Every record of a topic, headers as kafkajs decodes them (through headersFromKafkaJs). */
async function readAll(topic: string, count: number): Promise<KafkaHeader[][]> {
  const consumer = testKafka().consumer({ groupId: `hostile-${randomUUID()}` });
  const out: KafkaHeader[][] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(headersFromKafkaJs(message.headers));
      },
    });
    const deadline = Date.now() + 20_000;
    while (out.length < count && Date.now() < deadline) await sleep(100);
    return out;
  } finally {
    await consumer.disconnect();
  }
}
