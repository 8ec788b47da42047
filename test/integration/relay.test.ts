import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelaySummary, runRelay } from '../../lambdas/outbox-relay/relay';
import {
  createRelayRuntime,
  type RelayRuntime,
  relayOptions,
} from '../../lambdas/outbox-relay/runtime';
import { parseKafkaEnv, parseRelayEnv, relayEnvironment } from '../../lambdas/shared/env';
import { appendEvent, type OutboxEvent } from '../../lambdas/shared/outbox/outbox';
import { relaySettings } from '../../lib/config/function-environment';
import { loadStageConfig } from '../../lib/config/stage-config';
import {
  endpointsEnv,
  ensureServices,
  silentProgress,
  stopKafka,
} from '../../tools/local-runtime/services';
import {
  appendCommitted,
  consumeUntil,
  createTestDatabase,
  createTopic,
  event,
  orderPerAggregate,
  quietLogger,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

const silentTelemetry = {
  published: () => undefined,
  setAside: () => undefined,
  oldestPending: () => undefined,
  setAsideNow: () => undefined,
  flush: () => undefined,
};

/** The relay's settings as the stage writes them, with the test's overrides. */
const stageRelayEnv = (overrides: Partial<Record<string, string>> = {}) =>
  parseRelayEnv({ ...relayEnvironment(relaySettings(loadStageConfig('dev'))), ...overrides });

let db: TestDatabase;
let admin: Admin;

beforeAll(async () => {
  db = await createTestDatabase('relay_it');
  admin = testKafka().admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await db?.drop();
});

async function startRelay(
  topic: string,
  overrides: Partial<Record<string, string>> = {},
): Promise<{ rt: RelayRuntime; stop: () => Promise<RelaySummary> }> {
  const relayEnv = stageRelayEnv({
    ORDER_EVENTS_TOPIC: topic,
    OUTBOX_POLL_INTERVAL_MS: '200',
    ...overrides,
  });
  const rt = await createRelayRuntime({
    pgEnv: db.env,
    kafkaEnv: parseKafkaEnv(process.env),
    relayEnv,
    logger: quietLogger,
    telemetry: silentTelemetry,
  });
  let running = true;
  const done = runRelay(rt.deps, relayOptions(rt.env, { shouldContinue: () => running }));
  return {
    rt,
    async stop() {
      running = false;
      rt.deps.wake.interrupt();
      const summary = await done;
      await rt.close();
      return summary;
    },
  };
}

async function pendingCount(): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL',
  );
  return Number(rows[0]?.n);
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/** Writes `perAggregate` events for each aggregate, interleaved over many transactions. */
async function writeInterleaved(
  aggregates: string[],
  perAggregate: number,
): Promise<OutboxEvent[]> {
  const all: OutboxEvent[] = [];
  for (let n = 0; n < perAggregate; n++) {
    // Several aggregates per transaction, like a service that touches a few orders at once.
    for (let i = 0; i < aggregates.length; i += 5) {
      all.push(
        ...(await appendCommitted(
          db.pool,
          aggregates.slice(i, i + 5).map((a) => event(a, n)),
        )),
      );
    }
  }
  return all;
}

/** Stop condition: every written event has arrived (extras are caught by the settle time). */
function hasAll(events: readonly OutboxEvent[]) {
  const want = new Set(events.map((e) => e.eventId));
  return (received: readonly { eventId: string }[]) =>
    received.filter((r) => want.has(r.eventId)).length >= want.size &&
    new Set(received.map((r) => r.eventId)).size >= want.size;
}

function expectedOrder(events: readonly OutboxEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) out.set(e.aggregateId, [...(out.get(e.aggregateId) ?? []), e.eventId]);
  return out;
}

describe('outbox relay against PostgreSQL and Kafka', () => {
  it('publishes every committed row, in per-aggregate order, keyed by aggregate with the headers', async () => {
    const topic = await createTopic(admin, 'relay-order');
    const aggregates = Array.from({ length: 40 }, (_, i) => `order-${topic}-${i}`);
    const written = await writeInterleaved(aggregates, 25); // 1,000 events
    // A rolled-back transaction's event must never be published.
    const client = await db.pool.connect();
    const ghost = event(aggregates[0] as string, 999);
    await client.query('BEGIN');
    await appendEvent(client, ghost);
    await client.query('ROLLBACK');
    client.release();

    const relay = await startRelay(topic, { OUTBOX_BATCH_SIZE: '100' });
    const received = await consumeUntil(topic, hasAll(written), 60_000);
    await relay.stop();

    expect(received).toHaveLength(written.length);
    expect(new Set(received.map((r) => r.eventId)).size).toBe(written.length);
    expect(received.some((r) => r.eventId === ghost.eventId)).toBe(false);
    expect(orderPerAggregate(received)).toEqual(expectedOrder(written));
    const byId = new Map(written.map((e) => [e.eventId, e]));
    for (const r of received) {
      const e = byId.get(r.eventId);
      expect(r.key).toBe(e?.aggregateId);
      expect(r.headers).toEqual({
        eventId: e?.eventId,
        eventType: e?.eventType,
        schemaVersion: e?.schemaVersion,
        correlationId: e?.correlationId,
      });
      expect(r.value).toEqual(e);
    }
    expect(await pendingCount()).toBe(0);
  });

  it('loses nothing when the relay is SIGKILLed between publish and commit; the batch repeats', async () => {
    const topic = await createTopic(admin, 'relay-kill');
    const aggregates = Array.from({ length: 10 }, (_, i) => `order-${topic}-${i}`);
    const written = await writeInterleaved(aggregates, 30); // 300 events
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures', 'relay-crash.ts')],
      {
        env: {
          ...process.env,
          ...db.envVars,
          ORDER_EVENTS_TOPIC: topic,
          OUTBOX_BATCH_SIZE: '50',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const killedBatch = await new Promise<string[]>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = /PUBLISHED (\S+)\n/.exec(out);
        if (line?.[1]) resolve(line[1].split(','));
      });
      child.once('exit', (code) => reject(new Error(`relay child exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    // The broker has the batch; the database still says pending: nothing was marked.
    expect(killedBatch).toHaveLength(50);
    expect(await pendingCount()).toBe(written.length);

    const relay = await startRelay(topic);
    await waitFor(async () => (await pendingCount()) === 0, 60_000);
    const received = await consumeUntil(topic, (r) => r.length >= written.length + 50, 30_000);
    await relay.stop();

    const counts = new Map<string, number>();
    for (const r of received) counts.set(r.eventId, (counts.get(r.eventId) ?? 0) + 1);
    expect(counts.size).toBe(written.length); // nothing lost
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(duplicated.sort()).toEqual([...killedBatch].sort()); // only the killed batch repeats
    expect(orderPerAggregate(received)).toEqual(expectedOrder(written));
  });

  it('keeps per-aggregate order with two relays running at once', async () => {
    const topic = await createTopic(admin, 'relay-two');
    const aggregates = Array.from({ length: 20 }, (_, i) => `order-${topic}-${i}`);
    const a = await startRelay(topic, { OUTBOX_BATCH_SIZE: '20' });
    const b = await startRelay(topic, { OUTBOX_BATCH_SIZE: '20' });
    const written = await writeInterleaved(aggregates, 40); // written while both relay
    await waitFor(async () => (await pendingCount()) === 0, 60_000);
    const [sa, sb] = [await a.stop(), await b.stop()];
    const received = await consumeUntil(topic, hasAll(written), 30_000);

    expect(sa.published + sb.published).toBe(written.length);
    expect(sa.published).toBeGreaterThan(0);
    expect(sb.published).toBeGreaterThan(0);
    expect(new Set(received.map((r) => r.eventId)).size).toBe(written.length);
    expect(orderPerAggregate(received)).toEqual(expectedOrder(written));
  });

  it('wakes on NOTIFY: a new row is published long before the polling fallback would run', async () => {
    const topic = await createTopic(admin, 'relay-notify');
    const relay = await startRelay(topic, { OUTBOX_POLL_INTERVAL_MS: '60000' });
    await sleep(500); // let it drain and wait
    const [e] = await appendCommitted(db.pool, [event(`order-${topic}`, 1)]);
    const committedAt = Date.now();
    const received = await consumeUntil(topic, (r) => r.length >= 1, 20_000);
    const summary = await relay.stop();

    expect(received.map((r) => r.eventId)).toEqual([e?.eventId]);
    // Within the 60 s polling interval, only a notification could have woken the relay.
    expect(summary.wakes.notify).toBeGreaterThanOrEqual(1);
    console.log(
      `relay NOTIFY latency, commit → consumer: ${(received[0]?.receivedAt ?? 0) - committedAt} ms`,
    );
  });

  it('deletes only published rows older than the retention', async () => {
    await db.pool.query('DELETE FROM outbox');
    const rows = await appendCommitted(
      db.pool,
      Array.from({ length: 4 }, (_, i) => event('order-retention', i)),
    );
    const [oldPublished, recentPublished, oldPending, recentPending] = rows.map((r) => r.eventId);
    await db.pool.query(
      `UPDATE outbox SET published_at = now() - interval '100 hours' WHERE id = $1`,
      [oldPublished],
    );
    await db.pool.query(
      `UPDATE outbox SET published_at = now() - interval '1 hour' WHERE id = $1`,
      [recentPublished],
    );
    await db.pool.query(
      `UPDATE outbox SET created_at = now() - interval '100 hours' WHERE id = $1`,
      [oldPending],
    );
    // One loop iteration with the relay's own retention pass; the publisher has nowhere to
    // send (pending rows stay), so the lock-holding claim is skipped by a standby relay lock.
    const locker = await db.pool.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT pg_advisory_xact_lock($1)', [0x6f757462]);
    const rt = await createRelayRuntime({
      pgEnv: db.env,
      kafkaEnv: parseKafkaEnv(process.env),
      relayEnv: stageRelayEnv({ OUTBOX_PUBLISHED_RETENTION_HOURS: '72' }),
      logger: quietLogger,
      telemetry: silentTelemetry,
    });
    let iterations = 0;
    const summary = await runRelay(
      rt.deps,
      relayOptions(rt.env, { shouldContinue: () => iterations++ === 0 }),
    );
    await rt.close();
    await locker.query('ROLLBACK');
    locker.release();

    expect(summary.deleted).toBe(1);
    const { rows: left } = await db.pool.query<{ id: string }>(
      'SELECT id FROM outbox ORDER BY seq',
    );
    expect(left.map((r) => r.id)).toEqual([recentPublished, oldPending, recentPending]);
    await db.pool.query('DELETE FROM outbox'); // leave no pending rows to the next test
  });

  it('loses nothing when the broker stops and restarts mid-stream', async () => {
    const topic = await createTopic(admin, 'relay-restart');
    const aggregates = Array.from({ length: 10 }, (_, i) => `order-${topic}-${i}`);
    const relay = await startRelay(topic, { OUTBOX_BATCH_SIZE: '50' });
    const before = await writeInterleaved(aggregates, 10);
    await waitFor(async () => (await pendingCount()) === 0, 30_000);

    await stopKafka({ progress: silentProgress });
    const during = await writeInterleaved(aggregates, 10); // committed while the broker is down
    expect(await pendingCount()).toBeGreaterThan(0);
    const endpoints = await ensureServices({ progress: silentProgress });
    Object.assign(process.env, endpointsEnv(endpoints));
    const after = await writeInterleaved(aggregates, 10);

    await waitFor(async () => (await pendingCount()) === 0, 90_000);
    await relay.stop();
    const written = [...before, ...during, ...after];
    const received = await consumeUntil(topic, hasAll(written), 60_000);
    const ids = new Set(written.map((e) => e.eventId));
    const extras = received.filter((r) => !ids.has(r.eventId));
    expect(extras.map((r) => [r.key, r.value])).toEqual([]);
    expect(new Set(received.map((r) => r.eventId)).size).toBe(written.length);
    expect(orderPerAggregate(received)).toEqual(expectedOrder(written));
  });
});
