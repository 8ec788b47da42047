import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type BuildDeadLetterInput,
  buildDeadLetter,
  DEAD_LETTER_FORMAT_VERSION,
  DEAD_LETTER_ROW_COLUMNS,
  type DeadLetterMessage,
  deadLetterRowValues,
  decodeDeadLetter,
  encodeDeadLetter,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_JSON_COPY_BYTES,
  redriveStateFromHeaders,
  toDeadLetterRow,
  toRedriveRecord,
} from '../../../lambdas/shared/dead-letter/message';
import {
  InvalidTransitionError,
  SchemaViolationError,
  TransientError,
} from '../../../lambdas/shared/errors/taxonomy';
import { nextState } from '../../../lambdas/shared/events/state-machine';
import { ORDER_ID, rawEvent } from '../events/fixtures';

const FIRST = new Date('2026-03-01T12:00:00.000Z');
const LAST = new Date('2026-03-01T12:00:05.250Z');
const EVENT = rawEvent('OrderShipped');
const EVENT_BYTES = Buffer.from(JSON.stringify(EVENT), 'utf8');
// 0xff/0xfe are never valid UTF-8; 0x00 must survive too (jsonb cannot hold NUL).
const BINARY = Uint8Array.from([0xff, 0xfe, 0x00, 0x41, 0x80]);

function input(overrides: Partial<BuildDeadLetterInput> = {}): BuildDeadLetterInput {
  const rejected = nextState('CREATED', 'OrderShipped');
  if (rejected.ok) throw new Error('fixture should be rejected');
  return {
    value: EVENT_BYTES,
    key: ORDER_ID,
    headers: [
      { key: 'eventId', value: String(EVENT.eventId) },
      { key: 'correlationId', value: 'req-123' },
    ],
    source: { topic: 'order-events', partition: 3, offset: '9007199254740993' },
    error: new InvalidTransitionError(rejected.rejection),
    attempts: 1,
    firstFailureAt: FIRST,
    lastFailureAt: LAST,
    ...overrides,
  };
}

function roundTrip(message: DeadLetterMessage): DeadLetterMessage {
  const decoded = decodeDeadLetter(encodeDeadLetter(message).value);
  if (!decoded.ok) throw new Error(`decode failed: ${decoded.error.message}`);
  return decoded.message;
}

describe('buildDeadLetter', () => {
  it('records the failure, the source and the envelope fields of a JSON event', () => {
    const message = buildDeadLetter(input());
    expect(message).toMatchObject({
      formatVersion: DEAD_LETTER_FORMAT_VERSION,
      errorType: 'INVALID_TRANSITION',
      firstFailureAt: '2026-03-01T12:00:00.000Z',
      lastFailureAt: '2026-03-01T12:00:05.250Z',
      attempts: 1,
      redriveCount: 0,
      // Above 2^53: a JSON number would have rounded it.
      source: { topic: 'order-events', partition: 3, offset: '9007199254740993' },
      key: Buffer.from(ORDER_ID).toString('base64'),
      correlationId: 'req-123',
      eventId: EVENT.eventId,
      eventType: 'OrderShipped',
      aggregateId: ORDER_ID,
      original: { value: EVENT_BYTES.toString('base64'), json: EVENT },
    });
    expect(message.errorMessage).toContain('OrderShipped cannot apply');
  });

  it('keeps a non-UTF-8 value as bytes only, and takes ids from the headers', () => {
    const message = buildDeadLetter(
      input({ value: BINARY, error: new SchemaViolationError('not JSON', 'NOT_JSON') }),
    );
    expect(message.errorType).toBe('SCHEMA_VIOLATION');
    expect(message.original).toEqual({ value: Buffer.from(BINARY).toString('base64') });
    expect(message.eventId).toBe(EVENT.eventId);
    expect(message.correlationId).toBe('req-123');
    expect(message.eventType).toBeNull();
    expect(message.aggregateId).toBeNull();
  });

  it('uses null for unknown ids, a tombstone value and a missing key', () => {
    const message = buildDeadLetter(
      input({ value: null, key: null, headers: [], error: new Error('x') }),
    );
    expect(message).toMatchObject({
      key: null,
      original: { value: null },
      correlationId: null,
      eventId: null,
      eventType: null,
      aggregateId: null,
      errorType: 'PROCESSING_FAILURE',
    });
  });

  it('prefers explicit context, then the error context, then the event, then headers', () => {
    const error = new TransientError('db down', { context: { correlationId: 'from-error' } });
    expect(buildDeadLetter(input({ error })).correlationId).toBe('from-error');
    expect(
      buildDeadLetter(input({ error, context: { correlationId: 'explicit' } })).correlationId,
    ).toBe('explicit');
    const noCorrelation = { ...EVENT, correlationId: undefined };
    const value = Buffer.from(JSON.stringify(noCorrelation));
    expect(buildDeadLetter(input({ value, error: new Error('x') })).correlationId).toBe('req-123');
  });

  it('keeps parsed JSON null distinct from "not JSON"', () => {
    expect(buildDeadLetter(input({ value: Buffer.from('null') })).original).toEqual({
      value: Buffer.from('null').toString('base64'),
      json: null,
    });
    expect(buildDeadLetter(input({ value: Buffer.from('nul') })).original).toEqual({
      value: Buffer.from('nul').toString('base64'),
    });
  });

  it('truncates very long error messages', () => {
    const message = buildDeadLetter(input({ error: new Error('x'.repeat(10_000)) }));
    expect(message.errorMessage).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
  });

  it.each<[string, Partial<BuildDeadLetterInput>]>([
    ['zero attempts', { attempts: 0 }],
    ['fractional attempts', { attempts: 1.5 }],
    ['negative redrive count', { redriveCount: -1 }],
    ['last failure before first', { firstFailureAt: LAST, lastFailureAt: FIRST }],
    ['negative offset', { source: { topic: 't', partition: 0, offset: -1 } }],
    ['empty topic', { source: { topic: '', partition: 0, offset: 0 } }],
  ])('rejects %s', (_label, overrides) => {
    expect(() => buildDeadLetter(input(overrides))).toThrow(RangeError);
  });
});

describe('buildDeadLetter: large records', () => {
  const jsonOfSize = (bytes: number) => {
    const base = { ...EVENT, data: { filler: '' } };
    const filler = 'x'.repeat(bytes - JSON.stringify(base).length);
    const value = Buffer.from(JSON.stringify({ ...base, data: { filler } }), 'utf8');
    expect(value.length).toBe(bytes);
    return value;
  };

  it('keeps the parsed copy up to MAX_JSON_COPY_BYTES', () => {
    const message = buildDeadLetter(input({ value: jsonOfSize(MAX_JSON_COPY_BYTES) }));
    expect(message.original.json).toBeDefined();
    expect(encodeDeadLetter(message).value.length).toBeLessThan(1024 * 1024);
  });

  it('leaves the copy out above it, so a 700 KB record still fits a 1 MiB message', () => {
    const value = jsonOfSize(700 * 1024);
    const message = buildDeadLetter(input({ value }));
    expect(message.original.json).toBeUndefined();
    expect(Buffer.from(message.original.value ?? '', 'base64').equals(value)).toBe(true);
    expect(encodeDeadLetter(message).value.length).toBeLessThan(1024 * 1024);
    // Envelope fields are still read from the record for the row and the headers.
    expect(message.eventId).toBe(String(EVENT.eventId));
  });
});

describe('encodeDeadLetter / decodeDeadLetter', () => {
  it('round-trips a JSON event', () => {
    const message = buildDeadLetter(input({ attempts: 4, redriveCount: 2 }));
    expect(roundTrip(message)).toEqual(message);
  });

  it('round-trips a non-UTF-8, non-JSON original byte for byte', () => {
    const binaryKey = Uint8Array.from([0x00, 0xff]);
    const message = buildDeadLetter(
      input({
        value: BINARY,
        key: binaryKey,
        headers: [
          { key: 'trace', value: Uint8Array.from([0xc3, 0x28]) },
          { key: 'empty', value: null },
          { key: 'trace', value: 'second' },
        ],
      }),
    );
    const decoded = roundTrip(message);
    expect(decoded).toEqual(message);
    expect(Buffer.from(decoded.original.value ?? '', 'base64')).toEqual(Buffer.from(BINARY));
    expect(Buffer.from(decoded.key ?? '', 'base64')).toEqual(Buffer.from(binaryKey));
    expect(decoded.headers.map((h) => h.key)).toEqual(['trace', 'empty', 'trace']);
  });

  it('keys the dead letter by the original key and puts routing fields in headers', () => {
    const record = encodeDeadLetter(buildDeadLetter(input({ attempts: 3 })));
    expect(record.key).toEqual(Buffer.from(ORDER_ID));
    expect(record.headers).toEqual({
      deadLetterFormatVersion: '1.0.0',
      errorType: 'INVALID_TRANSITION',
      attempts: '3',
      redriveCount: '0',
      firstFailureAt: '2026-03-01T12:00:00.000Z',
      correlationId: 'req-123',
      eventId: EVENT.eventId,
      eventType: 'OrderShipped',
    });
  });

  it('leaves unknown ids out of the headers and a null key null', () => {
    const record = encodeDeadLetter(
      buildDeadLetter(input({ value: BINARY, key: null, headers: [], error: new Error('x') })),
    );
    expect(record.key).toBeNull();
    expect(Object.keys(record.headers).sort()).toEqual(
      ['attempts', 'deadLetterFormatVersion', 'errorType', 'firstFailureAt', 'redriveCount'].sort(),
    );
  });

  it('accepts a string value and ignores fields added by a later minor version', () => {
    const message = buildDeadLetter(input());
    const newer = { ...message, formatVersion: '1.4.0', addedLater: true };
    const decoded = decodeDeadLetter(JSON.stringify(newer));
    expect(decoded).toEqual({ ok: true, message: { ...message, formatVersion: '1.4.0' } });
  });

  it.each<[string, Uint8Array | string | null | undefined, string]>([
    ['tombstone', null, 'NOT_JSON'],
    ['missing value', undefined, 'NOT_JSON'],
    ['binary', BINARY, 'NOT_JSON'],
    ['truncated JSON', '{"formatVersion":', 'NOT_JSON'],
    ['a JSON array', '[]', 'NOT_A_DEAD_LETTER'],
    ['an order event', JSON.stringify(EVENT), 'NOT_A_DEAD_LETTER'],
  ])('never throws on %s: %s', (_label, value, kind) => {
    const decoded = decodeDeadLetter(value);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error.kind).toBe(kind);
  });

  it('names the failing fields', () => {
    const broken = { ...buildDeadLetter(input()), attempts: 0, errorType: 'OOPS' };
    const decoded = decodeDeadLetter(JSON.stringify(broken));
    if (decoded.ok) throw new Error('should not decode');
    expect(decoded.error.kind).toBe('NOT_A_DEAD_LETTER');
    expect(decoded.error.issues.map((i) => i.path).sort()).toEqual(['attempts', 'errorType']);
  });

  it('rejects another major format version', () => {
    const other = { ...buildDeadLetter(input()), formatVersion: '2.0.0' };
    const decoded = decodeDeadLetter(JSON.stringify(other));
    if (decoded.ok) throw new Error('should not decode');
    expect(decoded.error.kind).toBe('UNSUPPORTED_FORMAT_VERSION');
  });

  it('rejects invalid base64 in the original value', () => {
    const broken = buildDeadLetter(input());
    const decoded = decodeDeadLetter(
      JSON.stringify({ ...broken, original: { value: 'not base64!' } }),
    );
    if (decoded.ok) throw new Error('should not decode');
    expect(decoded.error.issues[0]?.path).toBe('original.value');
  });
});

describe('toDeadLetterRow', () => {
  it('maps a JSON event onto the dead_letters columns', () => {
    const row = toDeadLetterRow(buildDeadLetter(input({ attempts: 2, redriveCount: 1 })));
    expect(row).toEqual({
      event_id: EVENT.eventId,
      event_type: 'OrderShipped',
      aggregate_id: ORDER_ID,
      correlation_id: 'req-123',
      error_type: 'INVALID_TRANSITION',
      error_message: expect.stringContaining('OrderShipped cannot apply'),
      payload: JSON.stringify(EVENT),
      source_topic: 'order-events',
      source_partition: 3,
      source_offset: '9007199254740993',
      attempts: 2,
      redrive_count: 1,
      first_failed_at: '2026-03-01T12:00:00.000Z',
      last_failed_at: '2026-03-01T12:00:05.250Z',
      record_digest: createHash('sha256')
        .update(`${Buffer.from(ORDER_ID).toString('base64')}\n${EVENT_BYTES.toString('base64')}`)
        .digest('hex'),
    });
    expect(Object.keys(row).sort()).toEqual([...DEAD_LETTER_ROW_COLUMNS].sort());
    expect(deadLetterRowValues(row)).toEqual(DEAD_LETTER_ROW_COLUMNS.map((c) => row[c]));
  });

  it('stores non-JSON text as a JSON string', () => {
    const row = toDeadLetterRow(buildDeadLetter(input({ value: Buffer.from('hello {') })));
    expect(JSON.parse(row.payload)).toBe('hello {');
  });

  it('stores bytes that are not UTF-8 as a JSON string without NUL', () => {
    const row = toDeadLetterRow(buildDeadLetter(input({ value: BINARY })));
    expect(row.payload).not.toContain('\\u0000');
    expect(JSON.parse(row.payload)).toBe('\ufffd\ufffd\ufffdA\ufffd');
  });

  it('replaces NUL inside a JSON event but keeps an escaped backslash before "u0000"', () => {
    const value = Buffer.from(JSON.stringify({ a: 'x\u0000y', b: '\\u0000' }));
    const row = toDeadLetterRow(buildDeadLetter(input({ value })));
    expect(JSON.parse(row.payload)).toEqual({ a: 'x\ufffdy', b: '\\u0000' });
  });

  it('keys a record by its bytes: the same record fails again alike, another record differs', () => {
    const digest = (o: Partial<BuildDeadLetterInput>) =>
      toDeadLetterRow(buildDeadLetter(input(o))).record_digest;
    const original = digest({});
    // A redelivered dead letter: later failure, more attempts, same record.
    expect(digest({ attempts: 5, lastFailureAt: new Date(LAST.getTime() + 60_000) })).toBe(
      original,
    );
    expect(digest({ value: BINARY })).not.toBe(original);
    expect(digest({ key: 'another-order' })).not.toBe(original);
  });

  it('stores a tombstone as JSON null', () => {
    expect(toDeadLetterRow(buildDeadLetter(input({ value: null }))).payload).toBe('null');
  });
});

describe('redrive', () => {
  it('restores the original record with the failure history in headers', () => {
    const message = buildDeadLetter(
      input({
        value: BINARY,
        attempts: 5,
        redriveCount: 1,
        headers: [
          { key: 'correlationId', value: 'req-123' },
          // Left from the previous redrive: replaced, not duplicated.
          { key: 'redriveCount', value: '1' },
          { key: 'attempts', value: '3' },
        ],
      }),
    );
    const record = toRedriveRecord(message);
    expect(record.topic).toBe('order-events');
    expect(record.key).toEqual(Buffer.from(ORDER_ID));
    expect(record.value).toEqual(Buffer.from(BINARY));
    expect(record.headers).toEqual([
      { key: 'correlationId', value: Buffer.from('req-123') },
      { key: 'redriveCount', value: '2' },
      { key: 'attempts', value: '5' },
      { key: 'firstFailureAt', value: '2026-03-01T12:00:00.000Z' },
    ]);
    expect(redriveStateFromHeaders(record.headers)).toEqual({
      redriveCount: 2,
      priorAttempts: 5,
      firstFailureAt: FIRST,
    });
  });

  it('reads missing or garbage history as none', () => {
    expect(redriveStateFromHeaders([])).toEqual({
      redriveCount: 0,
      priorAttempts: 0,
      firstFailureAt: undefined,
    });
    expect(
      redriveStateFromHeaders([
        { key: 'redriveCount', value: '-2' },
        { key: 'attempts', value: 'many' },
        { key: 'firstFailureAt', value: 'yesterday' },
      ]),
    ).toEqual({ redriveCount: 0, priorAttempts: 0, firstFailureAt: undefined });
  });
});
