// The triage mapping's backstop end to end: the real triage handler behind the emulated mapping
// (the dev stage's retries and bisect) cannot park while PostgreSQL is unreachable, so the
// batch is discarded to the backstop, written as Lambda's S3 invocation records under Lambda's
// object keys; `npm run dlq -- recover` then parks every record once PostgreSQL is back.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDeadLetter } from '../../lambdas/shared/dead-letter/message';
import { parseOnFailureRecord, recordsOf } from '../../lambdas/shared/kafka/on-failure-record';
import { DATABASE_OPERATOR_ROLE, loadStageConfig } from '../../lib/config/stage-config';
import { startTriageMapping } from '../../tools/local-runtime/pipeline';
import { deadLetter } from '../unit/dlq-triage/fixtures';
import {
  createTestDatabase,
  createTopic,
  quietLogger,
  sleep,
  type TestDatabase,
  testKafka,
} from './support';

let db: TestDatabase;
let admin: Admin;
let producer: Producer;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('triage_backstop');
  const kafka = testKafka();
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  dir = await mkdtemp(join(tmpdir(), 'triage-backstop-'));
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('the triage backstop', () => {
  it('keeps a discarded batch whole, and recover parks every record of it', async () => {
    const config = loadStageConfig('dev');
    const dlq = await createTopic(admin, 'backstop-dlq', 1);
    const eventIds = [1, 2, 3].map(() => `evt-${randomUUID()}`);
    await producer.send({
      topic: dlq,
      messages: eventIds.map((eventId, n) => {
        const encoded = encodeDeadLetter(
          deadLetter({ errorType: 'SCHEMA_VIOLATION', eventId, sourceOffset: String(500 + n) }),
        );
        return { key: encoded.key, value: encoded.value, headers: encoded.headers };
      }),
    });

    // PostgreSQL unreachable for triage: every park waits until the invocation's time is nearly
    // up (a 12 s timeout here, 300 s deployed), then the mapping's retries run out.
    const triage = await startTriageMapping({
      config: {
        ...config,
        functions: {
          ...config.functions,
          dlqTriage: { ...config.functions.dlqTriage, timeoutSeconds: 12 },
        },
      },
      env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE, PGPORT: '1' },
      logger: quietLogger,
      topic: dlq,
      redriveTopic: `${dlq}-redrive`,
      backstopDirectory: dir,
      groupId: `backstop-${randomUUID().slice(0, 8)}`,
    });
    const deadline = Date.now() + 200_000;
    while (triage.mapping.stats().sentToOnFailure < eventIds.length && Date.now() < deadline) {
      await sleep(200);
    }
    await triage.stop();
    const stats = triage.mapping.stats();
    expect(stats.sentToOnFailure).toBe(eventIds.length);
    expect(stats.malformedResponses).toBe(0);
    expect(triage.counters.parked).toBe(0);

    // Lambda's S3 invocation records, under Lambda's key layout, holding the records themselves.
    const files = await filesUnder(dir);
    expect(files).toHaveLength(stats.onFailureDocuments);
    const recovered: string[] = [];
    for (const file of files) {
      expect(relative(dir, file)).toMatch(
        new RegExp(
          `^aws/lambda/[0-9a-f-]{36}/${dlq}-0/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`,
        ),
      );
      const parsed = parseOnFailureRecord(JSON.parse(await readFile(file, 'utf8')));
      if (!parsed.ok) throw new Error(parsed.error.message);
      expect(parsed.record.requestContext).toMatchObject({
        functionArn: config.functions.dlqTriage.name,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: config.mappings.dlqTriage.retryAttempts + 1,
      });
      recovered.push(...recordsOf(parsed.record).map((r) => r.offset));
    }
    expect(recovered.sort()).toEqual(['0', '1', '2']);

    // PostgreSQL is back: the documented command parks them, as triage would have.
    const { stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'tools/operations/dlq/cli.ts', 'recover', '--dir', dir],
      {
        cwd: process.cwd(),
        env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE },
        timeout: 60_000,
      },
    );
    expect(stderr).toContain(`parked ${eventIds.length}, already parked 0`);
    const { rows } = await db.pool.query<{ event_id: string; error_type: string }>(
      'SELECT event_id, error_type FROM dead_letters WHERE event_id = ANY($1) ORDER BY event_id',
      [eventIds],
    );
    expect(rows).toEqual(
      [...eventIds].sort().map((event_id) => ({ event_id, error_type: 'SCHEMA_VIOLATION' })),
    );
  }, 240_000);
});
