import { Buffer } from 'node:buffer';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TriageDeps, triageBatch } from '../../../../lambdas/dlq-triage/triage';
import { DEAD_LETTER_ROW_COLUMNS } from '../../../../lambdas/shared/dead-letter/message';
import {
  parseOnFailureRecord,
  recordsOf,
} from '../../../../lambdas/shared/kafka/on-failure-record';
import type { DlqDeps, Queryable } from '../../../../tools/operations/dlq/actions';
import { parseCommand } from '../../../../tools/operations/dlq/args';
import type { SqlQuery } from '../../../../tools/operations/dlq/queries';
import {
  directorySource,
  formatSummary,
  type OnFailureSource,
  parkableOf,
  recover,
  type S3Sender,
  s3Source,
} from '../../../../tools/operations/dlq/recover';
import {
  BUCKET,
  getObjectOutput,
  KEYS,
  listEmpty,
  listPage1,
  listPage2,
  noSuchKey,
  PREFIX,
} from './s3-responses';

const FIXTURE = join(__dirname, '../../../fixtures/aws/s3-on-failure/msk-retries-exhausted.json');
const col = (name: (typeof DEAD_LETTER_ROW_COLUMNS)[number]) =>
  DEAD_LETTER_ROW_COLUMNS.indexOf(name);

async function fixtureText(): Promise<string> {
  return readFile(FIXTURE, 'utf8');
}

async function fixtureRecord() {
  const result = parseOnFailureRecord(await fixtureText());
  if (!result.ok) throw new Error(result.error.message);
  return result.record;
}

/** dead_letters with its unique key on source position + record digest. */
class FakeDeadLetters implements Queryable {
  readonly rows: Array<{ id: string; status: string; values: unknown[] }> = [];
  readonly queries: SqlQuery[] = [];
  failInsertAt?: number;
  inserts = 0;

  private key(values: readonly unknown[]): string {
    return [
      values[col('source_topic')],
      values[col('source_partition')],
      values[col('source_offset')],
      values[col('record_digest')],
    ].join('|');
  }

  async query<R>(q: SqlQuery): Promise<{ rows: R[]; rowCount: number }> {
    this.queries.push(q);
    if (q.text.startsWith('INSERT INTO dead_letters')) {
      this.inserts++;
      if (this.failInsertAt === this.inserts) throw new Error('connection terminated');
      if (!q.text.includes('ON CONFLICT ON CONSTRAINT dead_letters_record_key DO NOTHING')) {
        throw new Error('not triage’s idempotent insert');
      }
      if (this.rows.some((r) => this.key(r.values) === this.key(q.values))) {
        return { rows: [], rowCount: 0 };
      }
      this.rows.push({ id: String(this.rows.length + 1), status: 'PARKED', values: [...q.values] });
      return { rows: [], rowCount: 1 };
    }
    if (q.text.includes('record_digest = $4')) {
      const wanted = q.values.join('|');
      const row = this.rows.find((r) => this.key(r.values) === wanted);
      return { rows: (row ? [{ id: row.id, status: row.status }] : []) as R[], rowCount: 0 };
    }
    throw new Error(`unexpected query: ${q.text}`);
  }
}

function harness(sources: Record<string, OnFailureSource>, db = new FakeDeadLetters()) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const deps: DlqDeps = {
    db: {
      query: <R>(q: SqlQuery) => db.query<R>(q),
      transaction: () => Promise.reject(new Error('recover needs no transaction')),
    },
    producer: { send: () => Promise.reject(new Error('recover never produces')) },
    output: { out: (l) => stdout.push(l), err: (l) => stderr.push(l) },
    interactive: false,
    redriveTopics: new Set(['order-events']),
    confirm: () => Promise.reject(new Error('recover never asks')),
    now: () => 0,
    sleep: async () => undefined,
    openSource: (source) => {
      const key = source.kind === 'dir' ? source.path : `s3://${source.bucket}/${source.prefix}`;
      const found = sources[key];
      if (found === undefined) throw new Error(`no source ${key}`);
      return found;
    },
  };
  return {
    db,
    stdout,
    stderr,
    run: (argv: string[]) => {
      const command = parseCommand(argv);
      if (command.kind !== 'recover') throw new Error('not recover');
      return recover(command, deps);
    },
  };
}

/** An in-memory source with named documents. */
function memorySource(docs: Record<string, string | Error>): OnFailureSource {
  return {
    description: 'memory',
    async *names() {
      yield* Object.keys(docs);
    },
    async read(name) {
      const doc = docs[name];
      if (doc instanceof Error) throw doc;
      if (doc === undefined) throw new Error('gone');
      return doc;
    },
  };
}

describe('parkableOf: exactly what triage parks', () => {
  it('produces the INSERT triage issues for each record of the same batch', async () => {
    const record = await fixtureRecord();
    const now = Date.parse(record.timestamp);
    // Triage, fed the discarded batch, parks both records (SCHEMA_VIOLATION is never redriven,
    // the other is not a dead letter); record its INSERTs.
    const triageInserts: unknown[][] = [];
    const pass = { execute: <T>(fn: () => Promise<T>) => fn() };
    const deps: TriageDeps = {
      db: {
        async query(text, values = []) {
          if (text.startsWith('INSERT')) triageInserts.push(values);
          return { rowCount: 1 };
        },
      },
      producer: { send: async () => [] },
      breakers: { postgres: pass, kafka: pass },
      logger: { error() {}, warn() {}, info() {}, debug() {} },
      telemetry: { received() {}, redriven() {}, parked() {} },
      remainingMs: () => 600_000,
      now: () => now,
    };
    const summary = await triageBatch(record.payload, deps, {
      maxRedrives: 5,
      maxProcessingFailureRedrives: 2,
      baseDelayMs: 2_000,
      maxDelayMs: 60_000,
      jitterRatio: 0,
      redriveTopics: ['order-events'],
      outageWait: { baseMs: 500, capMs: 5_000 },
      outageLogEvery: 10,
      stopBeforeTimeoutMs: 1_000,
      maxRedriveBytes: 1_048_576,
    });
    expect(summary.parked).toBe(2);

    const db = new FakeDeadLetters();
    const { run } = harness({ dir: memorySource({ doc: await fixtureText() }) }, db);
    expect(await run(['recover', '--dir', 'dir'])).toBe(0);
    // Every column alike but the reason, which says where recover found the record.
    const reason = DEAD_LETTER_ROW_COLUMNS.length + 1;
    const without = (values: unknown[]) => values.filter((_, i) => i !== reason);
    expect(db.rows.map((r) => without(r.values))).toEqual(triageInserts.map(without));
    expect(triageInserts.map((v) => v[reason])).toEqual([
      'policy: SCHEMA_VIOLATION is never redriven',
      expect.stringMatching(/^unreadable: NOT_JSON: dead-letter record is not UTF-8 JSON/),
    ]);
    expect(db.rows.map((r) => r.values[reason])).toEqual([
      expect.stringMatching(
        /^recovered: a dead letter of a batch the triage mapping discarded; recovered from the triage backstop \(doc, RetryAttemptsExhausted\)$/,
      ),
      expect.stringMatching(
        /^unreadable: NOT_JSON: .*; recovered from the triage backstop \(doc, RetryAttemptsExhausted\)$/,
      ),
    ]);
  });

  it('a readable dead letter keeps its original source; garbage gets its DLQ position', async () => {
    const record = await fixtureRecord();
    const now = Date.parse(record.timestamp);
    const [deadLetter, garbage] = recordsOf(record).map((r) => parkableOf(r, now));
    expect(deadLetter?.readAs).toBeUndefined();
    expect(deadLetter?.message.errorType).toBe('SCHEMA_VIOLATION');
    expect(deadLetter?.message.source).toEqual({
      topic: 'order-events',
      partition: 4,
      offset: '18231',
    });
    // Stored as received, so fields of a newer minor version survive.
    expect(deadLetter?.messageJson).toBe(
      recordsOf(record)[0]?.value?.toString('utf8') ?? 'missing',
    );

    expect(garbage?.readAs).toBe('unreadable');
    expect(garbage?.unreadable?.kind).toBe('NOT_JSON');
    expect(JSON.parse(garbage?.messageJson ?? '')).toEqual(garbage?.message);
    expect(garbage?.message).toMatchObject({
      errorType: 'PROCESSING_FAILURE',
      source: { topic: 'order-events-dlq', partition: 2, offset: '942' },
      firstFailureAt: '2026-12-02T09:14:04.002Z',
      lastFailureAt: '2026-12-02T09:16:41.207Z',
      original: { value: Buffer.from('not a dead letter').toString('base64') },
    });
  });
});

describe('recover', () => {
  it('parks every record, then parks nothing twice', async () => {
    const h = harness({ dir: memorySource({ 'a.json': await fixtureText() }) });
    expect(await h.run(['recover', '--dir', 'dir'])).toBe(0);
    expect(h.db.rows).toHaveLength(2);
    expect(h.stdout).toEqual([
      'parked #1 order-events-dlq/2@941 [a.json]: SCHEMA_VIOLATION OrderShipped order-7f3a (source order-events/4@18231)',
      'parked #2 order-events-dlq/2@942 [a.json]: PROCESSING_FAILURE - - (source order-events-dlq/2@942, not a dead letter: unreadable)',
    ]);
    expect(h.stderr.at(-1)).toBe(
      'dlq: recover: documents read 1 (unreadable 0), records 2 (not dead letters 1), parked 2, already parked 0',
    );

    h.stdout.length = 0;
    h.stderr.length = 0;
    expect(await h.run(['recover', '--dir', 'dir'])).toBe(0);
    expect(h.db.rows).toHaveLength(2);
    expect(h.stdout[0]).toMatch(/^already parked #1 \(PARKED\) order-events-dlq\/2@941/);
    expect(h.stderr.at(-1)).toMatch(/parked 0, already parked 2$/);
  });

  it('a dry run lists what would be parked and writes nothing', async () => {
    const h = harness({ dir: memorySource({ 'a.json': await fixtureText() }) });
    expect(await h.run(['recover', '--dir', 'dir', '--dry-run'])).toBe(0);
    expect(h.db.inserts).toBe(0);
    expect(h.stdout).toHaveLength(2);
    expect(h.stdout[0]).toMatch(
      /^would park order-events-dlq\/2@941 \[a\.json\]: SCHEMA_VIOLATION/,
    );
    expect(h.stderr.at(-1)).toBe(
      'dlq: recover (dry run): documents read 1 (unreadable 0), records 2 (not dead letters 1), would park 2, already parked 0; nothing changed',
    );

    await h.run(['recover', '--dir', 'dir']);
    h.stdout.length = 0;
    expect(await h.run(['recover', '--dir', 'dir', '--dry-run'])).toBe(0);
    expect(h.stdout.every((l) => l.startsWith('already parked #'))).toBe(true);
  });

  it('a dry run counts a record found in two documents once, as a real run would', async () => {
    const text = await fixtureText();
    const h = harness({ dir: memorySource({ 'a.json': text, 'b.json': text }) });
    expect(await h.run(['recover', '--dir', 'dir', '--dry-run'])).toBe(0);
    expect(h.stdout.slice(2)).toEqual([
      expect.stringMatching(
        /^already parked \(earlier in this run\) order-events-dlq\/2@941 \[b\.json\]/,
      ),
      expect.stringMatching(
        /^already parked \(earlier in this run\) order-events-dlq\/2@942 \[b\.json\]/,
      ),
    ]);
    const dry = h.stderr.at(-1);
    expect(dry).toMatch(/records 4 \(not dead letters 2\), would park 2, already parked 2/);
    await h.run(['recover', '--dir', 'dir']);
    expect(h.stderr.at(-1)).toMatch(
      /records 4 \(not dead letters 2\), parked 2, already parked 2$/,
    );
  });

  it('parks everything readable and exits 1 when a document is unreadable', async () => {
    const h = harness({
      dir: memorySource({
        'bad.json': '{"requestContext": {}}',
        'gone.json': new Error('EACCES: permission denied'),
        'good.json': await fixtureText(),
        'not-json.txt': 'hello',
      }),
    });
    expect(await h.run(['recover', '--dir', 'dir'])).toBe(1);
    expect(h.db.rows).toHaveLength(2);
    const err = h.stderr.join('\n');
    expect(err).toMatch(
      /bad\.json: unreadable on-failure document \(not an on-failure invocation record: /,
    );
    expect(err).toMatch(/gone\.json: cannot be read: EACCES: permission denied; skipped/);
    expect(err).toMatch(/not-json\.txt: unreadable on-failure document \(not JSON: /);
    expect(err).toMatch(/documents read 1 \(unreadable 3\), records 2/);
    expect(err).toMatch(/3 document\(s\) could not be read/);
  });

  it('says so when there is nothing to recover', async () => {
    const h = harness({ dir: memorySource({}) });
    expect(await h.run(['recover', '--dir', 'dir'])).toBe(0);
    expect(h.stderr[0]).toBe('dlq: no on-failure documents in memory');
  });

  it('stops at a database failure with the summary so far (exit 1)', async () => {
    const db = new FakeDeadLetters();
    db.failInsertAt = 2;
    const h = harness({ dir: memorySource({ 'a.json': await fixtureText() }) }, db);
    expect(await h.run(['recover', '--dir', 'dir'])).toBe(1);
    expect(db.rows).toHaveLength(1);
    expect(h.stderr.join('\n')).toMatch(/942 \[a\.json\]: parking failed: connection terminated/);
    expect(h.stderr.join('\n')).toMatch(/parked 1, already parked 0[\s\S]*re-run recover/);
  });
});

describe('formatSummary', () => {
  it('names every count', () => {
    const s = {
      documents: 3,
      unreadableDocuments: 1,
      records: 9,
      unreadableRecords: 2,
      parked: 7,
      alreadyParked: 2,
    };
    expect(formatSummary(s, false)).toBe(
      'dlq: recover: documents read 3 (unreadable 1), records 9 (not dead letters 2), parked 7, already parked 2',
    );
    expect(formatSummary(s, true)).toMatch(/would park 7, already parked 2; nothing changed$/);
  });
});

describe('directorySource', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dlq-recover-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists files recursively in path order, skipping dotfiles, and reads them', async () => {
    await mkdir(join(dir, 'aws/lambda/uuid/t-0/2026/12/02'), { recursive: true });
    await mkdir(join(dir, '.hidden'));
    await writeFile(join(dir, 'aws/lambda/uuid/t-0/2026/12/02/2026-12-02T09.16.41-b'), 'B');
    await writeFile(join(dir, 'aws/lambda/uuid/t-0/2026/12/02/2026-12-02T09.16.40-a'), 'A');
    await writeFile(join(dir, 'top.json'), 'T');
    await writeFile(join(dir, '.DS_Store'), 'x');
    await writeFile(join(dir, '.hidden/secret'), 'x');
    const source = directorySource(dir);
    const names: string[] = [];
    for await (const name of source.names()) names.push(name);
    expect(names).toEqual([
      'aws/lambda/uuid/t-0/2026/12/02/2026-12-02T09.16.40-a',
      'aws/lambda/uuid/t-0/2026/12/02/2026-12-02T09.16.41-b',
      'top.json',
    ]);
    expect(await source.read(names[0] ?? '')).toBe('A');
  });

  it('fails to list a directory that does not exist', async () => {
    const names = directorySource(join(dir, 'nope')).names();
    await expect(names[Symbol.asyncIterator]().next()).rejects.toThrow(/ENOENT/);
  });
});

describe('s3Source (stubbed client, recorded ListObjectsV2/GetObject responses)', () => {
  type Sent = ListObjectsV2Command | GetObjectCommand;

  function stubS3(
    lists: ListObjectsV2CommandOutput[],
    objects: Record<string, string | Error>,
  ): { client: S3Sender; sent: Sent[] } {
    const sent: Sent[] = [];
    const pages = [...lists];
    const send = async (
      command: Sent,
    ): Promise<ListObjectsV2CommandOutput | GetObjectCommandOutput> => {
      sent.push(command);
      if (command instanceof ListObjectsV2Command) {
        const page = pages.shift();
        if (page === undefined) throw new Error('listed past the last page');
        return page;
      }
      const object = objects[command.input.Key ?? ''];
      if (object === undefined) throw noSuchKey();
      if (object instanceof Error) throw object;
      return getObjectOutput(object);
    };
    return { client: { send } as S3Sender, sent };
  }

  it('follows NextContinuationToken, skips folder keys and reads each object', async () => {
    const { client, sent } = stubS3([listPage1, listPage2], {
      [KEYS.first]: 'one',
      [KEYS.second]: 'two',
    });
    const source = s3Source(client, { bucket: BUCKET, prefix: PREFIX });
    expect(source.description).toBe(`s3://${BUCKET}/${PREFIX}`);
    const names: string[] = [];
    for await (const name of source.names()) names.push(name);
    expect(names).toEqual([KEYS.first, KEYS.second]);
    expect(sent.map((c) => c.input)).toEqual([
      { Bucket: BUCKET, Prefix: PREFIX },
      { Bucket: BUCKET, Prefix: PREFIX, ContinuationToken: listPage1.NextContinuationToken },
    ]);
    expect(await source.read(KEYS.second)).toBe('two');
    expect(sent.at(-1)).toBeInstanceOf(GetObjectCommand);
    expect(sent.at(-1)?.input).toEqual({ Bucket: BUCKET, Key: KEYS.second });
  });

  it('lists a whole bucket without a Prefix, and an empty one', async () => {
    const { client, sent } = stubS3([listEmpty], {});
    const names: string[] = [];
    for await (const name of s3Source(client, { bucket: BUCKET, prefix: '' }).names()) {
      names.push(name);
    }
    expect(names).toEqual([]);
    expect(sent[0]?.input).toEqual({ Bucket: BUCKET });
  });

  it('refuses a truncated page without a continuation token', async () => {
    const { client } = stubS3([{ ...listPage1, NextContinuationToken: undefined }], {});
    const names = s3Source(client, { bucket: BUCKET, prefix: PREFIX }).names();
    const it = names[Symbol.asyncIterator]();
    await it.next();
    await expect(it.next()).rejects.toThrow(/truncated without a continuation token/);
  });

  it('recover over S3: parks the readable document, reports the missing one (exit 1)', async () => {
    const { client } = stubS3([listPage1, listPage2], { [KEYS.first]: await fixtureText() });
    const h = harness({
      [`s3://${BUCKET}/${PREFIX}`]: s3Source(client, { bucket: BUCKET, prefix: PREFIX }),
    });
    const code = await h.run([
      'recover',
      '--s3',
      `s3://${BUCKET}/${PREFIX}`,
      '--region',
      'eu-west-1',
    ]);
    expect(code).toBe(1);
    expect(h.db.rows).toHaveLength(2);
    expect(h.stdout[0]).toContain(`[${KEYS.first}]`);
    expect(h.stderr.join('\n')).toContain(
      `dlq: ${KEYS.second}: cannot be read: The specified key does not exist.; skipped`,
    );
  });
});
