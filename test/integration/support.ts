// Shared helpers for integration tests: a throwaway database per test file (migrated with the
// real migrations), unique topics on the real broker, and a consumer that collects messages.
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type pg from 'pg';
import type { LogSink } from '../../lambdas/shared/log-sink';
import { appendEvent, type OutboxEvent, wakeRelay } from '../../lambdas/shared/outbox/outbox';
import { testKafka } from '../../tools/fixtures/services';

// Expected errors (a stopped broker) would flood the output; assertions report failures.
export const quietLogger: LogSink = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

/** Consumer telemetry that records nothing (tests assert on the returned summaries). */
export const silentConsumerTelemetry = {
  applied: () => undefined,
  duplicate: () => undefined,
  deadLettered: () => undefined,
  chunkDuration: () => undefined,
};

export {
  brokers,
  createTestDatabase,
  createTopic,
  type TestDatabase,
  testKafka,
} from '../../tools/fixtures/services';

export function event(aggregateId: string, n: number): OutboxEvent {
  return {
    eventId: randomUUID(),
    eventType: 'OrderPlaced',
    aggregateId,
    schemaVersion: '1.0.0',
    correlationId: `corr-${aggregateId}-${n}`,
    timestamp: new Date().toISOString(),
    data: { n },
  };
}

/** Appends events in one committed transaction per call; returns them in append order. */
export async function appendCommitted(
  pool: pg.Pool,
  events: OutboxEvent[],
): Promise<OutboxEvent[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const e of events) await appendEvent(client, e);
    await client.query('COMMIT');
    // As the order API does after its commit.
    await wakeRelay(client);
    return events;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

export interface Received {
  readonly key: string;
  readonly eventId: string;
  readonly partition: number;
  readonly offset: string;
  readonly headers: Record<string, string>;
  readonly value: Record<string, unknown>;
  readonly receivedAt: number;
}

/**
 * Reads a topic from the beginning until `until(received)` holds or the deadline passes, then
 * keeps reading for `settleMs` so that unexpected extra messages are seen too.
 */
export async function consumeUntil(
  topic: string,
  until: (received: readonly Received[]) => boolean,
  timeoutMs: number,
  settleMs = 1_000,
): Promise<Received[]> {
  const consumer = testKafka().consumer({ groupId: `it-${randomUUID()}` });
  const received: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
        );
        received.push({
          key: String(message.key),
          eventId: headers.eventId ?? '',
          partition,
          offset: message.offset,
          headers,
          value: JSON.parse(String(message.value)) as Record<string, unknown>,
          receivedAt: Date.now(),
        });
        if (until(received)) done();
      },
    });
    await Promise.race([finished, sleep(timeoutMs)]);
    await sleep(settleMs);
    return [...received];
  } finally {
    await consumer.disconnect();
  }
}

/** Per aggregate, event ids in the order the topic holds them, duplicates removed (first wins). */
export function orderPerAggregate(received: readonly Received[]): Map<string, string[]> {
  const byPartition = [...received].sort(
    (a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset),
  );
  const out = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const r of byPartition) {
    if (seen.has(r.eventId)) continue;
    seen.add(r.eventId);
    out.set(r.key, [...(out.get(r.key) ?? []), r.eventId]);
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Forwards TCP to PostgreSQL until `cut()`: then refuses and resets, like a lost network or a
 * database that went away. `open()` again listens on the same port.
 */
export class CuttableRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    this.server = undefined;
  }
}
