import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CircuitOpenError,
  SchemaViolationError,
  TransientError,
} from '../../../lambdas/shared/errors/taxonomy';
import type { LogSink } from '../../../lambdas/shared/log-sink';
import { METRICS } from '../../../lambdas/shared/metrics-catalog';
import {
  type BreakerMetricsSink,
  type BreakerState,
  type BreakerStateChange,
  breakers,
  breakerTelemetry,
  CircuitBreaker,
  type CircuitBreakerOptions,
  isDependencyFailure,
} from '../../../lambdas/shared/resilience/circuit-breaker';
import { loadStageConfig } from '../../../lib/config/stage-config';

/** The stage config's breaker; the cases below spell out its 5 failures / 60 s / 30 s open. */
const BREAKER = loadStageConfig('dev').breaker;

it('tests the breaker numbers of the stage config', () => {
  expect(BREAKER).toEqual({ failureThreshold: 5, windowMs: 60_000, openMs: 30_000 });
});

/** A breaker on a hand-driven clock, recording every state change. */
function harness(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = { t: 1_000_000 };
  const changes: BreakerStateChange[] = [];
  const breaker = new CircuitBreaker({
    name: 'postgres',
    ...BREAKER,
    now: () => clock.t,
    ...options,
  });
  breaker.onStateChange((c) => changes.push(c));
  let calls = 0;
  const ok = () =>
    breaker.execute(async () => {
      calls++;
      return 'ok';
    });
  const fail = (error: unknown = new TransientError('connection refused')) =>
    breaker.execute(async () => {
      calls++;
      throw error;
    });
  return {
    breaker,
    changes,
    clock,
    ok,
    fail,
    calls: () => calls,
    advance: (ms: number) => {
      clock.t += ms;
    },
    transitions: () => changes.map((c) => `${c.from}->${c.to}`),
  };
}

/** `n` counted failures, `gapMs` apart, starting now. */
async function failTimes(h: ReturnType<typeof harness>, n: number, gapMs = 0) {
  for (let i = 0; i < n; i++) {
    if (i > 0) h.advance(gapMs);
    await expect(h.fail()).rejects.toBeInstanceOf(TransientError);
  }
}

async function openBreaker(h: ReturnType<typeof harness>) {
  await failTimes(h, 5);
  expect(h.breaker.state).toBe('OPEN');
}

/** A call whose completion the test controls. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('CircuitBreaker: opening', () => {
  it.each<[string, number, number, BreakerState]>([
    ['4 failures at once stay closed', 4, 0, 'CLOSED'],
    ['5 failures at once open', 5, 0, 'OPEN'],
    ['5 failures 14.9 s apart (59.6 s) open', 5, 14_900, 'OPEN'],
    ['5 failures within 59.999 s open', 5, 14_999, 'OPEN'],
    // First and fifth exactly 60 s apart: the first has left the window.
    ['5 failures spanning exactly 60 s stay closed', 5, 15_000, 'CLOSED'],
    ['5 failures spread over 80 s stay closed', 5, 20_000, 'CLOSED'],
  ])('%s', async (_label, count, gapMs, expected) => {
    const h = harness();
    await failTimes(h, count, gapMs);
    expect(h.breaker.state).toBe(expected);
    expect(h.calls()).toBe(count);
  });

  it('counts only failures still inside the window (rolling, not fixed buckets)', async () => {
    const h = harness();
    await failTimes(h, 4); // t = 0
    h.advance(59_000);
    await failTimes(h, 1); // 5 in 59 s → open
    expect(h.breaker.state).toBe('OPEN');

    const g = harness();
    await failTimes(g, 4); // t = 0
    g.advance(60_000);
    await failTimes(g, 4); // the first four expired: 4 in the window
    expect(g.breaker.state).toBe('CLOSED');
    await failTimes(g, 1);
    expect(g.breaker.state).toBe('OPEN');
  });

  it('successes do not reset the count', async () => {
    const h = harness();
    await failTimes(h, 4);
    await h.ok();
    await failTimes(h, 1);
    expect(h.breaker.state).toBe('OPEN');
  });

  it('does not count errors the predicate rejects; they still reach the caller', async () => {
    const h = harness();
    const schema = new SchemaViolationError('bad event');
    for (let i = 0; i < 10; i++) await expect(h.fail(schema)).rejects.toBe(schema);
    await expect(h.fail(new Error('bug'))).rejects.toThrow('bug');
    expect(h.breaker.state).toBe('CLOSED');
    await failTimes(h, 4);
    expect(h.breaker.state).toBe('CLOSED');
  });

  it('uses a custom predicate and thresholds', async () => {
    const h = harness({ failureThreshold: 2, windowMs: 1_000, isFailure: () => true });
    await expect(h.fail(new Error('any'))).rejects.toThrow();
    await expect(h.fail(new Error('any'))).rejects.toThrow();
    expect(h.breaker.state).toBe('OPEN');
  });

  it.each([
    ['failureThreshold', { failureThreshold: 0 }],
    ['windowMs', { windowMs: -1 }],
    ['openMs', { openMs: 1.5 }],
  ])('rejects an invalid %s', (_label, options) => {
    expect(() => new CircuitBreaker({ name: 'x', ...BREAKER, ...options })).toThrow(RangeError);
  });
});

describe('CircuitBreaker: open, half-open, close', () => {
  it('fails fast while open without calling the function', async () => {
    const h = harness();
    await openBreaker(h);
    const before = h.calls();
    h.advance(29_999);
    const error = await h.ok().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ breaker: 'postgres', retryAt: h.clock.t + 1 });
    expect(h.calls()).toBe(before);
    expect(h.breaker.state).toBe('OPEN');
  });

  it('after exactly 30 s lets one trial through while concurrent calls fail fast', async () => {
    const h = harness();
    await openBreaker(h);
    h.advance(30_000);
    const trial = deferred<string>();
    let trialCalls = 0;
    const first = h.breaker.execute(() => {
      trialCalls++;
      return trial.promise;
    });
    expect(h.breaker.state).toBe('HALF_OPEN');
    const before = h.calls();
    await expect(h.ok()).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(h.fail()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(h.calls()).toBe(before);
    expect(trialCalls).toBe(1);
    trial.resolve('done');
    await expect(first).resolves.toBe('done');
    expect(h.breaker.state).toBe('CLOSED');
  });

  it('trial success closes and clears the failure history', async () => {
    const h = harness();
    await openBreaker(h);
    h.advance(30_000);
    await expect(h.ok()).resolves.toBe('ok');
    expect(h.breaker.state).toBe('CLOSED');
    await failTimes(h, 4);
    expect(h.breaker.state).toBe('CLOSED');
  });

  it('trial failure reopens and restarts the open timer', async () => {
    const h = harness();
    await openBreaker(h);
    h.advance(30_000);
    await expect(h.fail()).rejects.toBeInstanceOf(TransientError);
    expect(h.breaker.state).toBe('OPEN');
    h.advance(29_999);
    await expect(h.ok()).rejects.toBeInstanceOf(CircuitOpenError);
    h.advance(1);
    await expect(h.ok()).resolves.toBe('ok');
    expect(h.breaker.state).toBe('CLOSED');
  });

  it('a trial that fails with an uncounted error closes: the dependency answered', async () => {
    const h = harness();
    await openBreaker(h);
    h.advance(30_000);
    await expect(h.fail(new SchemaViolationError('bad'))).rejects.toBeInstanceOf(
      SchemaViolationError,
    );
    expect(h.breaker.state).toBe('CLOSED');
  });

  it('a call started before opening cannot decide the half-open trial', async () => {
    const h = harness();
    const slow = deferred<string>();
    const stale = h.breaker.execute(() => slow.promise);
    await openBreaker(h);
    h.advance(30_000);
    const trial = deferred<string>();
    const trialCall = h.breaker.execute(() => trial.promise);
    slow.reject(new TransientError('late failure'));
    await expect(stale).rejects.toThrow('late failure');
    expect(h.breaker.state).toBe('HALF_OPEN');
    trial.resolve('ok');
    await trialCall;
    expect(h.breaker.state).toBe('CLOSED');
  });

  it('replaces a trial that never settles after another open period', async () => {
    const h = harness();
    await openBreaker(h);
    h.advance(30_000);
    const hung = deferred<string>();
    const hungCall = h.breaker.execute(() => hung.promise);
    h.advance(29_999);
    await expect(h.ok()).rejects.toBeInstanceOf(CircuitOpenError);
    h.advance(1);
    await expect(h.fail()).rejects.toBeInstanceOf(TransientError);
    expect(h.breaker.state).toBe('OPEN');
    // The replaced trial finishing late changes nothing.
    hung.resolve('late');
    await hungCall;
    expect(h.breaker.state).toBe('OPEN');
  });
});

describe('CircuitBreaker: listeners', () => {
  it('receive each transition once, in order, with clock times and reasons', async () => {
    const h = harness();
    const start = h.clock.t;
    await openBreaker(h);
    h.advance(30_000);
    await expect(h.fail()).rejects.toThrow();
    h.advance(30_000);
    await h.ok();
    expect(h.transitions()).toEqual([
      'CLOSED->OPEN',
      'OPEN->HALF_OPEN',
      'HALF_OPEN->OPEN',
      'OPEN->HALF_OPEN',
      'HALF_OPEN->CLOSED',
    ]);
    expect(h.changes.map((c) => c.at - start)).toEqual([0, 30_000, 30_000, 60_000, 60_000]);
    expect(h.changes.every((c) => c.name === 'postgres')).toBe(true);
    expect(h.changes[0]?.reason).toContain('5 failures within 60000 ms');
    expect(h.changes[0]?.reason).toContain('connection refused');
    expect(h.changes[2]?.reason).toContain('trial call failed');
    expect(h.changes[4]?.reason).toBe('trial call succeeded');
  });

  it('no transition while calls fail fast or succeed in CLOSED', async () => {
    const h = harness();
    await h.ok();
    await openBreaker(h);
    await expect(h.ok()).rejects.toThrow();
    await expect(h.ok()).rejects.toThrow();
    expect(h.transitions()).toEqual(['CLOSED->OPEN']);
  });

  it('can unsubscribe, and a throwing listener does not change the call outcome', async () => {
    const h = harness();
    const seen: string[] = [];
    const off = h.breaker.onStateChange((c) => seen.push(c.to));
    h.breaker.onStateChange(() => {
      throw new Error('listener bug');
    });
    await failTimes(h, 5);
    off();
    h.advance(30_000);
    await expect(h.ok()).resolves.toBe('ok');
    expect(seen).toEqual(['OPEN']);
    expect(h.transitions()).toEqual(['CLOSED->OPEN', 'OPEN->HALF_OPEN', 'HALF_OPEN->CLOSED']);
  });
});

describe('isDependencyFailure', () => {
  it('counts transient errors but not another breaker being open', () => {
    expect(isDependencyFailure(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isDependencyFailure(new SchemaViolationError('x'))).toBe(false);
    expect(isDependencyFailure(new Error('bug'))).toBe(false);
    expect(isDependencyFailure(new CircuitOpenError('redis', 0))).toBe(false);
  });
});

describe('breakers', () => {
  it('gives one independent breaker per dependency with shared options', async () => {
    const clock = { t: 0 };
    const changes: BreakerStateChange[] = [];
    const all = breakers(['postgres', 'redis', 'kafka'], {
      ...BREAKER,
      now: () => clock.t,
      failureThreshold: 1,
      onStateChange: (c) => changes.push(c),
    });
    expect(Object.keys(all)).toEqual(['postgres', 'redis', 'kafka']);
    await expect(
      all.redis.execute(() => Promise.reject(new TransientError('down'))),
    ).rejects.toThrow();
    expect([all.postgres.state, all.redis.state, all.kafka.state]).toEqual([
      'CLOSED',
      'OPEN',
      'CLOSED',
    ]);
    expect(changes).toEqual([
      { name: 'redis', from: 'CLOSED', to: 'OPEN', at: 0, reason: expect.any(String) },
    ]);
  });
});

describe('breakerTelemetry', () => {
  function fakes() {
    const lines: { level: string; message: string; fields: unknown }[] = [];
    const log =
      (level: string) =>
      (message: string, ...fields: unknown[]) =>
        lines.push({ level, message, fields: fields[0] });
    const logger: LogSink = {
      error: log('error'),
      warn: log('warn'),
      info: log('info'),
      debug: log('debug'),
    };
    const metrics: [string, string, number][] = [];
    const sink: BreakerMetricsSink = {
      addMetric: (name, unit, value) => metrics.push([name, unit, value]),
    };
    return { lines, logger, metrics, sink };
  }

  it('logs every change and counts changes and openings', async () => {
    const f = fakes();
    const h = harness();
    h.breaker.onStateChange(breakerTelemetry(f.logger, f.sink));
    await openBreaker(h);
    h.advance(30_000);
    await h.ok();
    expect(f.lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'circuit breaker "postgres" CLOSED -> OPEN'],
      ['warn', 'circuit breaker "postgres" OPEN -> HALF_OPEN'],
      ['info', 'circuit breaker "postgres" HALF_OPEN -> CLOSED'],
    ]);
    expect(f.lines[0]?.fields).toMatchObject({
      breaker: 'postgres',
      from: 'CLOSED',
      to: 'OPEN',
      at: new Date(1_000_000).toISOString(),
    });
    expect(f.metrics).toEqual([
      [METRICS.circuitBreakerStateChange, 'Count', 1],
      [METRICS.circuitBreakerOpened, 'Count', 1],
      [METRICS.circuitBreakerStateChange, 'Count', 1],
      [METRICS.circuitBreakerStateChange, 'Count', 1],
    ]);
  });

  it('accepts the Powertools Metrics instance', () => {
    expectTypeOf<Metrics>().toExtend<BreakerMetricsSink>();
  });
});
