// Hostile dead letters: broken and forged records injected straight onto the dead-letter topic
// through a real producer, mixed with good dead letters, while the real triage handler runs
// behind the mapping emulator. Every record must end parked with a reason (counted by type
// and reason from `dead_letters`): none skipped, none sent to the mapping's backstop.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import {
  buildDeadLetter,
  type DeadLetterMessage,
  encodeDeadLetter,
} from '../../../../lambdas/shared/dead-letter/message';
import {
  type ErrorType,
  InvalidTransitionError,
  SchemaViolationError,
  TransientError,
} from '../../../../lambdas/shared/errors/taxonomy';
import { nextState } from '../../../../lambdas/shared/events/state-machine';
import { createKafka } from '../../../../lambdas/shared/kafka/client';
import type { Accounting, LabelRow, Misfiled } from '../accounting';
import { createHarness } from '../harness';
import { DRILL_INPUT_HEADER } from '../inputs';
import { quietLogger } from '../setup';
import { readTopic } from '../topic-reader';
import {
  type Drill,
  type DrillContext,
  type DrillResult,
  drillResult,
  seededRandom,
} from '../types';

// --- the catalogue ------------------------------------------------------------------------

export interface HostileHeader {
  readonly key: string;
  readonly value: Buffer | string | null;
}

/** One record for the dead-letter topic and what triage must make of it. */
export interface HostileRecord {
  readonly kind: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** The dead-letter record's own headers, in order (names repeat, any name goes). */
  readonly headers: readonly HostileHeader[];
  /** The type the parked row must have. */
  readonly errorType: ErrorType;
  /** The first words of its park_reason (PARK_KINDS in lambdas/dlq-triage/triage.ts). */
  readonly reason: string;
  /** A good dead letter, as the consumer writes them. */
  readonly good: boolean;
}

export interface CatalogContext {
  /** The input id: a header on the record and, for dead letters, among their headers. */
  readonly id: string;
  /** The topic triage redrives to (what a redrivable dead letter names as its source). */
  readonly sourceTopic: string;
  /** A unique source offset for this record. */
  readonly offset: number;
  readonly now: number;
  readonly random: () => number;
}

type Builder = (c: CatalogContext) => Omit<HostileRecord, 'kind'>;

const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** A dead letter as the consumer writes it (headers include the input id). */
function goodMessage(
  c: CatalogContext,
  options: {
    readonly error?: unknown;
    readonly redriveCount?: number;
    readonly sourceTopic?: string;
    readonly value?: Buffer;
    readonly headers?: readonly HostileHeader[];
  } = {},
): DeadLetterMessage {
  const aggregateId = `hostile-${c.id}`;
  const value =
    options.value ??
    utf8(
      JSON.stringify({
        schemaVersion: '1.0.0',
        eventId: randomUUID(),
        eventType: 'OrderPlaced',
        aggregateId,
        timestamp: new Date(c.now - 120_000).toISOString(),
        correlationId: `corr-${c.id}`,
        data: { orderId: aggregateId, total: Math.floor(c.random() * 10_000) },
      }),
    );
  return buildDeadLetter({
    value,
    key: aggregateId,
    headers: [
      { key: DRILL_INPUT_HEADER, value: c.id },
      { key: 'correlationId', value: `corr-${c.id}` },
      ...(options.headers ?? []),
    ],
    source: { topic: options.sourceTopic ?? c.sourceTopic, partition: 0, offset: c.offset },
    error: options.error ?? new SchemaViolationError('unknown major version 9'),
    attempts: 3,
    firstFailureAt: new Date(c.now - 60_000),
    lastFailureAt: new Date(c.now - 30_000),
    redriveCount: options.redriveCount ?? 0,
  });
}

/** A dead letter's JSON object with fields replaced, as text. */
function forged(message: DeadLetterMessage, changes: Record<string, unknown>): string {
  return JSON.stringify({ ...message, ...changes });
}

function deadLetterRecord(
  message: DeadLetterMessage,
  c: CatalogContext,
  value: string | Buffer = encodeDeadLetter(message).value,
  extraHeaders: readonly HostileHeader[] = [],
): Pick<HostileRecord, 'key' | 'value' | 'headers'> {
  const encoded = encodeDeadLetter(message);
  return {
    key: encoded.key,
    value,
    headers: [
      ...Object.entries(encoded.headers).map(([key, v]) => ({ key, value: v })),
      { key: DRILL_INPUT_HEADER, value: c.id },
      ...extraHeaders,
    ],
  };
}

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const INT32_MAX = 2_147_483_647;

function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Every kind, by name: the good ones first. */
export const HOSTILE_KINDS: Readonly<Record<string, Builder>> = {
  'good schema violation': (c) => ({
    ...deadLetterRecord(goodMessage(c), c),
    errorType: 'SCHEMA_VIOLATION',
    reason: 'policy',
    good: true,
  }),
  'good invalid transition': (c) => {
    const rejected = nextState('CREATED', 'OrderShipped');
    const error = rejected.ok
      ? new Error('unreachable')
      : new InvalidTransitionError(rejected.rejection);
    return {
      ...deadLetterRecord(goodMessage(c, { error }), c),
      errorType: 'INVALID_TRANSITION',
      reason: 'policy',
      good: true,
    };
  },
  'good transient at its redrive limit': (c) => ({
    ...deadLetterRecord(
      goodMessage(c, { error: new TransientError('timeout'), redriveCount: 5 }),
      c,
    ),
    errorType: 'TRANSIENT',
    reason: 'policy',
    good: true,
  }),
  'good transient from a foreign topic': (c) => ({
    ...deadLetterRecord(
      goodMessage(c, { error: new TransientError('timeout'), sourceTopic: 'payments-elsewhere' }),
      c,
    ),
    errorType: 'TRANSIENT',
    reason: 'policy',
    good: true,
  }),
  'attempts above int32': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(
        m,
        c,
        forged(m, { attempts: INT32_MAX + 1 + Math.floor(c.random() * 1e9) }),
      ),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'out of range',
      good: false,
    };
  },
  'redrive count above int32': (c) => {
    const m = goodMessage(c, { error: new TransientError('timeout') });
    return {
      ...deadLetterRecord(m, c, forged(m, { redriveCount: 2 ** 40 })),
      errorType: 'TRANSIENT',
      reason: 'out of range',
      good: false,
    };
  },
  'partition above int32': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(m, c, forged(m, { source: { ...m.source, partition: 2 ** 33 } })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'out of range',
      good: false,
    };
  },
  'offset above int64': (c) => {
    const m = goodMessage(c);
    const offset = `9${'9'.repeat(19)}${c.offset}`;
    return {
      ...deadLetterRecord(m, c, forged(m, { source: { ...m.source, offset } })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'out of range',
      good: false,
    };
  },
  'far-future failure time': (c) => {
    const m = goodMessage(c, { error: new TransientError('timeout') });
    const at = '9999-12-31T23:59:59.999Z';
    return {
      ...deadLetterRecord(m, c, forged(m, { firstFailureAt: at, lastFailureAt: at })),
      errorType: 'TRANSIENT',
      reason: 'out of range',
      good: false,
    };
  },
  'far-past failure time': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(
        m,
        c,
        forged(m, {
          firstFailureAt: '0000-01-01T00:00:00.000Z',
          lastFailureAt: '1970-01-01T00:00:00.000Z',
        }),
      ),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'out of range',
      good: false,
    };
  },
  'lone surrogate in the payload': (c) => {
    const m = goodMessage(c);
    const json = { ...(m.original.json as object), note: 'half a pair: \ud800' };
    return {
      ...deadLetterRecord(m, c, forged(m, { original: { ...m.original, json } })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'NUL in text columns and payload': (c) => {
    const m = goodMessage(c);
    const json = { ...(m.original.json as object), note: 'nul\u0000here' };
    return {
      ...deadLetterRecord(
        m,
        c,
        forged(m, {
          eventId: `evt\u0000${c.id}`,
          errorMessage: 'bad\u0000byte',
          original: { ...m.original, json },
        }),
      ),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'lone surrogates in text columns': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(m, c, forged(m, { aggregateId: `\udc00${m.aggregateId}\ud83d` })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'huge strings in indexed columns': (c) => {
    const m = goodMessage(c);
    const aggregateId = Array.from({ length: 6_000 }, () =>
      String.fromCharCode(0x4e00 + Math.floor(c.random() * 0x5000)),
    ).join('');
    const topic = `t${'x'.repeat(3_000)}${c.id}`;
    return {
      ...deadLetterRecord(m, c, forged(m, { aggregateId, source: { ...m.source, topic } })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'number jsonb cannot hold': (c) => {
    const m = goodMessage(c);
    const text = forged(m, { extension: '__HUGE__' }).replace('"__HUGE__"', '1e999999');
    return {
      ...deadLetterRecord(m, c, text),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'header names that are Object.prototype members': (c) => {
    const own = PROTO_NAMES.map((key) => ({ key, value: `v-${key}` }));
    const m = goodMessage(c, { headers: own });
    return {
      ...deadLetterRecord(m, c, undefined, own),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'NUL in a header name': (c) => {
    const m = goodMessage(c, { headers: [{ key: 'trace\u0000id', value: 'x' }] });
    return {
      ...deadLetterRecord(m, c),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'policy',
      good: false,
    };
  },
  'unparseable failure time': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(m, c, forged(m, { lastFailureAt: 'yesterday, about noon' })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'salvaged',
      good: false,
    };
  },
  'first failure after last': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(
        m,
        c,
        forged(m, {
          firstFailureAt: new Date(c.now - 1_000).toISOString(),
          lastFailureAt: new Date(c.now - 90_000).toISOString(),
        }),
      ),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'salvaged',
      good: false,
    };
  },
  'negative counts': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(m, c, forged(m, { attempts: -3, redriveCount: -1 })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'salvaged',
      good: false,
    };
  },
  'header values that are not bytes': (c) => {
    const m = goodMessage(c);
    const headers = [
      ...m.headers,
      { key: 'count', value: 5 },
      { key: 7, value: null },
      { key: 'flag', value: true },
    ];
    return {
      ...deadLetterRecord(m, c, forged(m, { headers })),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'salvaged',
      good: false,
    };
  },
  'unknown error type': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(m, c, forged(m, { errorType: 'GREMLINS' })),
      errorType: 'PROCESSING_FAILURE',
      reason: 'salvaged',
      good: false,
    };
  },
  'nesting deeper than any parser': (c) => {
    const m = goodMessage(c);
    const text = forged(m, { original: { ...m.original, json: '__DEEP__' } }).replace(
      '"__DEEP__"',
      nested(20_000 + Math.floor(c.random() * 5_000)),
    );
    return {
      ...deadLetterRecord(m, c, text),
      errorType: 'SCHEMA_VIOLATION',
      reason: 'salvaged',
      good: false,
    };
  },
  'bytes that are not UTF-8': (c) => ({
    key: `garbage-${c.id}`,
    value: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x00, 0x7d, c.offset % 256]),
    headers: [{ key: DRILL_INPUT_HEADER, value: c.id }],
    errorType: 'PROCESSING_FAILURE',
    reason: 'unreadable',
    good: false,
  }),
  tombstone: (c) => ({
    key: `tombstone-${c.id}`,
    value: null,
    headers: [{ key: DRILL_INPUT_HEADER, value: c.id }],
    errorType: 'PROCESSING_FAILURE',
    reason: 'unreadable',
    good: false,
  }),
  'text that is not JSON': (c) => ({
    key: null,
    value: `{not json ${c.id}`,
    headers: [
      { key: DRILL_INPUT_HEADER, value: c.id },
      { key: 'emptyValued', value: '' },
    ],
    errorType: 'PROCESSING_FAILURE',
    reason: 'unreadable',
    good: false,
  }),
  'unknown major format version': (c) => {
    const m = goodMessage(c);
    return {
      ...deadLetterRecord(m, c, forged(m, { formatVersion: '2.0.0' })),
      errorType: 'PROCESSING_FAILURE',
      reason: 'unreadable',
      good: false,
    };
  },
  'raw record from the consumer mapping backstop': (c) => {
    const event = goodMessage(c);
    return {
      key: `hostile-${c.id}`,
      value: Buffer.from(event.original.value ?? '', 'base64'),
      headers: [
        { key: DRILL_INPUT_HEADER, value: c.id },
        { key: 'esm-failure-reason', value: 'handler threw: Error: broker down' },
        { key: 'esm-source-topic', value: c.sourceTopic },
        { key: 'esm-source-partition', value: '0' },
        { key: 'esm-source-offset', value: String(c.offset) },
        { key: 'esm-attempts', value: '4' },
        { key: 'esm-consumer-group', value: 'order-consumer' },
      ],
      errorType: 'PROCESSING_FAILURE',
      reason: 'backstop record',
      good: false,
    };
  },
  'too large to redrive': (c) => {
    // Above order-events' 1 MiB, under the dead-letter topic's 2 MiB once base64-encoded.
    const body = JSON.stringify({ eventId: randomUUID(), note: 'x'.repeat(1_100_000) });
    const m = goodMessage(c, { error: new TransientError('timeout'), value: utf8(body) });
    return {
      ...deadLetterRecord(m, c),
      errorType: 'TRANSIENT',
      reason: 'too large to redrive',
      good: false,
    };
  },
};

/** How often each kind is drawn (the rest 1): good letters are common, huge ones rare. */
const WEIGHTS: Readonly<Record<string, number>> = {
  'good schema violation': 6,
  'good invalid transition': 4,
  'good transient at its redrive limit': 3,
  'good transient from a foreign topic': 2,
  'too large to redrive': 0.25,
  'nesting deeper than any parser': 0.5,
  'huge strings in indexed columns': 0.5,
};

/** `count` records: every kind at least once, the rest drawn by weight; seeded. */
export function hostileCatalog(options: {
  readonly count: number;
  readonly seed: number;
  readonly sourceTopic: string;
  readonly tag: string;
  readonly now: number;
}): Array<HostileRecord & { readonly id: string }> {
  const random = seededRandom(options.seed);
  const names = Object.keys(HOSTILE_KINDS);
  const total = names.reduce((n, k) => n + (WEIGHTS[k] ?? 1), 0);
  const draw = () => {
    let r = random() * total;
    for (const k of names) {
      r -= WEIGHTS[k] ?? 1;
      if (r < 0) return k;
    }
    return names[0] as string;
  };
  const kinds = [...names];
  while (kinds.length < options.count) kinds.push(draw());
  return kinds.map((kind, i) => {
    const id = `hostile-${options.tag}-${i}`;
    const build = HOSTILE_KINDS[kind] as Builder;
    const record = build({
      id,
      sourceTopic: options.sourceTopic,
      offset: 1_000 + i,
      now: options.now,
      random,
    });
    return { ...record, kind, id };
  });
}

// --- injection ----------------------------------------------------------------------------

/**
 * Produces the records as they are (any header name, repeated names, null values), each
 * batch well under the topic's size limit, a large record alone.
 */
export async function injectHostile(
  kafkaEnv: Parameters<typeof createKafka>[0]['connection'],
  topic: string,
  records: readonly HostileRecord[],
): Promise<void> {
  const producer = createKafka({
    clientId: 'drill-hostile-injector',
    connection: kafkaEnv,
    logger: quietLogger,
  }).producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const size = (r: HostileRecord) => (r.value === null ? 0 : Buffer.byteLength(r.value));
    let batch: HostileRecord[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        messages: batch.map((r) => ({ key: r.key, value: r.value, headers: kafkaJsHeaders(r) })),
      });
      batch = [];
      bytes = 0;
    };
    for (const r of records) {
      if (bytes + size(r) > 512 * 1024 || batch.length >= 200) await flush();
      batch.push(r);
      bytes += size(r);
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
}

/** kafkajs headers keeping every name as data (fromEntries: "__proto__" stays a key). */
function kafkaJsHeaders(
  r: HostileRecord,
): Record<string, Buffer | string | Array<Buffer | string>> {
  const grouped = new Map<string, Array<Buffer | string>>();
  for (const h of r.headers) {
    const values = grouped.get(h.key) ?? [];
    values.push(h.value as Buffer | string);
    grouped.set(h.key, values);
  }
  return Object.fromEntries(
    [...grouped].map(([k, v]) => [k, v.length === 1 ? (v[0] as Buffer | string) : v]),
  );
}

// --- the drill ----------------------------------------------------------------------------

interface ParkedRow {
  readonly input: string | null;
  readonly error_type: string;
  readonly kind: string;
  readonly raw: boolean;
  readonly changed: boolean;
}

/** Every row, with the input id its message carries among its headers. */
async function parkedRows(pool: Pool): Promise<ParkedRow[]> {
  const { rows } = await pool.query<ParkedRow>(
    `SELECT (SELECT convert_from(decode(h->>'value', 'base64'), 'UTF8')
               FROM jsonb_array_elements(message->'headers') h
              WHERE h->>'key' = $1 LIMIT 1) AS input,
            error_type,
            split_part(park_reason, ':', 1) AS kind,
            raw_record IS NOT NULL AS raw,
            split_part(park_reason, ':', 1) IN ('out of range', 'salvaged', 'backstop record', 'unreadable')
              OR park_reason LIKE '%stored with changes%'
              OR park_reason LIKE '%PostgreSQL refused%' AS changed
       FROM dead_letters`,
    [DRILL_INPUT_HEADER],
  );
  return rows;
}

export const hostileDeadLettersDrill: Drill = {
  id: 'hostile-dead-letters',
  title: 'Hostile dead letters on the dead-letter topic',
  proves:
    'every broken or forged dead letter is parked with a reason (and its bytes): none skipped, none sent to the backstop',
  async run(ctx: DrillContext): Promise<DrillResult> {
    const started = Date.now();
    const count = ctx.quick ? 150 : 1_200;
    const h = await createHarness(ctx.config, 'hostile-dead-letters', ctx.shared, {
      viaOutbox: false,
    });
    try {
      const records = hostileCatalog({
        count,
        seed: ctx.seed,
        sourceTopic: h.topics.topics.orderEvents,
        tag: h.topics.groupSuffix.slice(-10),
        now: Date.now(),
      });
      const kinds = new Set(records.map((r) => r.kind)).size;
      ctx.progress(`${records.length} dead-letter records of ${kinds} kinds (seed ${ctx.seed})`);
      await injectHostile(h.endpoints.kafkaEnv, h.topics.topics.deadLetter, records);

      const triage = await h.startTriage();
      let drained = false;
      const triagedAt = Date.now();
      try {
        drained = await h.waitForDrain(ctx.quick ? 90_000 : 300_000, {
          until: async () => {
            const { rows } = await h.db.pool.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM dead_letters',
            );
            return (rows[0]?.n ?? 0) >= records.length;
          },
        });
      } finally {
        await triage.stop();
      }
      const triageMs = Date.now() - triagedAt;
      const stats = triage.mapping.stats();

      // Ground truth: the dead-letter topic and the dead_letters table, never triage's counters.
      const [onTopic, rows] = await Promise.all([
        readTopic(h.endpoints.kafkaEnv, h.topics.topics.deadLetter),
        parkedRows(h.db.pool),
      ]);
      const copies = new Map<string, number>();
      for (const r of onTopic) {
        const id = r.headers.findLast((x) => x.key === DRILL_INPUT_HEADER)?.value;
        if (id === undefined || id === null) continue;
        const key = Buffer.from(id).toString('utf8');
        copies.set(key, (copies.get(key) ?? 0) + 1);
      }
      const parked = new Map<string, ParkedRow[]>();
      for (const row of rows) {
        if (row.input === null) continue;
        parked.set(row.input, [...(parked.get(row.input) ?? []), row]);
      }

      const byReason: Record<string, number> = {};
      const byType: Record<string, number> = {};
      const labels = new Map<string, LabelRow>();
      const skipped: Misfiled[] = [];
      const misparked: Misfiled[] = [];
      const rawMissing: string[] = [];
      const twice: string[] = [];
      for (const r of records) {
        const label = labels.get(r.kind) ?? {
          label: r.kind,
          expected: r.errorType,
          produced: 0,
          applied: 0,
          deadLettered: {},
          lost: 0,
        };
        labels.set(r.kind, label);
        label.produced++;
        const found = parked.get(r.id) ?? [];
        const row = found[0];
        if (row === undefined) {
          label.lost++;
          skipped.push({ id: r.id, label: r.kind, expected: r.errorType, got: 'not parked' });
          continue;
        }
        if (found.length > 1) twice.push(`${r.kind} ${r.id}: ${found.length} rows`);
        const got = `${row.error_type}/${row.kind}`;
        label.deadLettered[got] = (label.deadLettered[got] ?? 0) + 1;
        byReason[got] = (byReason[got] ?? 0) + 1;
        byType[row.error_type] = (byType[row.error_type] ?? 0) + 1;
        if (row.error_type !== r.errorType || row.kind !== r.reason) {
          misparked.push({
            id: r.id,
            label: r.kind,
            expected: r.errorType,
            got: `${got} (expected ${r.errorType}/${r.reason})`,
          });
        }
        if (row.changed && r.value !== null && !row.raw) rawMissing.push(`${r.kind} ${r.id}`);
      }

      const inputsOnTopic = records.filter((r) => (copies.get(r.id) ?? 0) > 0).length;
      const backstop = stats.sentToOnFailure;
      const examples: Record<string, string[]> = {};
      if (skipped.length > 0) examples.lost = skipped.slice(0, 10).map((m) => `${m.label} ${m.id}`);
      if (rawMissing.length > 0) examples['raw bytes missing'] = rawMissing.slice(0, 10);
      if (twice.length > 0) examples['parked twice'] = twice.slice(0, 10);
      const accounting: Accounting = {
        produced: records.length,
        published: inputsOnTopic,
        onTopic: inputsOnTopic,
        topicCopies: [...copies.values()].reduce((n, v) => n + v, 0),
        appliedOnce: 0,
        appliedTwice: 0,
        // Every input is a record on the dead-letter topic: that is where it was injected.
        deadLettered: inputsOnTopic,
        deadLetteredByType: byType,
        deadLetterCopies: [...copies.values()].reduce((n, v) => n + v, 0),
        maxDeadLetterCopies: Math.max(0, ...copies.values()),
        lost: skipped.length,
        parkedByType: byType,
        misfiled: skipped,
        parkedMisfiled: misparked,
        goodDeadLetteredByType: {},
        stateMismatches: [],
        unexpectedOrders: 0,
        byLabel: [...labels.values()],
        examples,
      };
      const checks = [
        h.crashCheck(),
        { name: 'triage drained the dead-letter topic', ok: drained },
        {
          name: 'every injected record is on the dead-letter topic',
          ok: inputsOnTopic === records.length,
        },
        { name: `0 skipped (${skipped.length} not parked)`, ok: skipped.length === 0 },
        {
          name: `every record parked with its type and reason (${misparked.length} not)`,
          ok: misparked.length === 0,
        },
        {
          name: 'each record parked once',
          ok: twice.length === 0 && rows.length === records.length,
        },
        {
          name: 'raw bytes kept wherever the row is not the record as received',
          ok: rawMissing.length === 0,
        },
        { name: `0 sent to the mapping backstop (${backstop})`, ok: backstop === 0 },
        {
          name: 'no batch handed back or retried',
          ok: stats.retries === 0 && stats.bisects === 0 && triage.counters.errors === 0,
        },
        { name: 'nothing redriven (every kind parks)', ok: triage.counters.redriven === 0 },
      ];
      return drillResult(
        this,
        { startedAt: started, logPath: h.logPath },
        {
          accounting,
          checks,
          details: {
            'records injected': records.length,
            kinds,
            seed: ctx.seed,
            parked: rows.length,
            'parked by type/reason': Object.entries(byReason)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, n]) => `${k} ${n}`)
              .join(', '),
            'raw bytes kept': rows.filter((r) => r.raw).length,
            skipped: skipped.length,
            'sent to the backstop': backstop,
            redriven: triage.counters.redriven,
            'invocations / retries / bisects': `${stats.invocations} / ${stats.retries} / ${stats.bisects}`,
            'triage time (incl. drain polls)': `${(triageMs / 1000).toFixed(1)} s`,
          },
        },
      );
    } finally {
      await h.close();
    }
  },
};
