// Triage against the real broker and PostgreSQL: dead letters fed as MSK events, redrives read
// back from the source topic, parked rows read from `dead_letters`. The clock is a fake that
// only sleep advances (sleep also really waits), so the requested delays are exact.
import { Buffer } from 'node:buffer';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTriageRuntime, type TriageRuntime } from '../../lambdas/dlq-triage/runtime';
import {
  type MskRecordLike,
  type TriageSummary,
  triageBatch,
} from '../../lambdas/dlq-triage/triage';
import {
  buildDeadLetter,
  type DeadLetterMessage,
  redriveStateFromHeaders,
} from '../../lambdas/shared/dead-letter/message';
import { parseKafkaEnv, parseTriageEnv } from '../../lambdas/shared/env';
import { TransientError } from '../../lambdas/shared/errors/taxonomy';
import { configuredEnv } from '../fixtures/function-env';
import { deadLetter, dlqRecord, mskEvent, mskRecord } from '../unit/dlq-triage/fixtures';
import {
  consumeUntil,
  createTestDatabase,
  createTopic,
  quietLogger,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

const DLQ = 'order-events-dlq';
const BASE_MS = 200;
const MAX_DELAY_MS = 1_000;
const MAX_REDRIVES = 3;

let db: TestDatabase;
let admin: Admin;
let rt: TriageRuntime;
let dlqOffset = 0;

beforeAll(async () => {
  db = await createTestDatabase('triage_it');
  admin = testKafka().admin();
  await admin.connect();
  rt = await createTriageRuntime({
    pool: db.pool,
    kafkaEnv: parseKafkaEnv(process.env),
    triageEnv: parseTriageEnv(
      configuredEnv({
        TRIAGE_MAX_REDRIVES: String(MAX_REDRIVES),
        TRIAGE_REDRIVE_BASE_DELAY_MS: String(BASE_MS),
        TRIAGE_REDRIVE_MAX_DELAY_MS: String(MAX_DELAY_MS),
      }),
    ),
    logger: quietLogger,
    breakerMetrics: { addMetric: () => undefined },
  });
});

afterAll(async () => {
  await rt?.close();
  await admin?.disconnect();
  await db?.drop();
});

/** Runs triage on one batch with a fake clock; returns what it did and asked to wait. */
async function triage(
  records: readonly MskRecordLike[],
  sourceTopic: string,
  clock: { t: number },
): Promise<{ summary: TriageSummary; sleeps: number[]; steps: string[] }> {
  const sleeps: number[] = [];
  const steps: string[] = [];
  const summary = await triageBatch(
    mskEvent(records),
    {
      ...rt.deps,
      telemetry: {
        received: () => steps.push('received'),
        redriven: () => steps.push('redriven'),
        parked: (m) => steps.push(`parked:${m.errorType}`),
      },
      now: () => clock.t,
      sleep: async (ms) => {
        sleeps.push(ms);
        steps.push(`sleep:${ms}`);
        await sleep(ms);
        clock.t += ms;
      },
      random: () => 0.5,
      remainingMs: () => 60_000,
    },
    { ...rt.options, redriveTopics: [sourceTopic], jitterRatio: 0 },
  );
  return { summary, sleeps, steps };
}

function nextDlqOffset(): number {
  dlqOffset += 1;
  return dlqOffset;
}

async function parkedRows(sourceTopic: string): Promise<Array<Record<string, unknown>>> {
  const { rows } = await db.pool.query(
    `SELECT error_type, redrive_count, source_offset::text AS source_offset, message, payload
       FROM dead_letters WHERE source_topic = $1 ORDER BY id`,
    [sourceTopic],
  );
  return rows;
}

describe('dlq-triage (real Kafka and PostgreSQL)', () => {
  it('redrives a TRANSIENT message after its delay, with growing delays, and parks it past the limit', async () => {
    const source = await createTopic(admin, 'triage-src', 3);
    const clock = { t: Date.now() };
    let message: DeadLetterMessage = deadLetter({
      sourceTopic: source,
      sourceOffset: '100',
      lastFailureAt: new Date(clock.t),
      aggregateId: 'order-redrive',
    });
    const original = Buffer.from(message.original.value ?? '', 'base64');
    const requested: number[] = [];

    for (let round = 0; round < MAX_REDRIVES; round++) {
      const { summary, sleeps, steps } = await triage(
        [dlqRecord(message, DLQ, 0, nextDlqOffset())],
        source,
        clock,
      );
      expect(summary).toMatchObject({ batchItemFailures: [], redriven: 1, parked: 0 });
      expect(steps).toEqual(['received', `sleep:${sleeps[0]}`, 'redriven']);
      requested.push(...sleeps);

      const copies = await consumeUntil(source, (r) => r.length > round, 20_000, 500);
      expect(copies).toHaveLength(round + 1);
      const copy = copies[round];
      if (copy === undefined) throw new Error('redriven record missing');
      expect(copy.key).toBe('order-redrive');
      expect(Buffer.from(JSON.stringify(copy.value)).equals(original)).toBe(true);
      expect(copy.headers).toMatchObject({
        eventId: 'evt-1',
        correlationId: 'corr-1',
        redriveCount: String(round + 1),
        attempts: String(message.attempts),
        firstFailureAt: message.firstFailureAt,
      });

      // The consumer fails on the redriven copy again: its next dead letter continues the history.
      const headers = Object.entries(copy.headers).map(([key, value]) => ({ key, value }));
      const state = redriveStateFromHeaders(headers);
      message = buildDeadLetter({
        value: original,
        key: copy.key,
        headers,
        source: { topic: source, partition: copy.partition, offset: copy.offset },
        error: new TransientError('connection refused'),
        attempts: state.priorAttempts + 3,
        firstFailureAt: state.firstFailureAt ?? new Date(clock.t),
        lastFailureAt: new Date(clock.t),
        redriveCount: state.redriveCount,
      });
      expect(message.redriveCount).toBe(round + 1);
    }
    // Each wait is the full delay for its redrive count: base · 2^n, growing.
    expect(requested).toEqual([BASE_MS, BASE_MS * 2, BASE_MS * 4]);

    const { summary, sleeps } = await triage(
      [dlqRecord(message, DLQ, 0, nextDlqOffset())],
      source,
      clock,
    );
    expect(summary).toMatchObject({ batchItemFailures: [], redriven: 0, parked: 1 });
    expect(sleeps).toEqual([]);
    const rows = await parkedRows(source);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ error_type: 'TRANSIENT', redrive_count: MAX_REDRIVES });
    expect(rows[0]?.message).toEqual(message);
    // Nothing beyond the three redrives reached the source topic.
    expect(await consumeUntil(source, () => false, 3_000, 0)).toHaveLength(MAX_REDRIVES);
  });

  it('parks SCHEMA_VIOLATION, INVALID_TRANSITION and IDEMPOTENCY_CONFLICT at once with the whole message', async () => {
    const source = await createTopic(admin, 'triage-src', 1);
    const clock = { t: Date.now() };
    const messages = (
      ['SCHEMA_VIOLATION', 'INVALID_TRANSITION', 'IDEMPOTENCY_CONFLICT'] as const
    ).map((errorType, i) =>
      deadLetter({
        errorType,
        sourceTopic: source,
        sourceOffset: String(i),
        lastFailureAt: new Date(clock.t),
      }),
    );
    const { summary, sleeps } = await triage(
      messages.map((m) => dlqRecord(m, DLQ, 1, nextDlqOffset())),
      source,
      clock,
    );
    expect(summary).toMatchObject({ batchItemFailures: [], parked: 3, redriven: 0 });
    expect(sleeps).toEqual([]);
    const rows = await parkedRows(source);
    expect(rows.map((r) => [r.error_type, r.source_offset])).toEqual([
      ['SCHEMA_VIOLATION', '0'],
      ['INVALID_TRANSITION', '1'],
      ['IDEMPOTENCY_CONFLICT', '2'],
    ]);
    expect(rows.map((r) => r.message)).toEqual(messages);
    expect(rows[0]?.payload).toMatchObject({ eventId: 'evt-1', eventType: 'OrderPlaced' });
    expect(await consumeUntil(source, () => false, 2_000, 0)).toEqual([]);
  });

  it('parks the same dead-letter record once when it is delivered twice', async () => {
    const source = await createTopic(admin, 'triage-src', 1);
    const clock = { t: Date.now() };
    const record = dlqRecord(
      deadLetter({ errorType: 'INVALID_TRANSITION', sourceTopic: source, sourceOffset: '7' }),
      DLQ,
      2,
      nextDlqOffset(),
    );
    const first = await triage([record], source, clock);
    const again = await triage([record], source, clock);
    expect(first.summary).toMatchObject({ batchItemFailures: [], parked: 1 });
    expect(again.summary).toMatchObject({ batchItemFailures: [], parked: 0, alreadyParked: 1 });
    expect(await parkedRows(source)).toHaveLength(1);
  });

  it('parks another record at a reused source position (a recreated topic), once each', async () => {
    const source = await createTopic(admin, 'triage-src', 1);
    const clock = { t: Date.now() };
    // Two records that both sat at offset 7: the topic was deleted and created again between.
    const before = deadLetter({
      errorType: 'SCHEMA_VIOLATION',
      sourceTopic: source,
      sourceOffset: '7',
      eventId: 'evt-old',
    });
    const after = deadLetter({
      errorType: 'INVALID_TRANSITION',
      sourceTopic: source,
      sourceOffset: '7',
      eventId: 'evt-new',
    });
    const runs = [];
    for (const message of [before, after, after]) {
      runs.push(await triage([dlqRecord(message, DLQ, 2, nextDlqOffset())], source, clock));
    }
    expect(runs.map((r) => [r.summary.parked, r.summary.alreadyParked])).toEqual([
      [1, 0],
      [1, 0],
      [0, 1],
    ]);
    const rows = await parkedRows(source);
    expect(rows.map((r) => [r.source_offset, r.error_type])).toEqual([
      ['7', 'SCHEMA_VIOLATION'],
      ['7', 'INVALID_TRANSITION'],
    ]);
  });

  it('parks garbage bytes as PROCESSING_FAILURE with the exact bytes kept', async () => {
    const clock = { t: Date.now() };
    const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x80]);
    const dlqTopic = `${DLQ}-garbage-${Date.now()}`;
    const { summary } = await triage(
      [mskRecord({ key: Buffer.from('k'), value: garbage }, dlqTopic, 0, 5)],
      'unused',
      clock,
    );
    expect(summary).toMatchObject({ batchItemFailures: [], parked: 1 });
    const rows = await parkedRows(dlqTopic);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ error_type: 'PROCESSING_FAILURE', source_offset: '5' });
    const message = rows[0]?.message as DeadLetterMessage;
    expect(Buffer.from(message.original.value ?? '', 'base64').equals(garbage)).toBe(true);
    expect(message.errorMessage).toContain('NOT_JSON');
  });
});
