// The Kafka partial batch response, as the functions write it and as Lambda reads it.
import { describe, expect, it } from 'vitest';
import {
  batchItemFailures,
  batchItemIdentifier,
  type MskEventLike,
  readBatchResponse,
} from '../../../lambdas/shared/kafka/msk-event';

const T = 'order-events';
const event: MskEventLike = {
  records: {
    [`${T}-0`]: [10, 11, 12].map((offset) => ({ topic: T, partition: 0, offset })),
    [`${T}-3`]: [7].map((offset) => ({ topic: T, partition: 3, offset })),
  },
};

describe('batchItemIdentifier', () => {
  it('names the partition as <topic>-<partition> and the offset as a number', () => {
    expect(batchItemIdentifier({ topic: 'a-b-c', partition: 3, offset: '42' })).toEqual({
      partition: 'a-b-c-3',
      offset: 42,
    });
  });

  it('refuses an offset that a JSON number cannot carry exactly', () => {
    expect(() => batchItemIdentifier({ topic: T, partition: 0, offset: 2n ** 60n })).toThrow(
      RangeError,
    );
  });
});

describe('batchItemFailures', () => {
  it('keeps the earliest failed record of each partition', () => {
    const failures = batchItemFailures([
      { topic: T, partition: 0, offset: '12' },
      { topic: T, partition: 0, offset: '11' },
      { topic: T, partition: 3, offset: 7 },
    ]);
    expect(failures).toEqual([
      { itemIdentifier: { partition: `${T}-0`, offset: 11 } },
      { itemIdentifier: { partition: `${T}-3`, offset: 7 } },
    ]);
  });
});

describe('readBatchResponse', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an empty object', {}],
    ['an empty list', { batchItemFailures: [] }],
    ['a null list', { batchItemFailures: null }],
  ])('reads %s as complete success', (_name, response) => {
    const verdict = readBatchResponse(event, response);
    expect(verdict).toEqual({ ok: true, resumeFrom: new Map() });
  });

  it('resumes each partition at its lowest reported offset', () => {
    const verdict = readBatchResponse(event, {
      batchItemFailures: [
        { itemIdentifier: { partition: `${T}-0`, offset: 12 } },
        { itemIdentifier: { partition: `${T}-0`, offset: 11 } },
      ],
    });
    expect(verdict).toEqual({ ok: true, resumeFrom: new Map([[`${T}-0`, 11]]) });
  });

  it.each([
    [
      'a string identifier',
      { batchItemFailures: [{ itemIdentifier: `${T}-0-11` }] },
      'not a Kafka',
    ],
    ['an empty string', { batchItemFailures: [{ itemIdentifier: '' }] }, 'not a Kafka'],
    ['a missing identifier', { batchItemFailures: [{}] }, 'not a Kafka'],
    [
      'an offset as a string',
      { batchItemFailures: [{ itemIdentifier: { partition: `${T}-0`, offset: '11' } }] },
      'offset',
    ],
    [
      'a partition without its topic',
      { batchItemFailures: [{ itemIdentifier: { partition: 0, offset: 11 } }] },
      'partition',
    ],
    [
      'the Python PR draft key topic-partition',
      { batchItemFailures: [{ itemIdentifier: { 'topic-partition': `${T}-0`, offset: 11 } }] },
      'partition',
    ],
    [
      'an offset not in the batch',
      { batchItemFailures: [{ itemIdentifier: { partition: `${T}-0`, offset: 13 } }] },
      'not a record of this batch',
    ],
    [
      'a partition not in the batch',
      { batchItemFailures: [{ itemIdentifier: { partition: `${T}-1`, offset: 11 } }] },
      'not a record of this batch',
    ],
    ['a list that is not a list', { batchItemFailures: 'all' }, 'not a list'],
    ['a string response', 'ok', 'not an object'],
  ])('reads %s as a failure of the whole batch', (_name, response, reason) => {
    const verdict = readBatchResponse(event, response);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? '' : verdict.reason).toContain(reason);
  });
});
