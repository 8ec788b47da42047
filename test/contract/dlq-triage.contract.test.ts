// The real dlq-triage Lambda handler with MSK events in the fixture's shape (the envelope of
// msk-event.json, records of the dead-letter topic), against the real PostgreSQL and broker; its
// partial batch response is checked against the Kafka contract.
import { randomUUID } from 'node:crypto';
import type { Context, MSKEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../integration/support';
import { deadLetter, dlqRecord } from '../unit/dlq-triage/fixtures';
import { fixture, lambdaContext } from './fixtures';
import { kafkaBatchResponseSchema, mskEventSchema } from './shapes';

type Handler = (event: MSKEvent, context: Context) => Promise<unknown>;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('triage_contract');
});

afterAll(async () => {
  await db?.drop();
  vi.unstubAllEnvs();
});

/** Dead letters on two partitions of this run's DLQ topic, in the MSK event's envelope. */
function dlqEvent(topic: string, eventIds: string[] = []): MSKEvent {
  const envelope = fixture('msk-event.json') as unknown as MSKEvent;
  const parked = (n: number) => {
    const eventId = `evt-${randomUUID()}`;
    eventIds.push(eventId);
    return deadLetter({ errorType: 'SCHEMA_VIOLATION', eventId, sourceOffset: String(1_000 + n) });
  };
  const records = [
    dlqRecord(parked(1), topic, 0, 7),
    dlqRecord(parked(2), topic, 0, 8),
    dlqRecord(parked(3), topic, 2, 30),
  ].map((r) => ({ ...r, timestampType: 'CREATE_TIME' as const }));
  const byPartition: MSKEvent['records'] = {};
  for (const r of records) {
    const key = `${r.topic}-${r.partition}`;
    byPartition[key] = [...(byPartition[key] ?? []), r as MSKEvent['records'][string][number]];
  }
  const event = { ...envelope, records: byPartition };
  expect(mskEventSchema.safeParse(event).error?.issues ?? []).toEqual([]);
  return event;
}

/** A fresh handler module (one runtime per module, as per execution environment). */
async function loadHandler(env: Record<string, string>): Promise<Handler> {
  vi.unstubAllEnvs();
  for (const [name, value] of Object.entries({
    ...db.envVars,
    KAFKA_AUTH: 'none',
    POWERTOOLS_SERVICE_NAME: 'dlq-triage',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...env,
  })) {
    vi.stubEnv(name, value);
  }
  vi.resetModules();
  const mod = (await import('../../lambdas/dlq-triage/handler')) as { handler: Handler };
  return mod.handler;
}

describe('dlq-triage handler with MSK events', () => {
  it('parks schema violations and answers with an empty batchItemFailures list', async () => {
    const handler = await loadHandler({});
    const topic = `triage-contract-${randomUUID().slice(0, 8)}`;
    const eventIds: string[] = [];
    const response = await handler(dlqEvent(topic, eventIds), lambdaContext('dlq-triage', 60_000));
    expect(kafkaBatchResponseSchema.safeParse(response).error?.issues ?? []).toEqual([]);
    expect(response).toEqual({ batchItemFailures: [] });
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM dead_letters WHERE event_id = ANY($1)',
      [eventIds],
    );
    expect(rows[0]?.n).toBe(3);
  });

  it('hands each partition back from its first record, as Kafka identifiers, when PostgreSQL is down', async () => {
    const handler = await loadHandler({ PGPORT: '1' });
    const topic = `triage-contract-down-${randomUUID().slice(0, 8)}`;
    // Triage waits for the database until its stop margin (10 s) before the timeout, here 13 s.
    const response = await handler(dlqEvent(topic), lambdaContext('dlq-triage', 13_000));
    const parsed = kafkaBatchResponseSchema.safeParse(response);
    expect(parsed.error?.issues ?? []).toEqual([]);
    const ids = (parsed.data?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    expect(ids.sort((a, b) => a.partition.localeCompare(b.partition))).toEqual([
      { partition: `${topic}-0`, offset: 7 },
      { partition: `${topic}-2`, offset: 30 },
    ]);
  });
});
