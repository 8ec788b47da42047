import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { buildDeadLetter, toRedriveRecord } from '../../../../lambdas/shared/dead-letter/message';
import {
  ProcessingFailureError,
  SchemaViolationError,
} from '../../../../lambdas/shared/errors/taxonomy';
import {
  confirmationNeed,
  type DlqDb,
  type DlqDeps,
  decodeBytes,
  discard,
  isYes,
  list,
  type Queryable,
  type RedriveRecord,
  rateLimiter,
  redrive,
  redriveTarget,
  show,
} from '../../../../tools/operations/dlq/actions';
import type { Selection } from '../../../../tools/operations/dlq/args';
import type { SqlQuery } from '../../../../tools/operations/dlq/queries';

// --- fakes -----------------------------------------------------------------------------------

interface FakeRow {
  id: string;
  status: string;
  message: unknown;
  aggregate_id: string;
}

function deadLetter(n: number) {
  return buildDeadLetter({
    value: Buffer.from(JSON.stringify({ eventId: `e${n}`, aggregateId: `o${n}` })),
    key: `o${n}`,
    headers: [{ key: 'correlationId', value: `c${n}` }],
    source: { topic: 'order-events', partition: 0, offset: n },
    error: new SchemaViolationError('bad'),
    attempts: 1,
    firstFailureAt: new Date('2026-01-01T00:00:00Z'),
  });
}

function row(id: string, overrides: Partial<FakeRow> = {}): FakeRow {
  return {
    id,
    status: 'PARKED',
    message: deadLetter(Number(id)),
    aggregate_id: `o${id}`,
    ...overrides,
  };
}

function summary(r: FakeRow) {
  return {
    id: r.id,
    parked_at: new Date('2026-01-02T00:00:00Z'),
    status: r.status,
    error_type: 'SCHEMA_VIOLATION',
    event_type: null,
    aggregate_id: r.aggregate_id,
    correlation_id: null,
    event_id: null,
    attempts: 1,
    redrive_count: 0,
    error_message: 'bad',
    source_topic: 'order-events',
    source_partition: 0,
    source_offset: r.id,
    has_message: r.message !== null,
    first_failed_at: new Date('2026-01-01T00:00:00Z'),
    last_failed_at: new Date('2026-01-01T00:00:00Z'),
    resolved_at: null,
    payload: {},
    message: r.message,
  };
}

/** In-memory dead_letters that understands the CLI's few query shapes. */
class FakeDb implements DlqDb {
  readonly queries: SqlQuery[] = [];
  transactions = 0;
  constructor(readonly rows: FakeRow[]) {}

  get writes(): SqlQuery[] {
    return this.queries.filter((q) => /^\s*(UPDATE|INSERT|DELETE)/i.test(q.text));
  }

  async query<R>(q: SqlQuery): Promise<{ rows: R[]; rowCount: number }> {
    this.queries.push(q);
    const out = (rows: unknown[]) => ({ rows: rows as R[], rowCount: rows.length });
    const first = q.values[0];
    if (q.text.includes('FOR UPDATE SKIP LOCKED')) {
      return out(
        this.rows
          .filter((r) => r.id === first && r.status === 'PARKED')
          .map((r) => ({ message: r.message })),
      );
    }
    if (q.text.startsWith('UPDATE')) {
      const ids = Array.isArray(first) ? first : [first];
      const status = q.text.includes("'REPLAYED'") ? 'REPLAYED' : 'DISCARDED';
      const hit = this.rows.filter((r) => ids.includes(r.id) && r.status === 'PARKED');
      for (const r of hit) r.status = status;
      return out(hit.map((r) => ({ id: r.id })));
    }
    if (q.text.includes('id = ANY')) {
      return out(this.rows.filter((r) => (first as string[]).includes(r.id)).map(summary));
    }
    if (q.text.includes('WHERE id = $1')) {
      return out(this.rows.filter((r) => r.id === first).map(summary));
    }
    return out(this.rows.filter((r) => r.status === first).map(summary));
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    this.transactions++;
    const snapshot = this.rows.map((r) => ({ ...r }));
    try {
      return await work(this);
    } catch (error) {
      this.rows.splice(0, this.rows.length, ...snapshot);
      throw error;
    }
  }
}

function harness(
  rows: FakeRow[],
  options: { interactive?: boolean; answer?: boolean; failSendAt?: number } = {},
) {
  const db = new FakeDb(rows);
  const sent: RedriveRecord[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const questions: string[] = [];
  const sleeps: number[] = [];
  let now = 0;
  const deps: DlqDeps = {
    db,
    producer: {
      async send(record) {
        // Logged with the queries, so tests can check that the send sits between claim and mark.
        db.queries.push({ text: 'SEND', values: [record.topic] });
        if (options.failSendAt === sent.length) throw new Error('broker down');
        now += 20; // a send takes 20 ms of fake time
        sent.push(record);
      },
    },
    output: { out: (l) => stdout.push(l), err: (l) => stderr.push(l) },
    interactive: options.interactive ?? false,
    redriveTopics: new Set(['order-events']),
    confirm: async (q) => {
      questions.push(q);
      return options.answer ?? false;
    },
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  return { db, deps, sent, stdout, stderr, questions, sleeps };
}

const ids = (...list: string[]): Selection => ({ kind: 'ids', ids: list });
const byType: Selection = {
  kind: 'filters',
  filters: { status: 'PARKED', type: 'SCHEMA_VIOLATION' },
};
const redriveCmd = (
  selection: Selection,
  o: { dryRun?: boolean; yes?: boolean; rate?: number } = {},
) =>
  ({
    kind: 'redrive',
    selection,
    dryRun: o.dryRun ?? false,
    yes: o.yes ?? false,
    ratePerSecond: o.rate ?? 10,
  }) as const;
const discardCmd = (selection: Selection, o: { dryRun?: boolean; yes?: boolean } = {}) =>
  ({ kind: 'discard', selection, dryRun: o.dryRun ?? false, yes: o.yes ?? false }) as const;

// --- confirmation ------------------------------------------------------------------------------

describe('confirmationNeed', () => {
  const cases: Array<
    [string, Selection, { yes: boolean; dryRun: boolean; interactive: boolean }, string]
  > = [
    ['one id never asks', ids('1'), { yes: false, dryRun: false, interactive: false }, 'none'],
    ['bulk on a TTY asks', ids('1', '2'), { yes: false, dryRun: false, interactive: true }, 'ask'],
    ['filters on a TTY ask', byType, { yes: false, dryRun: false, interactive: true }, 'ask'],
    [
      'bulk without TTY refuses',
      byType,
      { yes: false, dryRun: false, interactive: false },
      'refuse',
    ],
    ['--yes skips the question', byType, { yes: true, dryRun: false, interactive: false }, 'none'],
    ['a dry run changes nothing', byType, { yes: false, dryRun: true, interactive: false }, 'none'],
  ];
  it.each(cases)('%s', (_name, selection, options, expected) => {
    expect(confirmationNeed(selection, options)).toBe(expected);
  });

  it('isYes accepts y/yes only', () => {
    expect(['y', 'Y', 'yes', ' YES '].map(isYes)).toEqual([true, true, true, true]);
    expect(['', 'n', 'no', 'yep', 'sure'].map(isYes)).toEqual([false, false, false, false, false]);
  });
});

describe('bulk confirmation in the actions', () => {
  it('without a TTY and without --yes: exit 2, no query, no send', async () => {
    for (const cmd of [redriveCmd(byType), discardCmd(ids('1', '2'))]) {
      const h = harness([row('1'), row('2')]);
      const action = cmd.kind === 'redrive' ? redrive(cmd, h.deps) : discard(cmd, h.deps);
      expect(await action).toBe(2);
      expect(h.stderr.join('\n')).toMatch(/without confirmation.*--yes/);
      expect(h.db.queries).toEqual([]);
      expect(h.sent).toEqual([]);
    }
  });

  it('on a TTY asks with the count; "no" changes nothing', async () => {
    const h = harness([row('1'), row('2'), row('3', { status: 'REPLAYED' })], {
      interactive: true,
      answer: false,
    });
    expect(await redrive(redriveCmd(byType), h.deps)).toBe(1);
    expect(h.questions).toEqual(['Redrive 2 messages? [y/N] ']);
    expect(h.sent).toEqual([]);
    expect(h.db.writes).toEqual([]);
  });

  it('on a TTY "yes" proceeds', async () => {
    const h = harness([row('1'), row('2')], { interactive: true, answer: true });
    expect(await discard(discardCmd(ids('1', '2')), h.deps)).toBe(0);
    expect(h.questions).toEqual(['Discard 2 messages? [y/N] ']);
    expect(h.db.rows.map((r) => r.status)).toEqual(['DISCARDED', 'DISCARDED']);
  });

  it('--yes proceeds without asking, and one id needs no confirmation', async () => {
    const a = harness([row('1'), row('2')]);
    expect(await redrive(redriveCmd(byType, { yes: true }), a.deps)).toBe(0);
    expect(a.sent).toHaveLength(2);
    const b = harness([row('1')]);
    expect(await discard(discardCmd(ids('1')), b.deps)).toBe(0);
    expect(a.questions.concat(b.questions)).toEqual([]);
    expect(b.db.rows[0]?.status).toBe('DISCARDED');
  });
});

// --- dry run -------------------------------------------------------------------------------------

describe('dry run', () => {
  it('redrive prints each record and neither sends nor writes nor locks', async () => {
    const h = harness([row('1'), row('2')]);
    expect(await redrive(redriveCmd(byType, { dryRun: true }), h.deps)).toBe(0);
    expect(h.sent).toEqual([]);
    expect(h.db.writes).toEqual([]);
    expect(h.db.transactions).toBe(0);
    expect(h.stdout).toHaveLength(2);
    expect(h.stdout[0]).toMatch(
      /^would redrive #1: topic=order-events key=o1 headers=\[correlationId=c1, redriveCount=1/,
    );
    expect(h.db.rows.map((r) => r.status)).toEqual(['PARKED', 'PARKED']);
  });

  it('discard lists the rows and writes nothing', async () => {
    const h = harness([row('1'), row('2')]);
    expect(await discard(discardCmd(ids('1', '2'), { dryRun: true }), h.deps)).toBe(0);
    expect(h.stdout).toEqual([
      'would discard #1 SCHEMA_VIOLATION - o1',
      'would discard #2 SCHEMA_VIOLATION - o2',
    ]);
    expect(h.db.writes).toEqual([]);
  });
});

// --- redrive -----------------------------------------------------------------------------------

describe('redrive', () => {
  it('sends toRedriveRecord of the stored message, then marks the row REPLAYED', async () => {
    const h = harness([row('1')]);
    expect(await redrive(redriveCmd(ids('1')), h.deps)).toBe(0);
    expect(h.sent).toEqual([toRedriveRecord(deadLetter(1))]);
    expect(h.db.rows[0]?.status).toBe('REPLAYED');
    // Claim before send, mark after it, both in the one transaction.
    expect(h.db.transactions).toBe(1);
    expect(h.db.queries.map((q) => q.text.split(/\s/)[0])).toEqual([
      'SELECT',
      'SELECT',
      'SEND',
      'UPDATE',
    ]);
  });

  it('a failed send leaves the row PARKED, stops, and exits 1', async () => {
    const h = harness([row('1'), row('2'), row('3')], { failSendAt: 1 });
    expect(await redrive(redriveCmd(ids('1', '2', '3'), { yes: true }), h.deps)).toBe(1);
    expect(h.db.rows.map((r) => r.status)).toEqual(['REPLAYED', 'PARKED', 'PARKED']);
    expect(h.sent).toHaveLength(1);
    expect(h.stderr.join('\n')).toMatch(/#2: redrive failed, row left PARKED: broker down/);
  });

  it('skips rows without a message, with a warning', async () => {
    const h = harness([row('1', { message: null }), row('2')]);
    expect(await redrive(redriveCmd(ids('1', '2'), { yes: true }), h.deps)).toBe(0);
    expect(h.sent).toHaveLength(1);
    expect(h.db.rows.map((r) => r.status)).toEqual(['PARKED', 'REPLAYED']);
    expect(h.stderr.join('\n')).toMatch(/#1: parked before migration 0002.*skipped/);
  });

  it('explains unknown and already resolved ids; nothing left is exit 0 with a message', async () => {
    const h = harness([row('1', { status: 'DISCARDED' })]);
    expect(await redrive(redriveCmd(ids('1', '9'), { yes: true }), h.deps)).toBe(0);
    expect(h.stderr).toEqual([
      'dlq: #9: no such dead letter; skipped',
      'dlq: #1: already DISCARDED; skipped',
      'dlq: nothing to redrive',
    ]);
    expect(h.sent).toEqual([]);
  });
});

// --- redrive targets ---------------------------------------------------------------------------

/** A row parked at its dead-letter position: garbage, or a raw record with backstop headers. */
function dlqSourced(n: number, headers: Array<{ key: string; value: string }> = []) {
  return buildDeadLetter({
    value: Buffer.from(JSON.stringify({ eventId: `e${n}`, aggregateId: `o${n}` })),
    key: `o${n}`,
    headers: [{ key: 'correlationId', value: `c${n}` }, ...headers],
    source: { topic: 'order-events-dlq', partition: 1, offset: 40 + n },
    error: new ProcessingFailureError('unreadable dead-letter record'),
    attempts: 1,
    firstFailureAt: new Date('2026-01-01T00:00:00Z'),
  });
}

const BACKSTOP = [
  { key: 'esm-failure-reason', value: 'handler threw' },
  { key: 'esm-source-topic', value: 'order-events' },
  { key: 'esm-source-partition', value: '3' },
  { key: 'esm-source-offset', value: '77' },
  { key: 'esm-attempts', value: '4' },
];

describe('redrive: only to the source topics the stage declares', () => {
  it('refuses a row whose source is the dead-letter topic: nothing sent, row PARKED, exit 2', async () => {
    const h = harness([row('1', { message: dlqSourced(1) }), row('2')]);
    expect(await redrive(redriveCmd(ids('1', '2'), { yes: true }), h.deps)).toBe(2);
    expect(h.sent.map((r) => r.topic)).toEqual(['order-events']);
    expect(h.db.rows.map((r) => r.status)).toEqual(['PARKED', 'REPLAYED']);
    expect(h.stderr.join('\n')).toContain(
      'dlq: #1: refused, nothing sent, row left PARKED: source topic "order-events-dlq" is not a topic this stage redrives to (order-events)',
    );
    expect(h.stderr.at(-1)).toBe('dlq: redriven 1, skipped 0, invalid 0, refused 1');
  });

  it('refuses a forged source topic the same way', async () => {
    const forged = { ...deadLetter(1), source: { topic: 'payments', partition: 0, offset: '1' } };
    const h = harness([row('1', { message: forged })]);
    expect(await redrive(redriveCmd(ids('1')), h.deps)).toBe(2);
    expect(h.sent).toEqual([]);
    expect(h.stderr[0]).toMatch(/#1: refused.*"payments" is not a topic this stage redrives to/);
  });

  it('restores a raw backstop record to the origin its failure headers name, without them', async () => {
    const h = harness([row('1', { message: dlqSourced(1, BACKSTOP) })]);
    expect(await redrive(redriveCmd(ids('1')), h.deps)).toBe(0);
    const sent = h.sent[0];
    expect(sent?.topic).toBe('order-events');
    expect(sent?.headers.map((x) => x.key)).toEqual([
      'correlationId',
      'redriveCount',
      'attempts',
      'firstFailureAt',
    ]);
    expect(h.stdout).toEqual(['redriven #1 → order-events']);
  });

  it('never restores to an origin the stage does not declare', async () => {
    const elsewhere = BACKSTOP.map((x) =>
      x.key === 'esm-source-topic' ? { ...x, value: 'order-events-dlq' } : x,
    );
    const h = harness([row('1', { message: dlqSourced(1, elsewhere) })]);
    expect(await redrive(redriveCmd(ids('1')), h.deps)).toBe(2);
    expect(h.sent).toEqual([]);
  });

  it('a dry run says which rows it would refuse', async () => {
    const h = harness([row('1', { message: dlqSourced(1) }), row('2')]);
    expect(await redrive(redriveCmd(ids('1', '2'), { dryRun: true }), h.deps)).toBe(0);
    expect(h.stderr[0]).toMatch(/^dlq: #1: would refuse: source topic "order-events-dlq"/);
    expect(h.stdout).toHaveLength(1);
    expect(h.stdout[0]).toMatch(/^would redrive #2: topic=order-events/);
  });

  it('redriveTarget: declared source, backstop origin, or a reason', () => {
    const declared = new Set(['order-events']);
    expect(redriveTarget(deadLetter(1), declared)).toEqual({
      ok: true,
      record: toRedriveRecord(deadLetter(1)),
    });
    const restored = redriveTarget(dlqSourced(2, BACKSTOP), declared);
    expect(restored.ok && restored.record.topic).toBe('order-events');
    expect(redriveTarget(deadLetter(1), new Set())).toEqual({
      ok: false,
      reason: 'source topic "order-events" is not a topic this stage redrives to (none)',
    });
  });
});

// --- rate limit -----------------------------------------------------------------------------------

describe('rate limit', () => {
  it('rateLimiter sleeps only what remains of each interval', async () => {
    let now = 1_000;
    const sleeps: number[] = [];
    const pace = rateLimiter(4, {
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    });
    await pace(); // first: no wait
    now += 100; // work took 100 ms of the 250 ms interval
    await pace();
    now += 300; // work took longer than the interval: no wait
    await pace();
    await pace(); // immediately again: a whole interval
    expect(sleeps).toEqual([150, 250]);
  });

  it('redrive of 4 at 10/s sleeps between sends, not before the first', async () => {
    const h = harness([row('1'), row('2'), row('3'), row('4')]);
    expect(await redrive(redriveCmd(byType, { yes: true, rate: 10 }), h.deps)).toBe(0);
    expect(h.sent).toHaveLength(4);
    // 100 ms interval minus the 20 ms each fake send takes.
    expect(h.sleeps).toEqual([80, 80, 80]);
  });
});

// --- list / show -----------------------------------------------------------------------------------

describe('list and show', () => {
  it('list prints a table with a header, or JSON lines', async () => {
    const h = harness([row('1'), row('2')]);
    expect(
      await list({ kind: 'list', filters: { status: 'PARKED', limit: 50 }, json: false }, h.deps),
    ).toBe(0);
    expect(h.stdout[0]).toMatch(
      /^ID\s+PARKED_AT\s+ERROR_TYPE\s+EVENT_TYPE\s+AGGREGATE\s+ATT\s+REDR\s+ERROR$/,
    );
    expect(h.stdout[1]).toMatch(
      /^1\s+2026-01-02T00:00:00Z\s+SCHEMA_VIOLATION\s+-\s+o1\s+1\s+0\s+bad$/,
    );
    const j = harness([row('1')]);
    await list({ kind: 'list', filters: { status: 'PARKED', limit: 50 }, json: true }, j.deps);
    expect(JSON.parse(j.stdout[0] ?? '')).toMatchObject({ id: '1', aggregate_id: 'o1' });
  });

  it('list with no match says so on stderr and exits 0', async () => {
    const h = harness([]);
    expect(await list({ kind: 'list', filters: { status: 'PARKED' }, json: true }, h.deps)).toBe(0);
    expect(h.stdout).toEqual([]);
    expect(h.stderr).toEqual(['dlq: no PARKED dead letters match']);
  });

  it('show prints the decoded original value and headers; unknown id exits 1', async () => {
    const h = harness([row('1')]);
    expect(await show({ kind: 'show', id: '1', json: false }, h.deps)).toBe(0);
    const text = h.stdout.join('\n');
    expect(text).toContain('park_reason:     -');
    expect(text).toContain('raw_record:      -');
    expect(text).toContain('  correlationId: c1');
    expect(text).toContain('original value (utf8):');
    expect(text).toContain('"aggregateId": "o1"');
    const missing = harness([]);
    expect(await show({ kind: 'show', id: '5', json: false }, missing.deps)).toBe(1);
  });

  it('show prints why a row was parked and how many raw bytes it keeps; --json has them', async () => {
    const raw = Buffer.from([0x7b, 0xff, 0x00]);
    const h = harness([row('1')]);
    const query = h.db.query.bind(h.db);
    h.db.query = async <R>(q: SqlQuery) => {
      const result = await query<R>(q);
      return {
        ...result,
        rows: result.rows.map((r) => ({
          ...r,
          park_reason: 'out of range: attempts 4294967296 is outside 1..2147483647',
          raw_record: raw,
        })) as R[],
      };
    };
    expect(await show({ kind: 'show', id: '1', json: false }, h.deps)).toBe(0);
    expect(h.stdout).toContain(
      'park_reason:     out of range: attempts 4294967296 is outside 1..2147483647',
    );
    expect(h.stdout.find((l) => l.startsWith('raw_record:'))).toMatch(/^raw_record: +3 bytes: /);
    h.stdout.length = 0;
    expect(await show({ kind: 'show', id: '1', json: true }, h.deps)).toBe(0);
    expect(JSON.parse(h.stdout[0] ?? '{}')).toMatchObject({ raw_record: raw.toString('base64') });
  });

  it('decodeBytes keeps non-UTF-8 bytes as base64', () => {
    expect(decodeBytes(Buffer.from('héllo').toString('base64'))).toEqual({
      encoding: 'utf8',
      text: 'héllo',
    });
    expect(decodeBytes(Buffer.from([0xff, 0xfe]).toString('base64'))).toEqual({
      encoding: 'base64',
      text: '//4=',
    });
    expect(decodeBytes(null)).toBeNull();
  });
});
