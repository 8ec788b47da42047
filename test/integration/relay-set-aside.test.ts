// The relay through its real handler (createRelayHandler) against PostgreSQL and the broker,
// on topics with the stage's max.message.bytes: sends cut to the limit, rows the broker refuses
// for good set aside with their aggregates held, the operator's release and discard
// (tools/operations/outbox actions), and processed_events retention.
import { randomUUID } from 'node:crypto';
import { type Admin, ConfigResourceTypes, type ProducerRecord } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelayHandler } from '../../lambdas/outbox-relay/handler';
import { type RelaySummary, toMessage } from '../../lambdas/outbox-relay/relay';
import { createRelayRuntime, type RelayRuntime } from '../../lambdas/outbox-relay/runtime';
import { parseKafkaEnv, parseRelayEnv, relayEnvironment } from '../../lambdas/shared/env';
import { BATCH_OVERHEAD_BYTES, estimateRecordBytes } from '../../lambdas/shared/kafka/record-size';
import { type OutboxEvent, outboxHeaders } from '../../lambdas/shared/outbox/outbox';
import { relaySettings } from '../../lib/config/function-environment';
import { loadStageConfig } from '../../lib/config/stage-config';
import { lambdaContext } from '../../tools/local-runtime/lambda-context';
import { run } from '../../tools/operations/outbox/actions';
import { parseCommand } from '../../tools/operations/outbox/args';
import {
  appendCommitted,
  consumeUntil,
  createTestDatabase,
  event,
  orderPerAggregate,
  quietLogger,
  type Received,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

const config = loadStageConfig('dev');
const LIMIT = config.kafka.topics.orderEvents.maxMessageBytes;

let db: TestDatabase;
let admin: Admin;

beforeAll(async () => {
  db = await createTestDatabase('relay_aside_it');
  admin = testKafka().admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await db?.drop();
});

/** A topic with the stage's size limit (or another one), as the deploy creates it. */
async function createLimitedTopic(prefix: string, maxMessageBytes = LIMIT): Promise<string> {
  const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: 6,
        replicationFactor: 1,
        configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }],
      },
    ],
    waitForLeaders: true,
  });
  return topic;
}

interface RunningRelay {
  /** Messages per send request, in order. */
  readonly sends: number[];
  readonly telemetry: { published: number; setAside: number; setAsideNow: number[] };
  stop(): Promise<RelaySummary>;
}

/** The relay handler as the schedule invokes it, with the stage's settings plus overrides. */
async function startRelay(
  topic: string,
  overrides: Partial<Record<string, string>> = {},
): Promise<RunningRelay> {
  const telemetry = { published: 0, setAside: 0, setAsideNow: [] as number[] };
  const rt = await createRelayRuntime({
    pgEnv: db.env,
    kafkaEnv: parseKafkaEnv(process.env),
    relayEnv: parseRelayEnv({
      ...relayEnvironment(relaySettings(config)),
      ORDER_EVENTS_TOPIC: topic,
      OUTBOX_POLL_INTERVAL_MS: '200',
      ...overrides,
    }),
    logger: quietLogger,
    telemetry: {
      published: (n) => {
        telemetry.published += n;
      },
      setAside: (n) => {
        telemetry.setAside += n;
      },
      oldestPending: () => undefined,
      setAsideNow: (n) => telemetry.setAsideNow.push(n),
      flush: () => undefined,
    },
  });
  const sends: number[] = [];
  const counted: RelayRuntime = {
    ...rt,
    deps: {
      ...rt.deps,
      producer: {
        send: (record: ProducerRecord) => {
          sends.push(record.messages.length);
          return rt.deps.producer.send(record);
        },
      },
    },
  };
  let running = true;
  const handler = createRelayHandler({ runtime: async () => counted, keepRunning: () => running });
  const done = handler({}, lambdaContext(config.functions.outboxRelay.name, 600_000));
  return {
    sends,
    telemetry,
    async stop() {
      running = false;
      rt.deps.wake.interrupt();
      try {
        return await done;
      } finally {
        await rt.close();
      }
    },
  };
}

/** An event whose data carries `padBytes` of filler. */
function padded(aggregateId: string, n: number, padBytes: number): OutboxEvent {
  return { ...event(aggregateId, n), data: { n, pad: 'x'.repeat(padBytes) } };
}

/** The record size the relay estimates for an appended event. */
function estimateOf(e: OutboxEvent): number {
  return estimateRecordBytes(
    toMessage({
      id: e.eventId,
      seq: '0',
      aggregateId: e.aggregateId,
      eventType: e.eventType,
      payload: e as unknown as Record<string, unknown>,
      headers: outboxHeaders(e),
      createdAt: new Date(),
    }),
  );
}

interface RowState {
  published_at: Date | null;
  set_aside_at: Date | null;
  set_aside_reason: string | null;
  discarded_at: Date | null;
  discard_reason: string | null;
}

async function rowState(id: string): Promise<RowState> {
  const { rows } = await db.pool.query<RowState>(
    `SELECT published_at, set_aside_at, set_aside_reason, discarded_at, discard_reason
       FROM outbox WHERE id = $1`,
    [id],
  );
  if (rows[0] === undefined) throw new Error(`no outbox row ${id}`);
  return rows[0];
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

const isSetAside = (id: string) => async () => (await rowState(id)).set_aside_at !== null;
const isPublished = (id: string) => async () => (await rowState(id)).published_at !== null;

function hasAll(events: readonly OutboxEvent[]) {
  const want = new Set(events.map((e) => e.eventId));
  return (received: readonly Received[]) =>
    new Set(received.filter((r) => want.has(r.eventId)).map((r) => r.eventId)).size >= want.size;
}

/** The operator's command, as `npm run outbox` runs it. */
async function outboxCli(argv: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await run(parseCommand(argv), {
    pool: db.pool,
    output: { out: () => undefined, err: (line) => err.push(line) },
  });
  return { code, err };
}

describe('relay: one row never blocks the others', () => {
  it('sets a 1.4 MB row aside with its reason, holds its order, and publishes three orders written after it promptly', async () => {
    const topic = await createLimitedTopic('aside');
    const relay = await startRelay(topic);
    const big = padded(`order-${topic}-big`, 0, 1_400_000);
    const later = event(big.aggregateId, 1);
    await appendCommitted(db.pool, [big]);
    await appendCommitted(db.pool, [later]);
    const written = Date.now();
    const others: OutboxEvent[] = [];
    for (let i = 0; i < 3; i++) {
      others.push(...(await appendCommitted(db.pool, [event(`order-${topic}-${i}`, 0)])));
    }
    const received = await consumeUntil(topic, hasAll(others), 20_000);
    const lastArrival = Math.max(...received.map((r) => r.receivedAt));
    await waitFor(isSetAside(big.eventId), 10_000);
    const summary = await relay.stop();

    expect(received.map((r) => r.eventId).sort()).toEqual(others.map((e) => e.eventId).sort());
    expect(lastArrival - written).toBeLessThan(5_000);
    const bigRow = await rowState(big.eventId);
    expect(bigRow.published_at).toBeNull();
    expect(bigRow.set_aside_reason).toMatch(
      new RegExp(
        `^MESSAGE_TOO_LARGE: about \\d+ bytes, over the topic's max.message.bytes ${LIMIT}`,
      ),
    );
    // Held: still pending, not set aside itself, never sent.
    expect(await rowState(later.eventId)).toMatchObject({ published_at: null, set_aside_at: null });
    expect(summary).toMatchObject({ setAside: 1, published: 3 });
    expect(relay.telemetry.setAside).toBe(1);
    expect(relay.telemetry.setAsideNow).toContain(1);
  });

  it('sets aside a row the broker refuses inside a chunk; a new producer keeps the rest flowing', async () => {
    // The topic allows less than the relay thinks (a lowered limit): the estimate lets the row
    // through, the broker refuses its partition and writes the others of the same request.
    const topic = await createLimitedTopic('refused', 100_000);
    const relay = await startRelay(topic);
    const before = Array.from({ length: 12 }, (_, i) => event(`order-${topic}-a${i}`, 0));
    const tooBig = padded(`order-${topic}-big`, 0, 200_000);
    const heldBehind = event(tooBig.aggregateId, 1);
    const after = Array.from({ length: 12 }, (_, i) => event(`order-${topic}-b${i}`, 0));
    // One transaction: one claim, one chunk.
    await appendCommitted(db.pool, [...before, tooBig, heldBehind, ...after]);
    await waitFor(isSetAside(tooBig.eventId), 20_000);
    // Sent after the refusal, on partitions the failed request had written to.
    const later = Array.from({ length: 12 }, (_, i) => event(`order-${topic}-a${i}`, 1));
    await appendCommitted(db.pool, later);
    const expected = [...before, ...after, ...later];
    const received = await consumeUntil(topic, hasAll(expected), 30_000);
    const summary = await relay.stop();

    expect((await rowState(tooBig.eventId)).set_aside_reason).toMatch(/^MESSAGE_TOO_LARGE: /);
    expect(await rowState(heldBehind.eventId)).toMatchObject({ published_at: null });
    expect(received.some((r) => r.key === tooBig.aggregateId)).toBe(false);
    // Duplicates of the first request's written partitions are allowed, losses and reordering not.
    expect(new Set(received.map((r) => r.eventId))).toEqual(
      new Set(expected.map((e) => e.eventId)),
    );
    for (const [key, ids] of orderPerAggregate(received)) {
      const want = expected.filter((e) => e.aggregateId === key).map((e) => e.eventId);
      expect(ids).toEqual(want);
    }
    expect(summary.failures).toBe(0);
    expect(summary.setAside).toBe(1);
  });

  it('publishes rows whose total on one partition is over the limit in several requests, in order', async () => {
    const topic = await createLimitedTopic('split');
    const relay = await startRelay(topic);
    const aggregate = `order-${topic}`;
    const rows = Array.from({ length: 25 }, (_, n) => padded(aggregate, n, 100_000)); // ~2.5 MB
    await appendCommitted(db.pool, rows);
    const received = await consumeUntil(topic, hasAll(rows), 30_000);
    const summary = await relay.stop();

    expect(orderPerAggregate(received).get(aggregate)).toEqual(rows.map((e) => e.eventId));
    expect(summary).toMatchObject({ published: 25, setAside: 0, failures: 0 });
    expect(relay.sends.length).toBeGreaterThanOrEqual(3);
    expect(relay.sends.reduce((a, b) => a + b, 0)).toBe(25);
  });

  it('agrees with the broker: a row exactly at the limit by the estimate is accepted, one byte more is set aside', async () => {
    const topic = await createLimitedTopic('edge');
    const target = LIMIT - BATCH_OVERHEAD_BYTES;
    const base = (aggregate: string) => estimateOf(padded(aggregate, 0, 0));
    const fitsId = `order-${topic}-fits`;
    const overId = `order-${topic}-over`;
    const fits = padded(fitsId, 0, target - base(fitsId));
    const over = padded(overId, 0, target - base(overId) + 1);
    expect(estimateOf(fits)).toBe(target);
    expect(estimateOf(over)).toBe(target + 1);

    const relay = await startRelay(topic);
    await appendCommitted(db.pool, [fits]);
    await appendCommitted(db.pool, [over]);
    await waitFor(isPublished(fits.eventId), 20_000);
    await waitFor(isSetAside(over.eventId), 20_000);
    const summary = await relay.stop();
    const received = await consumeUntil(topic, (r) => r.length >= 1, 20_000);

    expect(received.map((r) => r.eventId)).toEqual([fits.eventId]);
    expect(summary.failures).toBe(0);
  });
});

describe('operator actions on set-aside rows', () => {
  it('release, once the limit was raised, publishes the row and then the rows held behind it, in order', async () => {
    const topic = await createLimitedTopic('release');
    let relay = await startRelay(topic);
    const aggregate = `order-${topic}`;
    const [big] = await appendCommitted(db.pool, [padded(aggregate, 0, 1_400_000)]);
    const bigId = big?.eventId as string;
    await waitFor(isSetAside(bigId), 20_000);
    // Written while the row is set aside: held as well.
    const held = await appendCommitted(db.pool, [event(aggregate, 1), event(aggregate, 2)]);
    const other = await appendCommitted(db.pool, [event(`order-${topic}-other`, 0)]);
    await consumeUntil(topic, hasAll(other), 10_000, 0);
    await relay.stop();
    for (const e of held) expect((await rowState(e.eventId)).published_at).toBeNull();

    // The fix: the topic's limit and the relay's setting raised to 2 MiB.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [{ name: 'max.message.bytes', value: '2097152' }],
        },
      ],
    });
    relay = await startRelay(topic, { ORDER_EVENTS_MAX_MESSAGE_BYTES: '2097152' });
    await sleep(500);
    // Until an operator acts, nothing of the aggregate moves.
    expect((await rowState(bigId)).set_aside_at).not.toBeNull();
    expect((await rowState(held[0]?.eventId as string)).published_at).toBeNull();

    const result = await outboxCli(['release', bigId]);
    expect(result.code).toBe(0);
    expect(result.err.join('\n')).toContain('2 held row(s) of the aggregate flow again');
    const all = [big as OutboxEvent, ...held];
    const received = await consumeUntil(topic, hasAll(all), 30_000);
    await relay.stop();

    expect(orderPerAggregate(received).get(aggregate)).toEqual(all.map((e) => e.eventId));
    expect(await rowState(bigId)).toMatchObject({ set_aside_at: null, set_aside_reason: null });
  });

  it('discard never publishes the row, keeps it with both reasons, and lets the held rows go', async () => {
    const topic = await createLimitedTopic('discard');
    const relay = await startRelay(topic);
    const aggregate = `order-${topic}`;
    const [big] = await appendCommitted(db.pool, [padded(aggregate, 0, 1_400_000)]);
    const bigId = big?.eventId as string;
    const held = await appendCommitted(db.pool, [event(aggregate, 1), event(aggregate, 2)]);
    await waitFor(isSetAside(bigId), 20_000);

    const result = await outboxCli(['discard', bigId, '--reason', 'attachment inlined by mistake']);
    expect(result.code).toBe(0);
    const received = await consumeUntil(topic, hasAll(held), 20_000);
    await relay.stop();

    expect(orderPerAggregate(received).get(aggregate)).toEqual(held.map((e) => e.eventId));
    expect(await rowState(bigId)).toMatchObject({
      published_at: null,
      set_aside_at: null,
      set_aside_reason: expect.stringMatching(/^MESSAGE_TOO_LARGE/),
      discarded_at: expect.any(Date),
      discard_reason: 'attachment inlined by mistake',
    });
    // Resolved rows cannot be resolved twice.
    expect((await outboxCli(['release', bigId])).code).toBe(1);
  });
});

describe('processed_events retention', () => {
  it('deletes only rows older than the retention, in batches', async () => {
    const topic = await createLimitedTopic('retention');
    await db.pool.query('TRUNCATE processed_events');
    const insert = (prefix: string, count: number, hoursAgo: number) =>
      db.pool.query(
        `INSERT INTO processed_events (idempotency_key, event_id, processed_at)
         SELECT $1 || g, 'e' || g, now() - make_interval(hours => $3)
           FROM generate_series(1, $2) g`,
        [prefix, count, hoursAgo],
      );
    const hours = config.outbox.processedEventsRetentionHours;
    await insert('old-', 2_500, hours + 1); // three delete batches of at most 1,000
    await insert('recent-', 40, hours - 1);
    await insert('new-', 10, 0);
    const relay = await startRelay(topic); // its first iteration runs retention
    await waitFor(async () => {
      const { rows } = await db.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM processed_events WHERE idempotency_key LIKE 'old-%'`,
      );
      return rows[0]?.n === '0';
    }, 20_000);
    const summary = await relay.stop();

    expect(summary.processedEventsDeleted).toBe(2_500);
    const { rows } = await db.pool.query<{ prefix: string; n: string }>(
      `SELECT split_part(idempotency_key, '-', 1) AS prefix, count(*) AS n
         FROM processed_events GROUP BY 1 ORDER BY 1`,
    );
    expect(rows).toEqual([
      { prefix: 'new', n: '10' },
      { prefix: 'recent', n: '40' },
    ]);
  });
});
