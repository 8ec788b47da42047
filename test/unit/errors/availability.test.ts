// `classify` tells a dependency that cannot be reached (wait for it, spend no retry budget)
// from contention a prompt retry cures and from errors that are the record's own.
import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  classify,
  ProcessingFailureError,
  TransientError,
} from '../../../lambdas/shared/errors/taxonomy';

const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name }, extra);

describe('classify: unavailable and circuitOpen', () => {
  it.each<[string, unknown]>([
    ['connection refused', named('Error', 'connect ECONNREFUSED', { code: 'ECONNREFUSED' })],
    ['a reset connection', named('Error', 'read ECONNRESET', { code: 'ECONNRESET' })],
    [
      'PostgreSQL shutting down (57P01)',
      named('error', 'terminating connection', { code: '57P01' }),
    ],
    [
      'PostgreSQL starting up (57P03)',
      named('error', 'the database system is starting up', { code: '57P03' }),
    ],
    ['a connection exception (08006)', named('error', 'connection failure', { code: '08006' })],
    ['pg-pool losing its client', new Error('Connection terminated unexpectedly')],
    ['Redis offline', new Error('The client is offline')],
    ['the broker gone', named('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED')],
    ['a leader moving', named('KafkaJSProtocolError', 'not leader', { retriable: true })],
    [
      'happy eyeballs over two refused addresses',
      new AggregateError([
        named('Error', 'x', { code: 'ECONNREFUSED' }),
        named('Error', 'y', { code: 'ECONNREFUSED' }),
      ]),
    ],
  ])('%s is TRANSIENT and unavailable', (_, error) => {
    const c = classify(error);
    expect(c.errorType).toBe('TRANSIENT');
    expect(c.unavailable).toBe(true);
    expect(c.circuitOpen).toBe(false);
  });

  it.each<[string, unknown]>([
    ['a deadlock (40P01)', named('error', 'deadlock detected', { code: '40P01' })],
    ['a serialization failure (40001)', named('error', 'could not serialize', { code: '40001' })],
    ['a lock timeout (55P03)', named('error', 'lock not available', { code: '55P03' })],
    ['a key in progress elsewhere', named('IdempotencyAlreadyInProgressError', 'in progress')],
    ['an earlier event not applied yet', new TransientError('an earlier event is not applied')],
  ])('%s is TRANSIENT contention, not an outage', (_, error) => {
    const c = classify(error);
    expect(c.errorType).toBe('TRANSIENT');
    expect(c.unavailable).toBe(false);
  });

  it('an open breaker is unavailable and circuit-open, also when Powertools wraps it', () => {
    const open = new CircuitOpenError('postgres', Date.now() + 30_000);
    const wrapped = named('IdempotencyPersistenceLayerError', 'failed to save', { cause: open });
    expect(classify(open)).toMatchObject({ unavailable: true, circuitOpen: true });
    // The wrapper (the cache store failed) decides before its cause is read.
    expect(classify(wrapped)).toMatchObject({
      errorType: 'TRANSIENT',
      unavailable: true,
      circuitOpen: false,
    });
  });

  it("errors that are the record's own are neither", () => {
    for (const error of [
      new ProcessingFailureError('boom'),
      named('error', 'invalid input syntax', { code: '22P02' }),
      'a string',
    ]) {
      expect(classify(error)).toMatchObject({ unavailable: false, circuitOpen: false });
    }
  });
});
