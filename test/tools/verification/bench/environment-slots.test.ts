import { describe, expect, it } from 'vitest';
import {
  addCounts,
  EnvironmentSlots,
  emptyCounts,
  mergeMetricValues,
  takeCounts,
} from '../../../../tools/verification/bench/environment-slots';

/** Whether `promise` has settled once pending callbacks ran (no timers involved). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

describe('EnvironmentSlots', () => {
  it('gives each invocation a free environment, the lowest numbered first', async () => {
    const slots = new EnvironmentSlots(3);
    expect(await slots.acquire()).toBe(0);
    expect(await slots.acquire()).toBe(1);
    slots.release(0);
    expect(await slots.acquire()).toBe(0);
    expect(await slots.acquire()).toBe(2);
    expect(slots.inUse).toBe(3);
  });

  it('makes an invocation wait while every environment is busy, then hands it the one freed', async () => {
    const slots = new EnvironmentSlots(2);
    await slots.acquire();
    await slots.acquire();
    const third = slots.acquire();
    const fourth = slots.acquire();
    expect(await settled(third)).toBe(false);
    slots.release(1);
    expect(await third).toBe(1);
    expect(await settled(fourth)).toBe(false);
    slots.release(0);
    expect(await fourth).toBe(0);
    expect(slots.inUse).toBe(2);
  });

  it('frees an environment when nothing waits for it', async () => {
    const slots = new EnvironmentSlots(1);
    await slots.acquire();
    slots.release(0);
    expect(slots.inUse).toBe(0);
    expect(await slots.acquire()).toBe(0);
  });

  it('refuses to release an environment that runs nothing', () => {
    const slots = new EnvironmentSlots(2);
    expect(() => slots.release(1)).toThrow(/not running/);
    expect(() => slots.release(5)).toThrow(/not running/);
  });

  it('rejects waiting and later invocations once failed, with the first failure', async () => {
    const slots = new EnvironmentSlots(1);
    await slots.acquire();
    const waiting = slots.acquire();
    slots.fail(new Error('environment 0 crashed'));
    slots.fail(new Error('a later failure'));
    await expect(waiting).rejects.toThrow('environment 0 crashed');
    await expect(slots.acquire()).rejects.toThrow('environment 0 crashed');
  });

  it('needs at least one environment', () => {
    expect(() => new EnvironmentSlots(0)).toThrow(RangeError);
    expect(() => new EnvironmentSlots(1.5)).toThrow(RangeError);
  });
});

describe('environment counts', () => {
  it('adds deltas, dead letters per error type included', () => {
    const total = emptyCounts();
    addCounts(total, {
      applied: 3,
      duplicates: 1,
      deadLettered: 2,
      deadLetteredByType: { INVALID_TRANSITION: 2 },
    });
    addCounts(total, {
      applied: 4,
      duplicates: 0,
      deadLettered: 1,
      deadLetteredByType: { INVALID_TRANSITION: 1, SCHEMA_VIOLATION: 1 },
    });
    expect(total).toEqual({
      applied: 7,
      duplicates: 1,
      deadLettered: 3,
      deadLetteredByType: { INVALID_TRANSITION: 3, SCHEMA_VIOLATION: 1 },
    });
  });

  it('takes the counts since the last take and starts again from zero', () => {
    const counts = emptyCounts();
    counts.applied = 5;
    counts.deadLettered = 1;
    counts.deadLetteredByType.INVALID_TRANSITION = 1;
    const first = takeCounts(counts);
    expect(first).toEqual({
      applied: 5,
      duplicates: 0,
      deadLettered: 1,
      deadLetteredByType: { INVALID_TRANSITION: 1 },
    });
    expect(counts).toEqual(emptyCounts());
    counts.duplicates = 2;
    expect(takeCounts(counts)).toEqual({ ...emptyCounts(), duplicates: 2 });
    // The first delta is not changed by later counting.
    expect(first.duplicates).toBe(0);
    expect(first.deadLetteredByType).toEqual({ INVALID_TRANSITION: 1 });
  });
});

describe('mergeMetricValues', () => {
  it('concatenates every environment’s values per metric', () => {
    expect(
      mergeMetricValues([
        { EventProcessingDuration: [1, 2], CircuitBreakerStateChange: [] },
        { EventProcessingDuration: [3] },
        {},
      ]),
    ).toEqual({ EventProcessingDuration: [1, 2, 3], CircuitBreakerStateChange: [] });
  });
});
