// `npm run dlq` against the real PostgreSQL and broker: rows parked with real dead-letter
// messages; list/show/redrive/discard/recover driven through the actions with the CLI's real
// dependencies, and spawned CLIs for the no-terminal refusal and for recover.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Admin, IHeaders } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildDeadLetter,
  DEAD_LETTER_ROW_COLUMNS,
  type DeadLetterMessage,
  deadLetterRowValues,
  encodeDeadLetter,
  toDeadLetterRow,
  toRedriveRecord,
} from '../../../../lambdas/shared/dead-letter/message';
import { parseKafkaEnv } from '../../../../lambdas/shared/env';
import {
  ProcessingFailureError,
  SchemaViolationError,
  TransientError,
} from '../../../../lambdas/shared/errors/taxonomy';
import {
  buildOnFailureRecord,
  type OnFailureEventInput,
  onFailureObjectKey,
} from '../../../../lambdas/shared/kafka/on-failure-record';
import { DATABASE_OPERATOR_ROLE, loadStageConfig } from '../../../../lib/config/stage-config';
import { type DlqDeps, run } from '../../../../tools/operations/dlq/actions';
import { parseCommand } from '../../../../tools/operations/dlq/args';
import {
  type KafkaRedriveProducer,
  kafkaRedriveProducer,
  openOnFailureSource,
  poolDb,
  toKafkaJsHeaders,
} from '../../../../tools/operations/dlq/runtime';
import { HOSTILE_KINDS } from '../../../../tools/verification/drill/drills/hostile-dead-letters';
import {
  createTestDatabase,
  createTopic,
  quietLogger,
  sleep,
  type TestDatabase,
  testKafka,
} from '../../../integration/support';

let db: TestDatabase;
let admin: Admin;
let topic: string;
let producer: KafkaRedriveProducer;
let offset = 0;

beforeAll(async () => {
  db = await createTestDatabase('dlqcli_it');
  admin = testKafka().admin();
  await admin.connect();
  topic = await createTopic(admin, 'dlqcli', 1);
  producer = kafkaRedriveProducer(parseKafkaEnv(process.env), quietLogger);
});

afterAll(async () => {
  await producer?.close();
  await admin?.disconnect();
  await db?.drop();
});

interface ParkOptions {
  readonly error?: unknown;
  readonly aggregateId?: string;
  readonly parkedAgoMs?: number;
  /** false: a row as parked before migration 0002 (no message). */
  readonly withMessage?: boolean;
  readonly value?: Buffer;
  readonly headers?: Array<{ key: string; value: Buffer | string | null }>;
}

async function park(
  options: ParkOptions = {},
): Promise<{ id: string; message: DeadLetterMessage }> {
  const aggregateId = options.aggregateId ?? `order-${randomUUID()}`;
  const value =
    options.value ??
    Buffer.from(
      JSON.stringify({ eventId: randomUUID(), eventType: 'OrderPlaced', aggregateId, data: {} }),
    );
  const message = buildDeadLetter({
    value,
    key: aggregateId,
    headers: options.headers ?? [{ key: 'correlationId', value: `corr-${aggregateId}` }],
    source: { topic, partition: 0, offset: offset++ },
    error: options.error ?? new SchemaViolationError('schema says no'),
    attempts: 2,
    firstFailureAt: new Date(Date.now() - 60_000),
    context: { aggregateId },
  });
  const row = deadLetterRowValues(toDeadLetterRow(message));
  const n = DEAD_LETTER_ROW_COLUMNS.length;
  const placeholders = DEAD_LETTER_ROW_COLUMNS.map((c, i) =>
    c === 'payload' ? `$${i + 1}::jsonb` : `$${i + 1}`,
  );
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO dead_letters (${DEAD_LETTER_ROW_COLUMNS.join(', ')}, message, parked_at)
     VALUES (${placeholders.join(', ')}, $${n + 1}::jsonb,
       now() - make_interval(secs => $${n + 2}::double precision))
     RETURNING id::text AS id`,
    [
      ...row,
      options.withMessage === false ? null : JSON.stringify(message),
      (options.parkedAgoMs ?? 0) / 1000,
    ],
  );
  return { id: rows[0]?.id ?? '', message };
}

async function statusOf(id: string): Promise<{ status: string; resolved: boolean }> {
  const { rows } = await db.pool.query<{ status: string; resolved: boolean }>(
    'SELECT status, resolved_at IS NOT NULL AS resolved FROM dead_letters WHERE id = $1',
    [id],
  );
  if (rows[0] === undefined) throw new Error(`row ${id} is gone`);
  return rows[0];
}

async function dlq(argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const deps: DlqDeps = {
    db: poolDb(db.pool),
    producer,
    output: { out: (l) => stdout.push(l), err: (l) => stderr.push(l) },
    interactive: false,
    redriveTopics: new Set([topic]),
    confirm: () => Promise.reject(new Error('nobody to ask in a test')),
    now: () => Date.now(),
    sleep,
    openSource: openOnFailureSource,
  };
  const code = await run(parseCommand(argv), deps);
  return { code, stdout, stderr };
}

async function listedIds(argv: string[]): Promise<string[]> {
  const result = await dlq(['list', '--json', '--limit', '1000', ...argv]);
  expect(result.code).toBe(0);
  return result.stdout.map((l) => (JSON.parse(l) as { id: string }).id);
}

async function topicEnd(): Promise<string> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets[0]?.high ?? '';
}

interface Consumed {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

async function consume(count: number, timeoutMs = 30_000): Promise<Consumed[]> {
  const consumer = testKafka().consumer({ groupId: `dlqcli-it-${randomUUID()}` });
  const received: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ key: message.key, value: message.value, headers: message.headers ?? {} });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (received.length < count && Date.now() < deadline) await sleep(100);
    await sleep(1_000); // extra messages would show up here
    return received;
  } finally {
    await consumer.disconnect();
  }
}

describe('dlq CLI', () => {
  it('list filters by type, age and aggregate', async () => {
    const aggregate = `agg-${randomUUID()}`;
    const recentTransient = await park({
      error: new TransientError('timeout'),
      parkedAgoMs: 10 * 60_000,
    });
    const threeHoursSchema = await park({ aggregateId: aggregate, parkedAgoMs: 3 * 3_600_000 });
    const twoDaysFailure = await park({
      aggregateId: aggregate,
      error: new ProcessingFailureError('boom'),
      parkedAgoMs: 2 * 86_400_000,
    });
    const ours = [recentTransient.id, threeHoursSchema.id, twoDaysFailure.id];
    const mine = (ids: string[]) => ids.filter((id) => ours.includes(id));

    expect(mine(await listedIds([]))).toEqual([
      twoDaysFailure.id,
      threeHoursSchema.id,
      recentTransient.id,
    ]);
    expect(mine(await listedIds(['--type', 'TRANSIENT']))).toEqual([recentTransient.id]);
    expect(mine(await listedIds(['--older-than', '1h']))).toEqual([
      twoDaysFailure.id,
      threeHoursSchema.id,
    ]);
    expect(mine(await listedIds(['--older-than', '1h', '--newer-than', '1d']))).toEqual([
      threeHoursSchema.id,
    ]);
    expect(await listedIds(['--aggregate', aggregate])).toEqual([
      twoDaysFailure.id,
      threeHoursSchema.id,
    ]);
    expect(await listedIds(['--aggregate', aggregate, '--status', 'REPLAYED'])).toEqual([]);

    const table = await dlq(['list', '--aggregate', aggregate]);
    expect(table.stdout[0]).toMatch(/^ID\s+PARKED_AT\s+ERROR_TYPE/);
    expect(table.stdout[1]).toMatch(
      new RegExp(
        `^${twoDaysFailure.id}\\s+\\S+\\s+PROCESSING_FAILURE\\s+OrderPlaced\\s+${aggregate}\\s+2\\s+0\\s+boom$`,
      ),
    );
  });

  it('show prints the decoded original value and headers', async () => {
    const { id, message } = await park({
      headers: [
        { key: 'correlationId', value: 'corr-show' },
        { key: 'trace', value: Buffer.from([0xff, 0x00, 0xfe]) },
      ],
    });
    const result = await dlq(['show', id]);
    expect(result.code).toBe(0);
    const text = result.stdout.join('\n');
    expect(text).toContain(`aggregate_id:    ${message.aggregateId}`);
    expect(text).toContain('  correlationId: corr-show');
    expect(text).toContain('  trace: base64:/wD+');
    expect(text).toContain('original value (utf8):');
    expect(text).toContain(`"aggregateId": "${message.aggregateId}"`);

    const json = await dlq(['show', id, '--json']);
    const parsed = JSON.parse(json.stdout[0] ?? '') as {
      decoded: { value: { encoding: string; text: string } };
    };
    expect(parsed.decoded.value.encoding).toBe('utf8');
    expect(JSON.parse(parsed.decoded.value.text)).toEqual(message.original.json);
  });

  it('a dry-run redrive produces nothing and changes nothing', async () => {
    const a = await park();
    const b = await park();
    const before = await topicEnd();
    const result = await dlq(['redrive', a.id, b.id, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toHaveLength(2);
    expect(result.stdout[0]).toContain(`would redrive #${a.id}: topic=${topic}`);
    expect(await statusOf(a.id)).toEqual({ status: 'PARKED', resolved: false });
    expect(await statusOf(b.id)).toEqual({ status: 'PARKED', resolved: false });
    expect(await topicEnd()).toBe(before);
  });

  it('redrive produces the original key, value and headers and marks the rows REPLAYED', async () => {
    const aggregate = `agg-${randomUUID()}`;
    const json = await park({ aggregateId: aggregate, error: new TransientError('timeout') });
    const binary = await park({
      aggregateId: aggregate,
      error: new TransientError('timeout'),
      value: Buffer.from([0x00, 0xff, 0x10]),
      headers: [
        { key: 'correlationId', value: 'corr-bin' },
        { key: 'dup', value: 'one' },
        { key: 'dup', value: 'two' },
      ],
    });
    const legacy = await park({
      aggregateId: aggregate,
      error: new TransientError('timeout'),
      withMessage: false,
    });
    const before = Number(await topicEnd());

    const result = await dlq(['redrive', '--aggregate', aggregate, '--yes', '--rate', '50']);
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([
      `redriven #${json.id} → ${topic}`,
      `redriven #${binary.id} → ${topic}`,
    ]);
    expect(result.stderr.join('\n')).toContain(`#${legacy.id}: parked before migration 0002`);

    expect(await statusOf(json.id)).toEqual({ status: 'REPLAYED', resolved: true });
    expect(await statusOf(binary.id)).toEqual({ status: 'REPLAYED', resolved: true });
    expect(await statusOf(legacy.id)).toEqual({ status: 'PARKED', resolved: false });

    expect(Number(await topicEnd())).toBe(before + 2);
    const consumed = (await consume(before + 2)).slice(before);
    const expected = [json.message, binary.message].map((m) => {
      const r = toRedriveRecord(m);
      return { key: r.key, value: r.value, headers: toKafkaJsHeaders(r.headers) };
    });
    expect(consumed).toEqual(expected);
    // Spelled out independently of toKafkaJsHeaders: a repeated header arrives as both values,
    // and the failure history travels along (redriveCount was 0 when parked).
    expect(consumed[1]).toEqual({
      key: Buffer.from(aggregate),
      value: Buffer.from([0x00, 0xff, 0x10]),
      headers: {
        correlationId: Buffer.from('corr-bin'),
        dup: [Buffer.from('one'), Buffer.from('two')],
        redriveCount: Buffer.from('1'),
        attempts: Buffer.from('2'),
        firstFailureAt: Buffer.from(binary.message.firstFailureAt),
      },
    });

    // A second redrive of the same rows finds nothing PARKED: nothing is sent twice.
    const again = await dlq(['redrive', json.id, '--yes']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`dlq: #${json.id}: already REPLAYED; skipped`);
    expect(Number(await topicEnd())).toBe(before + 2);
  });

  it('discard marks rows DISCARDED and keeps them', async () => {
    const a = await park();
    const b = await park();
    const result = await dlq(['discard', a.id, b.id, '--yes']);
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([`discarded #${a.id}`, `discarded #${b.id}`]);
    expect(await statusOf(a.id)).toEqual({ status: 'DISCARDED', resolved: true });
    expect(await statusOf(b.id)).toEqual({ status: 'DISCARDED', resolved: true });
  });

  it('the CLI refuses a bulk action without --yes and without a terminal (exit 2)', async () => {
    const aggregate = `agg-${randomUUID()}`;
    const a = await park({ aggregateId: aggregate });
    let failure: { code?: number; stderr?: string } | undefined;
    try {
      await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'tools/operations/dlq/cli.ts', 'discard', '--aggregate', aggregate],
        {
          cwd: process.cwd(),
          env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE },
          timeout: 60_000,
        },
      );
    } catch (error) {
      failure = error as { code?: number; stderr?: string };
    }
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(
      /refusing to discard several messages without confirmation.*--yes/,
    );
    expect(await statusOf(a.id)).toEqual({ status: 'PARKED', resolved: false });

    // The same command with --yes goes through the real CLI end to end.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'tools/operations/dlq/cli.ts',
        'discard',
        '--aggregate',
        aggregate,
        '--yes',
      ],
      {
        cwd: process.cwd(),
        env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain(`discarded #${a.id}`);
    expect(await statusOf(a.id)).toEqual({ status: 'DISCARDED', resolved: true });
  });
});

describe('dlq recover (on-failure documents in a directory, as the local emulator writes them)', () => {
  const DLQ_TOPIC = `order-events-dlq-it-${randomUUID().slice(0, 8)}`;
  const MAPPING = randomUUID();
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dlq-recover-it-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A dead letter of `topic` as the consumer would write it to the dead-letter topic. */
  function deadLetterRecord(
    aggregateId: string,
    sourceOffset: number,
    error: unknown,
    dlqOffset: number,
  ) {
    const message = buildDeadLetter({
      value: Buffer.from(
        JSON.stringify({ eventId: randomUUID(), eventType: 'OrderPaid', aggregateId, data: {} }),
      ),
      key: aggregateId,
      headers: [{ key: 'correlationId', value: `corr-${aggregateId}` }],
      source: { topic, partition: 0, offset: sourceOffset },
      error,
      attempts: 3,
      firstFailureAt: new Date(Date.now() - 120_000),
      context: { aggregateId },
    });
    const encoded = encodeDeadLetter(message);
    return {
      message,
      record: {
        topic: DLQ_TOPIC,
        partition: 1,
        offset: dlqOffset,
        timestamp: Date.now() - 60_000,
        timestampType: 'CREATE_TIME',
        key: encoded.key?.toString('base64') ?? null,
        value: encoded.value.toString('base64'),
        headers: Object.entries(encoded.headers).map(([k, v]) => ({ [k]: [...Buffer.from(v)] })),
      },
    };
  }

  async function writeDocument(
    records: OnFailureEventInput['records'][string],
    at: Date,
    into: string = dir,
  ) {
    const doc = buildOnFailureRecord({
      event: {
        eventSource: 'aws:kafka',
        eventSourceArn: 'local',
        bootstrapServers: '127.0.0.1:9092',
        records: { [`${DLQ_TOPIC}-1`]: records },
      },
      functionArn: 'dlq-triage',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
      error: new Error('PostgreSQL unreachable'),
      timestamp: at,
    });
    const key = onFailureObjectKey({
      mappingUuid: MAPPING,
      shard: `${DLQ_TOPIC}-1`,
      timestamp: at,
    });
    await mkdir(join(into, key, '..'), { recursive: true });
    await writeFile(join(into, key), JSON.stringify(doc));
    return key;
  }

  async function recoveredRows() {
    const { rows } = await db.pool.query<{
      id: string;
      status: string;
      error_type: string;
      source_topic: string;
      source_offset: string;
      aggregate_id: string | null;
      message: DeadLetterMessage;
    }>(
      `SELECT id::text AS id, status, error_type, source_topic, source_offset::text AS source_offset,
         aggregate_id, message FROM dead_letters
       WHERE source_topic IN ($1, $2) AND (aggregate_id LIKE 'rec-%' OR source_topic = $2)
       ORDER BY id`,
      [topic, DLQ_TOPIC],
    );
    return rows;
  }

  it('parks each record as triage would, twice run parks nothing twice, then redrive works', async () => {
    const tag = randomUUID().slice(0, 8);
    const transient = deadLetterRecord(`rec-${tag}-a`, 9_001, new TransientError('timeout'), 40);
    const schema = deadLetterRecord(
      `rec-${tag}-b`,
      9_002,
      new SchemaViolationError('data.amount: Required'),
      41,
    );
    const failure = deadLetterRecord(`rec-${tag}-c`, 9_003, new ProcessingFailureError('boom'), 42);
    const garbage = {
      topic: DLQ_TOPIC,
      partition: 1,
      offset: 43,
      timestamp: Date.now() - 60_000,
      timestampType: 'CREATE_TIME',
      key: null,
      value: Buffer.from('not a dead letter').toString('base64'),
      headers: [],
    };
    // Two discarded batches; the second overlaps the first (a retried batch), so 41 is in both.
    const first = await writeDocument(
      [transient.record, schema.record],
      new Date(Date.now() - 30_000),
    );
    await writeDocument([schema.record, failure.record, garbage], new Date(Date.now() - 10_000));

    const dry = await dlq(['recover', '--dir', dir, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toHaveLength(5);
    expect(dry.stdout[2]).toMatch(
      new RegExp(`^already parked \\(earlier in this run\\) ${DLQ_TOPIC}/1@41 `),
    );
    expect(dry.stdout[0]).toMatch(new RegExp(`^would park ${DLQ_TOPIC}/1@40 \\[${first}\\]`));
    expect(dry.stderr.at(-1)).toMatch(
      /records 5 .* would park 4, already parked 1; nothing changed$/,
    );
    expect(await recoveredRows()).toEqual([]);

    const once = await dlq(['recover', '--dir', dir]);
    expect(once.code).toBe(0);
    expect(once.stderr.at(-1)).toBe(
      'dlq: recover: documents read 2 (unreadable 0), records 5 (not dead letters 1), parked 4, already parked 1',
    );
    const rows = await recoveredRows();
    expect(rows.map((r) => [r.error_type, r.source_topic, r.source_offset, r.status])).toEqual([
      ['TRANSIENT', topic, '9001', 'PARKED'],
      ['SCHEMA_VIOLATION', topic, '9002', 'PARKED'],
      ['PROCESSING_FAILURE', topic, '9003', 'PARKED'],
      // Not a dead letter: parked around its bytes, its source its own dead-letter position.
      ['PROCESSING_FAILURE', DLQ_TOPIC, '43', 'PARKED'],
    ]);
    // The whole message as received, so redrive is faithful.
    expect(rows[0]?.message).toEqual(JSON.parse(JSON.stringify(transient.message)));
    expect(rows[3]?.message.original.value).toBe(garbage.value);

    // The real CLI, end to end: the same documents again park nothing.
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'tools/operations/dlq/cli.ts', 'recover', '--dir', dir],
      {
        cwd: process.cwd(),
        env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE },
        timeout: 60_000,
      },
    );
    expect(
      stdout
        .trim()
        .split('\n')
        .every((l) => l.startsWith('already parked #')),
    ).toBe(true);
    expect(stderr).toContain('parked 0, already parked 5');
    expect(await recoveredRows()).toEqual(rows);

    // The operator then works on them with the existing commands.
    const listed = await listedIds(['--aggregate', `rec-${tag}-a`]);
    expect(listed).toEqual([rows[0]?.id]);
    const before = Number(await topicEnd());
    const redriven = await dlq(['redrive', rows[0]?.id ?? '', '--yes']);
    expect(redriven.code).toBe(0);
    expect(redriven.stdout).toEqual([`redriven #${rows[0]?.id} → ${topic}`]);
    expect(Number(await topicEnd())).toBe(before + 1);
    expect(await statusOf(rows[0]?.id ?? '')).toEqual({ status: 'REPLAYED', resolved: true });
  });

  it('recovers hostile records with reasons and raw bytes; redrive restores only to declared topics', async () => {
    const tag = randomUUID().slice(0, 8);
    const build = (kind: string, i: number) => {
      const r = HOSTILE_KINDS[kind]?.({
        id: `rec-${tag}-${i}`,
        sourceTopic: topic,
        offset: 9_500 + i,
        now: Date.now(),
        random: () => 0.5,
      });
      if (r === undefined) throw new Error(kind);
      const b64 = (v: Buffer | string) => Buffer.from(v).toString('base64');
      return {
        hostile: r,
        record: {
          topic: DLQ_TOPIC,
          partition: 1,
          offset: 200 + i,
          timestamp: Date.now() - 60_000,
          timestampType: 'CREATE_TIME',
          key: r.key === null ? null : b64(r.key),
          value: r.value === null ? null : b64(r.value),
          headers: r.headers.map((h) => ({
            [h.key]: h.value === null ? [] : [...Buffer.from(h.value)],
          })),
        },
      };
    };
    // What made triage give up on this batch before: it could not park these.
    const kinds = [
      'far-future failure time',
      'NUL in text columns and payload',
      'raw record from the consumer mapping backstop',
      'text that is not JSON',
    ];
    const built = kinds.map(build);
    const own = await mkdtemp(join(tmpdir(), 'dlq-recover-hostile-'));
    const key = await writeDocument(
      built.map((b) => b.record),
      new Date(Date.now() - 5_000),
      own,
    );
    const result = await dlq(['recover', '--dir', own]);
    await rm(own, { recursive: true, force: true });
    expect(result.code).toBe(0);
    expect(result.stderr.at(-1)).toBe(
      'dlq: recover: documents read 1 (unreadable 0), records 4 (not dead letters 2), parked 4, already parked 0',
    );
    const { rows } = await db.pool.query<{
      id: string;
      source_topic: string;
      park_reason: string;
      raw_record: Buffer | null;
    }>(
      `SELECT id::text AS id, source_topic, park_reason, raw_record FROM dead_letters
        WHERE strpos(park_reason, $1) > 0 ORDER BY id`,
      [`(${key}, RetryAttemptsExhausted)`],
    );
    expect(rows.map((r) => r.park_reason.split(':')[0])).toEqual([
      'out of range',
      'recovered',
      'backstop record',
      'unreadable',
    ]);
    for (const [i, row] of rows.entries()) {
      expect(row.raw_record?.equals(Buffer.from(built[i]?.hostile.value ?? ''))).toBe(true);
    }
    // The raw backstop record kept its origin; the garbage sits at its dead-letter position.
    expect(rows.map((r) => r.source_topic)).toEqual([topic, topic, topic, DLQ_TOPIC]);
    const [outOfRange, , restorable, garbage] = rows;
    const shown = await dlq(['show', outOfRange?.id ?? '']);
    expect(shown.stdout.find((l) => l.startsWith('park_reason:'))).toMatch(
      /^park_reason: +out of range: lastFailureAt 9999-12-31T23:59:59\.999Z is after now \+ 60 s; /,
    );
    expect(shown.stdout.find((l) => l.startsWith('raw_record:'))).toMatch(
      new RegExp(`^raw_record: +${outOfRange?.raw_record?.length} bytes: `),
    );

    const before = Number(await topicEnd());
    const restored = await dlq(['redrive', restorable?.id ?? '']);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toEqual([`redriven #${restorable?.id} → ${topic}`]);
    const copies = await consume(Number(await topicEnd()));
    const copy = copies.at(-1);
    expect(copy?.value?.equals(Buffer.from(built[2]?.hostile.value ?? ''))).toBe(true);
    expect(Object.keys(copy?.headers ?? {}).filter((h) => h.startsWith('esm-'))).toEqual([]);
    expect(Number(await topicEnd())).toBe(before + 1);

    const refused = await dlq(['redrive', garbage?.id ?? '']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.join('\n')).toContain(
      `dlq: #${garbage?.id}: refused, nothing sent, row left PARKED: source topic "${DLQ_TOPIC}" is not a topic this stage redrives to (${topic})`,
    );
    expect(await statusOf(garbage?.id ?? '')).toEqual({ status: 'PARKED', resolved: false });
    expect(Number(await topicEnd())).toBe(before + 1);
  });

  it('the real CLI redrives only to the stage config’s source topic', async () => {
    const stageTopic = loadStageConfig('dev').kafka.topics.orderEvents.name;
    // A row whose source is this test's topic: not a topic the dev stage declares.
    const row = await park({ aggregateId: `agg-${randomUUID()}` });
    const before = await topicEnd();
    let failure: { code?: number; stderr?: string } | undefined;
    try {
      await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'tools/operations/dlq/cli.ts', 'redrive', row.id],
        {
          cwd: process.cwd(),
          env: { ...process.env, ...db.envVars, PGUSER: DATABASE_OPERATOR_ROLE, STAGE: 'local' },
          timeout: 60_000,
        },
      );
    } catch (error) {
      failure = error as { code?: number; stderr?: string };
    }
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain(
      `dlq: #${row.id}: refused, nothing sent, row left PARKED: source topic "${topic}" is not a topic this stage redrives to (${stageTopic})`,
    );
    expect(failure?.stderr).toContain('refused 1');
    expect(await statusOf(row.id)).toEqual({ status: 'PARKED', resolved: false });
    expect(await topicEnd()).toBe(before);
  });

  it('parks what it can read and exits 1 on an unreadable document', async () => {
    const tag = randomUUID().slice(0, 8);
    const good = deadLetterRecord(`rec-${tag}-d`, 9_100, new SchemaViolationError('x'), 60);
    await mkdir(join(dir, 'more'), { recursive: true });
    await writeFile(join(dir, 'more', 'broken.json'), '{"requestContext": {"requestId": "x"}}');
    await writeDocument([good.record], new Date());
    const result = await dlq(['recover', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr.join('\n')).toMatch(/more\/broken\.json: unreadable on-failure document/);
    expect(result.stderr.join('\n')).toMatch(/parked 1, already parked 5/);
    const rows = await recoveredRows();
    expect(rows.some((r) => r.aggregate_id === `rec-${tag}-d`)).toBe(true);
  });
});
