// What a dead_letters row can hold: each hostile value is bounded, escaped or shortened, and
// said so; nothing here may throw. PostgreSQL's own refusals are checked in
// test/integration/dlq-triage-hostile.test.ts.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  boundedDeadLetterRow,
  buildDeadLetter,
  type DeadLetterMessage,
  decodeDeadLetter,
  jsonbSafeJson,
  jsonbText,
  MAX_JSON_DEPTH,
  nestedDeeperThan,
  pgText,
  ROW_LIMITS,
} from '../../../lambdas/shared/dead-letter/message';
import { SchemaViolationError } from '../../../lambdas/shared/errors/taxonomy';

const NOW = Date.parse('2026-12-03T12:00:00.000Z');

function message(overrides: Partial<DeadLetterMessage> = {}): DeadLetterMessage {
  const base = buildDeadLetter({
    value: Buffer.from(JSON.stringify({ eventId: 'e1', aggregateId: 'order-1', data: { a: 1 } })),
    key: 'order-1',
    headers: [{ key: 'correlationId', value: 'c1' }],
    source: { topic: 'order-events', partition: 2, offset: '41' },
    error: new SchemaViolationError('bad'),
    attempts: 3,
    firstFailureAt: new Date(NOW - 60_000),
    lastFailureAt: new Date(NOW - 1_000),
  });
  return { ...base, ...overrides };
}

const bounded = (overrides: Partial<DeadLetterMessage>) =>
  boundedDeadLetterRow(message(overrides), NOW);

/** Text a PostgreSQL text column refuses (NUL) or would alter (an unpaired surrogate). */
const unstorable = (text: string) =>
  text.includes('\u0000') ||
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

describe('jsonbSafeJson: the one jsonb escaping rule', () => {
  it.each([
    ['NUL', '"a\\u0000b"', '"a\\ufffdb"'],
    ['a lone high surrogate', '"\\ud800"', '"\\ufffd"'],
    ['a lone low surrogate', '"x\\uDC00"', '"x\\ufffd"'],
    ['a high surrogate before a non-surrogate', '"\\ud83d\\u0041"', '"\\ufffd\\u0041"'],
    ['two high surrogates', '"\\ud83d\\ud83d\\ude00"', '"\\ufffd\\ud83d\\ude00"'],
    ['a NUL in a key', '{"k\\u0000":1}', '{"k\\ufffd":1}'],
  ])('replaces %s', (_name, input, output) => {
    expect(jsonbSafeJson(input)).toBe(output);
  });

  it.each([
    ['a surrogate pair', '"\\ud83d\\ude00"'],
    ['an escaped backslash before u0000', '"\\\\u0000"'],
    ['an escaped backslash before ud800', '"\\\\ud800"'],
    ['other escapes', '"\\u00e9\\n\\t\\""'],
  ])('keeps %s', (_name, input) => {
    expect(jsonbSafeJson(input)).toBe(input);
  });

  it('jsonbText escapes what JSON.stringify leaves (lone surrogates, NUL)', () => {
    const text = jsonbText({ a: '\ud800', b: 'x\u0000', ok: '😀' });
    expect(JSON.parse(text)).toEqual({ a: '\ufffd', b: 'x\ufffd', ok: '😀' });
  });
});

describe('pgText', () => {
  it('replaces NUL and unpaired surrogates, keeps pairs', () => {
    expect(pgText('a\u0000b\ud800c\udc00😀')).toBe('a\ufffdb\ufffdc\ufffd😀');
  });
});

describe('boundedDeadLetterRow', () => {
  it('a dead letter as the consumer writes it is stored unchanged, with nothing to say', () => {
    const { row, adjustments } = bounded({});
    expect(adjustments).toEqual([]);
    expect(row).toMatchObject({ attempts: 3, source_partition: 2, source_offset: '41' });
  });

  it.each([
    ['attempts', { attempts: 2 ** 31 }, 'attempts', 2_147_483_647],
    ['attempts', { attempts: 2 ** 53 - 1 }, 'attempts', 2_147_483_647],
    ['redrive_count', { redriveCount: 2 ** 40 }, 'redriveCount', 2_147_483_647],
  ] as const)('clamps %s into the integer column', (column, overrides, field, stored) => {
    const { row, adjustments } = bounded(overrides);
    expect(row[column]).toBe(stored);
    expect(adjustments).toEqual([
      {
        field,
        kind: 'range',
        detail: `${Object.values(overrides)[0]} is outside ${field === 'attempts' ? 1 : 0}..2147483647; stored 2147483647`,
      },
    ]);
  });

  it('clamps the source partition and offset into integer and bigint', () => {
    const { row, adjustments } = bounded({
      source: { topic: 'order-events', partition: 2 ** 33, offset: '99999999999999999999' },
    });
    expect(row.source_partition).toBe(ROW_LIMITS.int32Max);
    expect(row.source_offset).toBe('9223372036854775807');
    expect(adjustments.map((a) => [a.field, a.kind])).toEqual([
      ['source.offset', 'range'],
      ['source.partition', 'range'],
    ]);
    expect(adjustments[0]?.detail).toContain('99999999999999999999');
  });

  it('clamps failure times into [2000-01-01, now + 1 min] with first <= last', () => {
    const future = bounded({
      firstFailureAt: '9999-12-31T23:59:59.999Z',
      lastFailureAt: '9999-12-31T23:59:59.999Z',
    });
    expect(future.row.last_failed_at).toBe(new Date(NOW).toISOString());
    expect(future.row.first_failed_at).toBe(new Date(NOW).toISOString());
    expect(future.adjustments.map((a) => a.detail)).toEqual([
      `9999-12-31T23:59:59.999Z is after now + 60 s; stored ${new Date(NOW).toISOString()}`,
      `9999-12-31T23:59:59.999Z is after now + 60 s; stored ${new Date(NOW).toISOString()}`,
    ]);
    const past = bounded({
      firstFailureAt: '0000-01-01T00:00:00.000Z',
      lastFailureAt: '1970-01-01T00:00:00.000Z',
    });
    expect(past.row.first_failed_at).toBe('2000-01-01T00:00:00.000Z');
    expect(past.row.last_failed_at).toBe('2000-01-01T00:00:00.000Z');
    // A first failure after the last once the last is clamped: first becomes last.
    const crossed = bounded({
      firstFailureAt: new Date(NOW - 1_000).toISOString(),
      lastFailureAt: '9999-01-01T00:00:00.000Z',
    });
    expect(crossed.row.first_failed_at <= crossed.row.last_failed_at).toBe(true);
  });

  it('lets a failure time within the clock skew through unchanged', () => {
    const soon = new Date(NOW + 30_000).toISOString();
    const { row, adjustments } = bounded({ firstFailureAt: soon, lastFailureAt: soon });
    expect(row.last_failed_at).toBe(soon);
    expect(adjustments).toEqual([]);
  });

  it('makes text storable and says so, as text (not range) adjustments', () => {
    const { row, adjustments } = bounded({
      eventId: 'evt\u00001',
      aggregateId: '\udc00order\ud83d',
      errorMessage: 'bad\u0000byte',
    });
    expect(row.event_id).toBe('evt\ufffd1');
    expect(row.aggregate_id).toBe('\ufffdorder\ufffd');
    expect(row.error_message).toBe('bad\ufffdbyte');
    expect(adjustments.every((a) => a.kind === 'text')).toBe(true);
    expect(adjustments.map((a) => a.field)).toEqual(['eventId', 'aggregateId', 'errorMessage']);
  });

  it('shortens text for btree-indexed columns at a character boundary', () => {
    const aggregateId = '漢'.repeat(2_000); // 3 bytes each
    const topic = 't'.repeat(5_000);
    const { row, adjustments } = bounded({
      aggregateId,
      source: { topic, partition: 0, offset: '1' },
      errorMessage: 'e'.repeat(100_000),
    });
    expect(Buffer.byteLength(row.aggregate_id ?? '')).toBe(1_023);
    expect(row.aggregate_id).toBe('漢'.repeat(341));
    expect(row.source_topic).toHaveLength(ROW_LIMITS.shortTextBytes);
    expect(row.error_message).toHaveLength(ROW_LIMITS.errorMessageBytes);
    expect(adjustments.map((a) => a.detail)).toEqual([
      '6000 bytes shortened to 1024',
      '100000 bytes shortened to 16384',
      '5000 bytes shortened to 1024',
    ]);
  });

  it('escapes the payload copy for jsonb', () => {
    const m = message();
    const { row, adjustments } = boundedDeadLetterRow(
      { ...m, original: { ...m.original, json: { note: 'half \ud800', nul: '\u0000' } } },
      NOW,
    );
    expect(JSON.parse(row.payload)).toEqual({ note: 'half \ufffd', nul: '\ufffd' });
    expect(adjustments).toEqual([
      {
        field: 'original',
        kind: 'text',
        detail: 'NUL or unpaired surrogate escapes replaced with \\ufffd in the payload copy',
      },
    ]);
  });

  it('never leaves a value a column refuses, whatever the message holds', () => {
    const { row } = bounded({
      eventId: '\u0000',
      eventType: '\ud800',
      aggregateId: '\udfff'.repeat(3_000),
      correlationId: 'c\u0000',
      errorMessage: '\u0000'.repeat(20_000),
      source: {
        topic: '\ud800'.repeat(2_000),
        partition: Number.MAX_SAFE_INTEGER,
        offset: '9'.repeat(40),
      },
      attempts: Number.MAX_SAFE_INTEGER,
      redriveCount: Number.MAX_SAFE_INTEGER,
    });
    for (const text of [
      row.event_id,
      row.event_type,
      row.aggregate_id,
      row.correlation_id,
      row.error_message,
      row.source_topic,
    ]) {
      expect(unstorable(text ?? '')).toBe(false);
      expect(Buffer.byteLength(text ?? '')).toBeLessThanOrEqual(ROW_LIMITS.errorMessageBytes);
    }
    expect(row.attempts).toBeLessThanOrEqual(ROW_LIMITS.int32Max);
    expect(BigInt(row.source_offset)).toBeLessThanOrEqual(ROW_LIMITS.int64Max);
  });
});

describe('nesting deeper than the parsers take', () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('nestedDeeperThan is iterative: a million levels do not overflow', () => {
    expect(nestedDeeperThan(JSON.parse(deep(1_000_000)), MAX_JSON_DEPTH)).toBe(true);
    expect(nestedDeeperThan(JSON.parse(deep(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).toBe(false);
    expect(nestedDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestedDeeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
  });

  it('decodeDeadLetter reports a deeply nested record instead of overflowing the stack', () => {
    const m = message();
    const text = JSON.stringify({ ...m, original: { ...m.original, json: 'DEEP' } }).replace(
      '"DEEP"',
      deep(50_000),
    );
    const decoded = decodeDeadLetter(Buffer.from(text));
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error.kind).toBe('NOT_A_DEAD_LETTER');
    expect(decoded.error.issues[0]?.message).toMatch(/nested deeper than/);
  });

  it('buildDeadLetter keeps a deeply nested value as bytes only (no parsed copy)', () => {
    const value = Buffer.from(deep(50_000));
    const built = buildDeadLetter({
      value,
      key: null,
      source: { topic: 'order-events-dlq', partition: 0, offset: 1 },
      error: new SchemaViolationError('x'),
      attempts: 1,
      firstFailureAt: new Date(NOW),
    });
    expect(built.original.json).toBeUndefined();
    expect(built.original.value).toBe(value.toString('base64'));
    expect(() => JSON.stringify(built)).not.toThrow();
  });
});
