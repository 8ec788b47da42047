import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildOnFailureRecord,
  type OnFailureDocument,
  type OnFailureEventInput,
  onFailureObjectKey,
  parseOnFailureRecord,
  recordsOf,
} from '../../../lambdas/shared/kafka/on-failure-record';

const FIXTURE = join(__dirname, '../../fixtures/aws/s3-on-failure/msk-retries-exhausted.json');

function fixtureText(): string {
  return readFileSync(FIXTURE, 'utf8');
}

function fixture(): Record<string, unknown> {
  return JSON.parse(fixtureText()) as Record<string, unknown>;
}

function parsed(json: unknown) {
  const result = parseOnFailureRecord(json);
  if (!result.ok) throw new Error(result.error.message);
  return result.record;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

function event(): OnFailureEventInput {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/abc',
    bootstrapServers: 'b-1:9098',
    records: {
      'dlq-1': [
        {
          topic: 'dlq',
          partition: 1,
          offset: 11,
          timestamp: Date.parse('2026-12-01T10:00:01.000Z'),
          key: b64('k2'),
          value: b64('v2'),
          headers: [],
        },
        {
          topic: 'dlq',
          partition: 1,
          offset: 10,
          timestamp: Date.parse('2026-12-01T10:00:00.000Z'),
          key: null,
          value: b64('v1'),
          headers: [{ h: [1, 2] }],
        },
      ],
      'dlq-0': [
        {
          topic: 'dlq',
          partition: 0,
          offset: 7,
          timestamp: Date.parse('2026-12-01T09:59:00.000Z'),
          value: null,
        },
      ],
    },
  };
}

describe('parseOnFailureRecord: the documented shape', () => {
  it('reads the fixture: metadata, and payload as the whole MSK event', () => {
    const record = parsed(fixture());
    expect(record.requestContext).toEqual({
      requestId: 'c3f1a7d2-64be-4f0b-8e2a-5d9b7c1e4a08',
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:order-pipeline-dev-dlq-triage',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 4,
    });
    expect(record.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(record.version).toBe('1.0');
    expect(record.KafkaBatchInfo.batchSize).toBe(2);
    expect(Object.keys(record.payload.records)).toEqual(['order-events-dlq-2']);
    expect(record.KafkaBatchInfo.payloadSize).toBe(
      Buffer.byteLength(fixture().payload as string, 'utf8'),
    );
  });

  it('accepts the document as text too', () => {
    expect(parsed(fixtureText()).requestContext.condition).toBe('RetryAttemptsExhausted');
  });

  it('keeps fields AWS may add later (tolerant, not stripping)', () => {
    const doc = fixture();
    doc.somethingNew = { a: 1 };
    (doc.requestContext as Record<string, unknown>).extra = 'x';
    const record = parsed(doc);
    expect((record as Record<string, unknown>).somethingNew).toEqual({ a: 1 });
    expect((record.requestContext as Record<string, unknown>).extra).toBe('x');
  });

  it('accepts an unknown condition, a 1.x version and a null responseContext', () => {
    const doc = fixture();
    (doc.requestContext as Record<string, unknown>).condition = 'SomethingAwsAddsLater';
    doc.version = '1.7';
    doc.responseContext = null;
    const record = parsed(doc);
    expect(record.requestContext.condition).toBe('SomethingAwsAddsLater');
    expect(record.responseContext).toBeNull();
  });

  it('accepts a self-managed Kafka document (no eventSourceArn) and string offsets', () => {
    const doc = fixture();
    delete (doc.KafkaBatchInfo as Record<string, unknown>).eventSourceArn;
    const payload = JSON.parse(doc.payload as string) as Record<string, unknown>;
    delete payload.eventSourceArn;
    payload.eventSource = 'SelfManagedKafka';
    const records = payload.records as Record<string, Array<Record<string, unknown>>>;
    for (const r of records['order-events-dlq-2'] ?? []) r.offset = String(r.offset);
    doc.payload = JSON.stringify(payload);
    expect(recordsOf(parsed(doc)).map((r) => r.offset)).toEqual(['941', '942']);
  });
});

describe('parseOnFailureRecord: malformed documents are rejected with their paths', () => {
  type Case = [string, (doc: Record<string, unknown>) => unknown, string, RegExp];
  const cases: Case[] = [
    ['text that is not JSON', () => '{"requestContext":', 'NOT_JSON', /not JSON/],
    ['an array', () => [], 'INVALID', /not an on-failure invocation record/],
    ['another major version', (d) => ({ ...d, version: '2.0' }), 'UNSUPPORTED_VERSION', /2\.0/],
    [
      'no payload (an SQS/SNS-style record)',
      (d) => ({ ...d, payload: undefined }),
      'INVALID',
      /payload/,
    ],
    [
      'payload as an object instead of the documented escaped JSON string',
      (d) => ({ ...d, payload: JSON.parse(d.payload as string) }),
      'INVALID',
      /payload/,
    ],
    [
      'payload that is not JSON',
      (d) => ({ ...d, payload: '{oops' }),
      'INVALID',
      /payload: is not JSON/,
    ],
    [
      'payload without records',
      (d) => ({ ...d, payload: JSON.stringify({ eventSource: 'aws:kafka' }) }),
      'INVALID',
      /payload\.records/,
    ],
    [
      'a record filed under another partition',
      (d) => {
        const p = JSON.parse(d.payload as string) as { records: Record<string, unknown[]> };
        p.records = { 'order-events-dlq-3': p.records['order-events-dlq-2'] ?? [] };
        return { ...d, payload: JSON.stringify(p) };
      },
      'INVALID',
      /payload\.records\.order-events-dlq-3\[0\]: record of order-events-dlq-2/,
    ],
    [
      'a record value that is not base64',
      (d) => {
        const p = JSON.parse(d.payload as string) as {
          records: Record<string, Array<Record<string, unknown>>>;
        };
        const first = p.records['order-events-dlq-2']?.[0];
        if (first) first.value = 'not base64!';
        return { ...d, payload: JSON.stringify(p) };
      },
      'INVALID',
      /payload\.records\.order-events-dlq-2\[0\]\.value/,
    ],
    [
      'a negative partition',
      (d) => {
        const p = JSON.parse(d.payload as string) as {
          records: Record<string, Array<Record<string, unknown>>>;
        };
        const first = p.records['order-events-dlq-2']?.[0];
        if (first) first.partition = -1;
        return { ...d, payload: JSON.stringify(p) };
      },
      'INVALID',
      /partition/,
    ],
    [
      'requestContext missing',
      (d) => ({ ...d, requestContext: undefined }),
      'INVALID',
      /requestContext/,
    ],
    [
      'approximateInvokeCount not an integer',
      (d) => ({
        ...d,
        requestContext: { ...(d.requestContext as object), approximateInvokeCount: 1.5 },
      }),
      'INVALID',
      /requestContext\.approximateInvokeCount/,
    ],
    [
      'a timestamp that is not ISO-8601 UTC',
      (d) => ({ ...d, timestamp: 'yesterday' }),
      'INVALID',
      /timestamp/,
    ],
    [
      'KafkaBatchInfo missing',
      (d) => ({ ...d, KafkaBatchInfo: undefined }),
      'INVALID',
      /KafkaBatchInfo/,
    ],
    [
      'a recordsInfo offset that is not a decimal string',
      (d) => {
        const info = d.KafkaBatchInfo as { recordsInfo: Record<string, Record<string, unknown>> };
        const entry = info.recordsInfo['order-events-dlq-2'];
        if (entry) entry.firstRecordOffset = 941;
        return d;
      },
      'INVALID',
      /KafkaBatchInfo\.recordsInfo\.order-events-dlq-2\.firstRecordOffset/,
    ],
  ];
  it.each(cases)('%s', (_name, mutate, kind, message) => {
    const result = parseOnFailureRecord(mutate(fixture()));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.kind).toBe(kind);
    expect(result.error.message).toMatch(message);
    expect(result.error.issues.length).toBeGreaterThan(0);
  });

  it('caps the message at three issues and says how many more', () => {
    const result = parseOnFailureRecord({});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.issues.length).toBeGreaterThan(3);
    expect(result.error.message).toMatch(/\(\+\d+ more\)$/);
  });
});

describe('recordsOf', () => {
  it('yields the payload records as KafkaRecords, per partition in offset order', () => {
    const records = recordsOf(parsed(fixture()));
    expect(records.map((r) => [r.topic, r.partition, r.offset])).toEqual([
      ['order-events-dlq', 2, '941'],
      ['order-events-dlq', 2, '942'],
    ]);
    const [deadLetter, garbage] = records;
    expect(deadLetter?.key?.toString()).toBe('order-7f3a');
    expect(deadLetter?.timestamp).toBe(Date.parse('2026-12-02T09:14:03.530Z'));
    expect(deadLetter?.headers.find((h) => h.key === 'errorType')?.value).toEqual(
      Buffer.from('SCHEMA_VIOLATION'),
    );
    expect(garbage?.key).toBeNull();
    expect(garbage?.value?.toString()).toBe('not a dead letter');
  });

  it('sorts a built document back into offset order', () => {
    const record = parsed(buildOnFailureRecord(buildInput()));
    expect(recordsOf(record).map((r) => `${r.partition}@${r.offset}`)).toEqual([
      '1@10',
      '1@11',
      '0@7',
    ]);
  });
});

function buildInput() {
  return {
    event: event(),
    functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:triage',
    condition: 'RetryAttemptsExhausted' as const,
    approximateInvokeCount: 3,
    error: new Error('boom'),
    timestamp: new Date('2026-12-01T10:05:00.123Z'),
    requestId: 'req-1',
  };
}

describe('buildOnFailureRecord', () => {
  it('produces the documented document from an MSK event and the failure', () => {
    const doc = buildOnFailureRecord(buildInput());
    expect(Object.keys(doc)).toEqual([
      'requestContext',
      'responseContext',
      'version',
      'timestamp',
      'KafkaBatchInfo',
      'payload',
    ]);
    expect(doc.requestContext).toEqual({
      requestId: 'req-1',
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:triage',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    });
    expect(doc.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(doc.version).toBe('1.0');
    expect(doc.timestamp).toBe('2026-12-01T10:05:00.123Z');
    expect(doc.KafkaBatchInfo).toEqual({
      batchSize: 3,
      eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/abc',
      bootstrapServers: 'b-1:9098',
      payloadSize: Buffer.byteLength(doc.payload, 'utf8'),
      recordsInfo: {
        'dlq-1': {
          firstRecordOffset: '10',
          lastRecordOffset: '11',
          firstRecordTimestamp: '2026-12-01T10:00:00.000Z',
          lastRecordTimestamp: '2026-12-01T10:00:01.000Z',
        },
        'dlq-0': {
          firstRecordOffset: '7',
          lastRecordOffset: '7',
          firstRecordTimestamp: '2026-12-01T09:59:00.000Z',
          lastRecordTimestamp: '2026-12-01T09:59:00.000Z',
        },
      },
    });
    // The whole event, as an escaped JSON string.
    expect(typeof doc.payload).toBe('string');
    expect(JSON.parse(doc.payload)).toEqual(event());
  });

  it('rebuilds the fixture from its own event (same shape as the documented one)', () => {
    const expected = fixture() as unknown as OnFailureDocument;
    const built = buildOnFailureRecord({
      event: JSON.parse(expected.payload) as OnFailureEventInput,
      functionArn: expected.requestContext.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: expected.requestContext.approximateInvokeCount,
      error: new Error('PostgreSQL unreachable'),
      timestamp: new Date(expected.timestamp),
      requestId: expected.requestContext.requestId,
    });
    expect(built).toEqual(expected);
    expect(JSON.stringify(built, null, 2)).toBe(fixtureText().trimEnd());
  });

  it('omits functionError when the function returned (a partial batch response)', () => {
    const doc = buildOnFailureRecord({ ...buildInput(), error: undefined });
    expect(doc.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
  });

  it('writes a null responseContext for MaximumPayloadSizeExceeded', () => {
    const doc = buildOnFailureRecord({
      ...buildInput(),
      condition: 'MaximumPayloadSizeExceeded',
      approximateInvokeCount: 0,
    });
    expect(doc.responseContext).toBeNull();
    expect(parseOnFailureRecord(doc).ok).toBe(true);
  });

  it('defaults the request id to a UUID and keeps a self-managed event without ARN', () => {
    const { eventSourceArn: _arn, ...selfManaged } = event();
    const doc = buildOnFailureRecord({
      ...buildInput(),
      requestId: undefined,
      event: { ...selfManaged, eventSource: 'SelfManagedKafka' },
    });
    expect(doc.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect('eventSourceArn' in doc.KafkaBatchInfo).toBe(false);
  });

  it('round-trips through JSON text and parseOnFailureRecord', () => {
    const doc = buildOnFailureRecord(buildInput());
    const record = parsed(JSON.stringify(doc));
    expect(recordsOf(record)).toHaveLength(3);
  });

  it('throws on input that cannot make a valid document', () => {
    expect(() =>
      buildOnFailureRecord({ ...buildInput(), timestamp: new Date(Number.NaN) }),
    ).toThrow(RangeError);
    expect(() =>
      buildOnFailureRecord({
        ...buildInput(),
        event: {
          records: { 'dlq-0': [{ topic: 'dlq', partition: 0, offset: 7, timestamp: Number.NaN }] },
        },
      }),
    ).toThrow(/timestamp/);
    expect(() => buildOnFailureRecord({ ...buildInput(), approximateInvokeCount: -1 })).toThrow(
      /approximateInvokeCount/,
    );
    expect(() =>
      buildOnFailureRecord({
        ...buildInput(),
        event: {
          records: { 'dlq-0': [{ topic: 'other', partition: 0, offset: 1, timestamp: 1 }] },
        },
      }),
    ).toThrow(/filed under "dlq-0"/);
  });
});

describe('onFailureObjectKey', () => {
  it('renders the documented layout in UTC', () => {
    expect(
      onFailureObjectKey({
        mappingUuid: 'f89f8514-cdd9-4602-9e1f-01a5b77d449b',
        shard: 'order-events-dlq-2',
        timestamp: new Date('2026-12-02T09:16:41.207Z'),
        id: '0e5a3f7c-1b2d-4c8e-9f6a-7d3b2e1c0a94',
      }),
    ).toBe(
      'aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/order-events-dlq-2/2026/12/02/' +
        '2026-12-02T09.16.41-0e5a3f7c-1b2d-4c8e-9f6a-7d3b2e1c0a94',
    );
  });

  it('pads single digits and uses UTC across a date line', () => {
    const key = onFailureObjectKey({
      mappingUuid: 'm',
      shard: 't-0',
      timestamp: new Date('2027-01-05T23:04:09+05:00'),
      id: 'x',
    });
    expect(key).toBe('aws/lambda/m/t-0/2027/01/05/2027-01-05T18.04.09-x');
  });

  it('ends in a fresh UUID by default', () => {
    const key = onFailureObjectKey({ mappingUuid: 'm', shard: 's', timestamp: new Date(0) });
    expect(key).toMatch(/^aws\/lambda\/m\/s\/1970\/01\/01\/1970-01-01T00\.00\.00-[0-9a-f-]{36}$/);
  });

  it('rejects segments that would change the layout', () => {
    const base = { mappingUuid: 'm', shard: 's', timestamp: new Date(0) };
    expect(() => onFailureObjectKey({ ...base, shard: 'a/b' })).toThrow(/shard/);
    expect(() => onFailureObjectKey({ ...base, mappingUuid: '' })).toThrow(/empty/);
    expect(() => onFailureObjectKey({ ...base, timestamp: new Date(Number.NaN) })).toThrow(
      /timestamp/,
    );
  });
});
