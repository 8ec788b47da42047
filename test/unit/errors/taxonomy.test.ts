import kafkajs from 'kafkajs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  classify,
  dispositionFor,
  ERROR_TYPES,
  type ErrorType,
  fromEnvelopeError,
  fromTransitionRejection,
  IdempotencyConflictError,
  InvalidTransitionError,
  isErrorType,
  type PipelineError,
  ProcessingFailureError,
  SchemaViolationError,
  TransientError,
  TransitionConflictError,
} from '../../../lambdas/shared/errors/taxonomy';
import { parseEnvelope } from '../../../lambdas/shared/events/envelope';
import { nextState } from '../../../lambdas/shared/events/state-machine';
import { rawEvent } from '../events/fixtures';

/** An Error carrying the fields libraries put on theirs (name, code, retriable, …). */
function libError(message: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), fields);
}

describe('our error classes', () => {
  it.each<[PipelineError, ErrorType, boolean, string]>([
    [new SchemaViolationError('bad'), 'SCHEMA_VIOLATION', false, 'SchemaViolationError'],
    [
      new IdempotencyConflictError('clash'),
      'IDEMPOTENCY_CONFLICT',
      false,
      'IdempotencyConflictError',
    ],
    [new TransientError('later'), 'TRANSIENT', true, 'TransientError'],
    [new CircuitOpenError('postgres', 1_000), 'TRANSIENT', true, 'CircuitOpenError'],
    [new ProcessingFailureError('bug'), 'PROCESSING_FAILURE', false, 'ProcessingFailureError'],
  ])('%s is %s (retryable %s) and classifies as such', (error, type, retryable, name) => {
    expect(error.errorType).toBe(type);
    expect(error.retryable).toBe(retryable);
    expect(error.name).toBe(name);
    expect(classify(error)).toMatchObject({ errorType: type, retryable, causeName: name });
  });

  it('TransitionConflictError is an IDEMPOTENCY_CONFLICT that says it is a business conflict', () => {
    const error = new TransitionConflictError(
      {
        eventType: 'PaymentCaptured',
        aggregateId: 'o-1',
        appliedEventId: 'evt-first',
        data: 'paymentId="pay-2", amountMinor=2500, currency="EUR"',
      },
      { context: { eventId: 'evt-second', aggregateId: 'o-1' } },
    );
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error.name).toBe('TransitionConflictError');
    expect(error.message).toBe(
      'PaymentCaptured conflicts with the PaymentCaptured already applied to order o-1 ' +
        '(event evt-first): different business data (paymentId="pay-2", amountMinor=2500, ' +
        'currency="EUR"); a business conflict, not a duplicate',
    );
    expect(classify(error)).toMatchObject({
      errorType: 'IDEMPOTENCY_CONFLICT',
      retryable: false,
      causeName: 'TransitionConflictError',
      rule: 'TransitionConflictError',
      message: error.message,
      context: { eventId: 'evt-second', aggregateId: 'o-1' },
    });
    // Triage parks it with the other conflicts: no sixth type.
    expect(dispositionFor(classify(error).errorType).triage).toBe('PARK');
    const unknownFirst = new TransitionConflictError({
      eventType: 'OrderCancelled',
      aggregateId: 'o-2',
      data: 'reason="other"',
    });
    expect(unknownFirst.message).toMatch(
      /^OrderCancelled conflicts with the OrderCancelled already applied to order o-2: /,
    );
  });

  it('CircuitOpenError is a TransientError naming the breaker', () => {
    const error = new CircuitOpenError('redis', 42_000);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.breaker).toBe('redis');
    expect(error.retryAt).toBe(42_000);
    expect(error.message).toContain('redis');
  });

  it('carries context and cause', () => {
    const cause = new Error('root');
    const error = new TransientError('wrapped', { context: { eventId: 'e-1' }, cause });
    expect(error.context).toEqual({ eventId: 'e-1' });
    expect(error.cause).toBe(cause);
    expect(classify(error).context).toEqual({ eventId: 'e-1' });
  });

  it('isErrorType accepts exactly the five types', () => {
    for (const type of ERROR_TYPES) expect(isErrorType(type)).toBe(true);
    expect(isErrorType('TRANSIENT ')).toBe(false);
    expect(isErrorType(undefined)).toBe(false);
  });
});

describe('fromEnvelopeError', () => {
  it.each([
    ['NOT_JSON', '{not json'],
    ['ENVELOPE_INVALID', JSON.stringify(rawEvent('OrderPlaced', { eventId: 7 }))],
    ['UNKNOWN_EVENT_TYPE', JSON.stringify(rawEvent('OrderPlaced', { eventType: 'OrderLost' }))],
    ['UNKNOWN_MAJOR', JSON.stringify(rawEvent('OrderPlaced', { schemaVersion: '99.0.0' }))],
    ['PAYLOAD_INVALID', JSON.stringify(rawEvent('OrderPlaced', { data: { orderId: 'x' } }))],
  ])('%s is a SCHEMA_VIOLATION with its kind and context', (kind, input) => {
    const parsed = parseEnvelope(input);
    if (parsed.ok) throw new Error('fixture should not parse');
    const error = fromEnvelopeError(parsed.error);
    expect(error).toBeInstanceOf(SchemaViolationError);
    expect(error.kind).toBe(kind);
    expect(error.issues).toEqual(parsed.error.issues);
    expect(error.context).toEqual(parsed.error.context);
    expect(classify(error).errorType).toBe('SCHEMA_VIOLATION');
  });

  it('keeps the traceable fields of a rejected event', () => {
    const parsed = parseEnvelope(
      JSON.stringify(rawEvent('OrderPlaced', { schemaVersion: '9.0.0' })),
    );
    if (parsed.ok) throw new Error('fixture should not parse');
    expect(fromEnvelopeError(parsed.error).context).toMatchObject({
      eventId: '7d444840-9dc0-11d1-b245-5ffdce74fad2',
      correlationId: 'req-123',
    });
  });
});

describe('fromTransitionRejection', () => {
  it('ALREADY_APPLIED is a duplicate, not an error', () => {
    const result = nextState('PAYMENT_CAPTURED', 'PaymentCaptured');
    if (result.ok) throw new Error('fixture should be rejected');
    expect(result.rejection.reason).toBe('ALREADY_APPLIED');
    expect(fromTransitionRejection(result.rejection)).toEqual({ kind: 'DUPLICATE' });
    expect(() => new InvalidTransitionError(result.rejection)).toThrow(RangeError);
  });

  it.each([
    ['BACKWARDS', 'PAYMENT_CAPTURED', 'OrderPlaced'],
    ['ORDER_NOT_FOUND', undefined, 'PaymentCaptured'],
    ['TERMINAL_STATE', 'SHIPPED', 'OrderCancelled'],
    ['SKIPS_STATE', 'CREATED', 'OrderShipped'],
  ] as const)('%s is an INVALID_TRANSITION', (reason, from, eventType) => {
    const result = nextState(from, eventType);
    if (result.ok) throw new Error('fixture should be rejected');
    expect(result.rejection.reason).toBe(reason);
    const outcome = fromTransitionRejection(result.rejection, { eventId: 'e-9' });
    if (outcome.kind !== 'INVALID') throw new Error('expected INVALID');
    expect(outcome.error.reason).toBe(reason);
    expect(outcome.error.context).toEqual({ eventId: 'e-9' });
    expect(outcome.error.message).toBe(result.rejection.message);
    expect(classify(outcome.error)).toMatchObject({
      errorType: 'INVALID_TRANSITION',
      retryable: false,
    });
  });
});

describe('classify: third-party errors', () => {
  it.each<[string, unknown, ErrorType]>([
    // Powertools idempotency, by name
    [
      'in progress elsewhere',
      libError('x', { name: 'IdempotencyAlreadyInProgressError' }),
      'TRANSIENT',
    ],
    ['item exists', libError('x', { name: 'IdempotencyItemAlreadyExistsError' }), 'TRANSIENT'],
    ['persistence layer', libError('x', { name: 'IdempotencyPersistenceLayerError' }), 'TRANSIENT'],
    [
      'payload hash mismatch',
      libError('x', { name: 'IdempotencyValidationError' }),
      'IDEMPOTENCY_CONFLICT',
    ],
    ['no idempotency key', libError('x', { name: 'IdempotencyKeyError' }), 'PROCESSING_FAILURE'],
    // Node system errors
    ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND'].map(
      (code): [string, unknown, ErrorType] => [
        `node ${code}`,
        libError('x', { code }),
        'TRANSIENT',
      ],
    ),
    ['node EACCES', libError('x', { code: 'EACCES' }), 'PROCESSING_FAILURE'],
    // kafkajs
    ['KafkaJSConnectionError', libError('x', { name: 'KafkaJSConnectionError' }), 'TRANSIENT'],
    [
      'KafkaJSRequestTimeoutError',
      libError('x', { name: 'KafkaJSRequestTimeoutError', retriable: true }),
      'TRANSIENT',
    ],
    [
      'KafkaJSNumberOfRetriesExceeded (retriable: false)',
      libError('x', { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false }),
      'TRANSIENT',
    ],
    [
      'retriable protocol error',
      libError('x', { name: 'KafkaJSProtocolError', retriable: true }),
      'TRANSIENT',
    ],
    [
      'non-retriable protocol error',
      libError('x', { name: 'KafkaJSProtocolError', retriable: false }),
      'PROCESSING_FAILURE',
    ],
    // PostgreSQL SQLSTATE
    ...['08000', '08006', '08P01', '40001', '40P01', '53300', '57P01', '57P03', '55P03'].map(
      (code): [string, unknown, ErrorType] => [
        `pg ${code}`,
        libError('x', { name: 'error', code, severity: 'ERROR' }),
        'TRANSIENT',
      ],
    ),
    ...['23505', '23503', '23514', '22P02', '22001'].map((code): [string, unknown, ErrorType] => [
      `pg ${code}`,
      libError('x', { name: 'error', code, severity: 'ERROR' }),
      'PROCESSING_FAILURE',
    ]),
    ['pg 42P01 (undefined table)', libError('x', { code: '42P01' }), 'PROCESSING_FAILURE'],
    ['pg client: connection lost', new Error('Connection terminated unexpectedly'), 'TRANSIENT'],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect'), 'TRANSIENT'],
    // Redis (@redis/client sets no names)
    ['redis closed', new Error('The client is closed'), 'TRANSIENT'],
    ['redis socket', new Error('Socket closed unexpectedly'), 'TRANSIENT'],
    ['redis connect timeout', new Error('Connection timeout'), 'TRANSIENT'],
    ['redis loading', new Error('LOADING Redis is loading the dataset in memory'), 'TRANSIENT'],
    [
      'redis refused',
      libError('connect ECONNREFUSED 127.0.0.1:6379', { code: 'ECONNREFUSED' }),
      'TRANSIENT',
    ],
    ['redis wrong type', new Error('WRONGTYPE Operation against a key'), 'PROCESSING_FAILURE'],
    // Timeouts and AWS SDK
    ['AbortSignal timeout', libError('x', { name: 'TimeoutError' }), 'TRANSIENT'],
    ['AWS SDK throttling', libError('x', { $retryable: { throttling: true } }), 'TRANSIENT'],
    // Everything else
    ['plain Error', new Error('boom'), 'PROCESSING_FAILURE'],
    ['TypeError', new TypeError('x is undefined'), 'PROCESSING_FAILURE'],
    ['a string', 'oops', 'PROCESSING_FAILURE'],
    ['undefined', undefined, 'PROCESSING_FAILURE'],
    ['null', null, 'PROCESSING_FAILURE'],
  ])('%s → %s', (_label, error, expected) => {
    const classification = classify(error);
    expect(classification.errorType).toBe(expected);
    expect(classification.retryable).toBe(expected === 'TRANSIENT');
  });

  it('reports the matched rule and the deciding error name', () => {
    expect(classify(libError('x', { code: '40001' }))).toMatchObject({
      rule: 'pg:40001',
      causeName: 'Error',
    });
    expect(classify(libError('x', { name: 'KafkaJSConnectionError' }))).toMatchObject({
      rule: 'kafkajs:KafkaJSConnectionError',
      causeName: 'KafkaJSConnectionError',
    });
    expect(classify(new Error('boom'))).toMatchObject({ rule: 'default', message: 'boom' });
  });

  it('describes non-Error values', () => {
    expect(classify('oops')).toMatchObject({ message: 'oops', causeName: 'string' });
    expect(classify(undefined)).toMatchObject({ message: 'undefined', causeName: 'undefined' });
  });
});

describe('classify: real library error instances', () => {
  function pgError(code: string): Error {
    return Object.assign(new pg.DatabaseError('db said no', 0, 'error'), { code });
  }

  it.each<[string, unknown, ErrorType]>([
    ['pg serialization failure', pgError('40001'), 'TRANSIENT'],
    ['pg admin shutdown', pgError('57P01'), 'TRANSIENT'],
    ['pg unique violation', pgError('23505'), 'PROCESSING_FAILURE'],
    ['pg syntax error', pgError('42601'), 'PROCESSING_FAILURE'],
    ['kafkajs connection', new kafkajs.KafkaJSConnectionError('down'), 'TRANSIENT'],
    ['kafkajs timeout', new kafkajs.KafkaJSRequestTimeoutError('slow'), 'TRANSIENT'],
    [
      'kafkajs retries exceeded',
      new kafkajs.KafkaJSNumberOfRetriesExceeded(new kafkajs.KafkaJSConnectionError('down'), {
        retryCount: 5,
        retryTime: 100,
      }),
      'TRANSIENT',
    ],
    ['kafkajs retriable base error', new kafkajs.KafkaJSError('flaky'), 'TRANSIENT'],
    ['kafkajs non-retriable', new kafkajs.KafkaJSNonRetriableError('no'), 'PROCESSING_FAILURE'],
  ])('%s → %s', (_label, error, expected) => {
    expect(classify(error).errorType).toBe(expected);
  });
});

describe('classify: cause chains', () => {
  it('finds a transient cause under a generic wrapper', () => {
    const error = new Error('commit failed', { cause: libError('reset', { code: 'ECONNRESET' }) });
    expect(classify(error)).toMatchObject({
      errorType: 'TRANSIENT',
      message: 'commit failed',
      rule: 'node:ECONNRESET',
    });
  });

  it('lets our own error decide over its cause', () => {
    const error = new ProcessingFailureError('bug', {
      cause: libError('reset', { code: 'ECONNRESET' }),
    });
    expect(classify(error).errorType).toBe('PROCESSING_FAILURE');
  });

  it('merges context from nested pipeline errors, outer first', () => {
    const inner = new TransientError('inner', { context: { eventId: 'in', aggregateId: 'a' } });
    const outer = new Error('outer', { cause: inner });
    expect(classify(outer).context).toEqual({ eventId: 'in', aggregateId: 'a' });
    const pipelineOuter = new ProcessingFailureError('outer', {
      context: { eventId: 'out' },
      cause: inner,
    });
    expect(classify(pipelineOuter).context).toEqual({ eventId: 'out' });
  });

  it('survives a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(classify(a).errorType).toBe('PROCESSING_FAILURE');
  });

  it('treats an AggregateError of socket errors as transient, a mixed one not', () => {
    const refused = libError('refused', { code: 'ECONNREFUSED' });
    expect(classify(new AggregateError([refused, refused], 'connect')).errorType).toBe('TRANSIENT');
    expect(classify(new AggregateError([refused, new Error('bug')], 'x')).errorType).toBe(
      'PROCESSING_FAILURE',
    );
  });
});

describe('dispositionFor', () => {
  it.each<[ErrorType, 'PARK' | 'REDRIVE']>([
    ['SCHEMA_VIOLATION', 'PARK'],
    ['INVALID_TRANSITION', 'PARK'],
    ['IDEMPOTENCY_CONFLICT', 'PARK'],
    ['TRANSIENT', 'REDRIVE'],
    ['PROCESSING_FAILURE', 'REDRIVE'],
  ])('%s: triage %s', (type, triage) => {
    expect(dispositionFor(type)).toEqual({ triage });
  });
});
