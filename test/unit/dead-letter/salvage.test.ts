import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  buildDeadLetter,
  type DeadLetterMessage,
  deadLetterSchema,
} from '../../../lambdas/shared/dead-letter/message';
import {
  backstopOrigin,
  MAPPING_BACKSTOP_HEADERS,
  salvageDeadLetter,
  withoutBackstopHeaders,
} from '../../../lambdas/shared/dead-letter/salvage';
import { SchemaViolationError } from '../../../lambdas/shared/errors/taxonomy';

const NOW = Date.parse('2026-12-03T12:00:00.000Z');

function deadLetter(): DeadLetterMessage {
  return buildDeadLetter({
    value: Buffer.from('{"eventId":"e1"}'),
    key: 'order-1',
    headers: [{ key: 'drillInputId', value: 'in-1' }],
    source: { topic: 'order-events', partition: 2, offset: '41' },
    error: new SchemaViolationError('bad'),
    attempts: 3,
    firstFailureAt: new Date(NOW - 60_000),
    lastFailureAt: new Date(NOW - 1_000),
  });
}

/** A dead letter's JSON value with fields replaced (undefined removes one). */
function damaged(changes: Record<string, unknown>): unknown {
  const value: Record<string, unknown> = JSON.parse(JSON.stringify(deadLetter()));
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete value[k];
    else value[k] = v;
  }
  return value;
}

describe('salvageDeadLetter', () => {
  it.each([
    [
      'unparseable failure time',
      { lastFailureAt: 'yesterday' },
      /lastFailureAt "yesterday" stored as 2026-12-03T12:00:00.000Z/,
    ],
    [
      'first failure after last',
      { firstFailureAt: '2026-12-03T11:59:59.500Z' },
      /firstFailureAt after lastFailureAt/,
    ],
    ['negative attempts', { attempts: -3 }, /attempts -3 stored as 1/],
    ['fractional redrive count', { redriveCount: 1.5 }, /redriveCount 1.5 stored as 1/],
    ['a huge count', { attempts: 1e300 }, /attempts 1e\+300 stored as 2147483647/],
    ['counts as strings', { attempts: '3' }, /attempts "3" stored as 1/],
    [
      'an unknown error type',
      { errorType: 'GREMLINS' },
      /errorType "GREMLINS" stored as PROCESSING_FAILURE/,
    ],
    [
      'headers that are not bytes',
      {
        headers: [
          { key: 'a', value: 5 },
          { key: 7, value: null },
          { key: 'ok', value: null },
        ],
      },
      /2 header\(s\) without a string key and base64 value dropped/,
    ],
    [
      'headers that are not a list',
      { headers: { a: 1 } },
      /headers \[object Object\] stored as \[\]/,
    ],
    ['a key that is not base64', { key: '%%%' }, /key "%%%" is not base64; stored as null/],
    [
      'far-past failure times',
      { firstFailureAt: '1999-01-01T00:00:00Z', lastFailureAt: '1999-01-02T00:00:00Z' },
      /stored as 2000-01-01T00:00:00.000Z/,
    ],
    ['a missing format version', { formatVersion: undefined }, undefined],
  ])('repairs %s and keeps the source and the exact bytes', (_name, changes, repair) => {
    const salvaged = salvageDeadLetter(damaged(changes), NOW);
    expect(salvaged).toBeDefined();
    if (salvaged === undefined) return;
    expect(deadLetterSchema.safeParse(salvaged.message).success).toBe(true);
    expect(salvaged.message.source).toEqual({ topic: 'order-events', partition: 2, offset: '41' });
    expect(salvaged.message.original.value).toBe(deadLetter().original.value);
    if (repair !== undefined) expect(salvaged.repairs.join('; ')).toMatch(repair);
  });

  it('clamps a partition and an offset the columns cannot hold', () => {
    const salvaged = salvageDeadLetter(
      damaged({
        attempts: 0,
        source: { topic: 'order-events', partition: 2 ** 40, offset: '9'.repeat(30) },
      }),
      NOW,
    );
    expect(salvaged?.message.source).toEqual({
      topic: 'order-events',
      partition: 2_147_483_647,
      offset: '9223372036854775807',
    });
  });

  it.each([
    ['no source', { source: undefined }],
    ['a source without a topic', { source: { partition: 1, offset: '1' } }],
    ['a negative offset', { source: { topic: 't', partition: 1, offset: -1 } }],
    ['a non-integer partition', { source: { topic: 't', partition: 'one', offset: '1' } }],
    ['original bytes that are not base64', { original: { value: 'not base64!' } }],
    ['no original', { original: undefined }],
  ])('gives up on %s (nothing trustworthy to restore)', (_name, changes) => {
    expect(salvageDeadLetter(damaged(changes), NOW)).toBeUndefined();
  });

  it.each([
    null,
    42,
    'text',
    [],
    [1, 2],
    // Fields only on the prototype are not the record's.
    Object.create({
      source: { topic: 'order-events', partition: 0, offset: '1' },
      original: { value: null },
    }),
  ])('never throws and reads nothing inherited: %j', (value) => {
    expect(salvageDeadLetter(value, NOW)).toBeUndefined();
  });
});

describe('backstopOrigin', () => {
  const headers = (over: Record<string, string> = {}) =>
    Object.entries({
      [MAPPING_BACKSTOP_HEADERS.reason]: 'handler threw',
      [MAPPING_BACKSTOP_HEADERS.sourceTopic]: 'order-events',
      [MAPPING_BACKSTOP_HEADERS.sourcePartition]: '3',
      [MAPPING_BACKSTOP_HEADERS.sourceOffset]: '77',
      [MAPPING_BACKSTOP_HEADERS.attempts]: '4',
      [MAPPING_BACKSTOP_HEADERS.consumerGroup]: 'g',
      trace: 'keep me',
      ...over,
    }).map(([key, value]) => ({ key, value }));

  it('reads the origin the failure headers name', () => {
    expect(backstopOrigin(headers())).toEqual({
      source: { topic: 'order-events', partition: 3, offset: '77' },
      reason: 'handler threw',
      attempts: 4,
      consumerGroup: 'g',
    });
    expect(withoutBackstopHeaders(headers()).map((h) => h.key)).toEqual(['trace']);
  });

  it.each([
    ['a topic Kafka would not accept', { 'esm-source-topic': 'a/b' }],
    ['a topic longer than 249', { 'esm-source-topic': 't'.repeat(250) }],
    ['a negative partition', { 'esm-source-partition': '-1' }],
    ['a partition above int32', { 'esm-source-partition': '4294967296' }],
    ['an offset above int64', { 'esm-source-offset': '9223372036854775808' }],
    ['a non-numeric offset', { 'esm-source-offset': '1e3' }],
  ])('ignores forged headers: %s', (_name, over) => {
    expect(backstopOrigin(headers(over))).toBeUndefined();
  });

  it('is undefined for a record without them', () => {
    expect(backstopOrigin([{ key: 'trace', value: 'x' }])).toBeUndefined();
  });
});
