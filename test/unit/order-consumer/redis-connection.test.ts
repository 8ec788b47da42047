// The consumer's Redis connection logic that needs no Redis: the reconnect backoff, the
// throttled connection warning, and the attempt tracker failing fast while disconnected.
import { describe, expect, it } from 'vitest';
import { redisAttemptTracker } from '../../../lambdas/order-consumer/idempotency-gate';
import { redisReconnectDelayMs, throttledWarning } from '../../../lambdas/order-consumer/runtime';
import type { KafkaRecord } from '../../../lambdas/shared/kafka/msk-event';
import { loadStageConfig } from '../../../lib/config/stage-config';

/** The stage config's reconnect backoff, as the consumer's environment carries it. */
const RECONNECT = loadStageConfig('dev').cache.reconnect;

describe('redisReconnectDelayMs', () => {
  it('doubles from 100 ms and stops growing at 5 s', () => {
    const top = () => 1 - Number.EPSILON;
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7, 20, 1_000].map((n) =>
      redisReconnectDelayMs(n, RECONNECT, top),
    );
    expect(RECONNECT).toEqual({ baseMs: 100, capMs: 5_000 });
    expect(ceilings).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000]);
  });

  it('draws from the upper half of the ceiling (jitter, never a burst of zero delays)', () => {
    for (const n of [0, 3, 9]) {
      const ceiling = Math.min(RECONNECT.capMs, RECONNECT.baseMs * 2 ** n);
      expect(redisReconnectDelayMs(n, RECONNECT, () => 0)).toBe(ceiling / 2);
      for (let i = 0; i < 50; i++) {
        const delay = redisReconnectDelayMs(n, RECONNECT);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('always returns a finite positive delay, so the client never stops reconnecting', () => {
    for (const n of [-1, Number.NaN, 1.5, Number.MAX_SAFE_INTEGER, 2 ** 60]) {
      const delay = redisReconnectDelayMs(n, RECONNECT);
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThanOrEqual(RECONNECT.capMs);
    }
  });
});

describe('throttledWarning', () => {
  function harness(intervalMs = 30_000) {
    let now = 1_000;
    const lines: Array<{ message: string; fields: Record<string, unknown> }> = [];
    const warn = throttledWarning(
      { warn: (message, fields = {}) => lines.push({ message, fields }) },
      'redis down',
      intervalMs,
      () => now,
    );
    return { warn, lines, advance: (ms: number) => (now += ms) };
  }

  it('logs the first at once, then one per interval with the count suppressed', () => {
    const { warn, lines, advance } = harness();
    warn({ n: 1 });
    for (let i = 2; i <= 11; i++) {
      advance(1_000);
      warn({ n: i });
    }
    expect(lines).toEqual([{ message: 'redis down', fields: { n: 1 } }]);
    advance(20_000); // 30 s after the first
    warn({ n: 12 });
    expect(lines[1]).toEqual({ message: 'redis down', fields: { n: 12, suppressed: 10 } });
    advance(29_999);
    warn({ n: 13 });
    expect(lines).toHaveLength(2);
  });

  it('logs at once again after reset (the connection came back and was lost again)', () => {
    const { warn, lines, advance } = harness();
    warn({ n: 1 });
    advance(10);
    warn({ n: 2 });
    warn.reset();
    advance(10);
    warn({ n: 3 });
    expect(lines.map((l) => l.fields)).toEqual([{ n: 1 }, { n: 3 }]);
  });
});

describe('redisAttemptTracker', () => {
  const record = { topic: 't', partition: 0, offset: 7 } as unknown as KafkaRecord;

  it('answers "uncountable" at once while Redis is not connected, without issuing MULTI', async () => {
    const warnings: unknown[] = [];
    let multiCalls = 0;
    const tracker = redisAttemptTracker(
      {
        isReady: false,
        multi: (() => {
          multiCalls++;
          // MULTI would wait for a connection (not covered by disableOfflineQueue).
          return { incr: () => ({ expire: () => ({ exec: () => new Promise(() => {}) }) }) };
        }) as never,
      },
      { error() {}, info() {}, debug() {}, warn: (...args) => warnings.push(args) },
      86_400,
    );
    await expect(tracker.increment(record)).resolves.toBeUndefined();
    expect(multiCalls).toBe(0);
    expect(warnings).toHaveLength(1);
  });
});
