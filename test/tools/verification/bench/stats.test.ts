import { describe, expect, it } from 'vitest';
import {
  checkTarget,
  dueAtMs,
  dueCount,
  median,
  mergeWriters,
  percentile,
  perSecond,
  ratio,
  summarize,
  windowRate,
  workloadAction,
  writerOf,
} from '../../../../tools/verification/bench/stats';

describe('percentile (nearest rank)', () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('takes the value at rank ceil(p/100 · n)', () => {
    expect(percentile(ten, 50)).toBe(5); // rank 5
    expect(percentile(ten, 95)).toBe(10); // rank ceil(9.5) = 10
    expect(percentile(ten, 90)).toBe(9); // rank 9
    expect(percentile(ten, 10)).toBe(1); // rank 1
    expect(percentile(ten, 100)).toBe(10);
  });

  it('on 200 values, p99 is the 198th', () => {
    const values = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(198);
    expect(percentile(values, 95)).toBe(190);
  });

  it('rejects an empty sample and percentiles outside (0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile(ten, 0)).toThrow(RangeError);
    expect(() => percentile(ten, 101)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts, then reports count, percentiles, max and mean', () => {
    // sorted: 2 4 6 8 10 12 14 16 18 20 → mean 11
    const s = summarize([20, 2, 18, 4, 16, 6, 14, 8, 12, 10]);
    expect(s).toEqual({ count: 10, p50: 10, p95: 20, p99: 20, max: 20, mean: 11 });
  });

  it('median of an even sample is the lower middle value', () => {
    expect(median([40, 10, 30, 20])).toBe(20);
    expect(median([7, 3, 5])).toBe(5);
  });
});

describe('rates', () => {
  it('events per second', () => {
    expect(perSecond(20_000, 1_000)).toBe(20_000);
    expect(perSecond(3_000, 1_500)).toBe(2_000);
    expect(() => perSecond(1, 0)).toThrow(RangeError);
  });

  it('a window rate leaves out what happened before the first observation', () => {
    // 1,000 seen at 500 ms, 9,000 at 1,300 ms: 8,000 events in 0.8 s.
    expect(windowRate(1_000, 500, 9_000, 1_300)).toBe(10_000);
  });
});

describe('open-loop pacing', () => {
  it('event i is due at i · 1000 / rate ms', () => {
    expect(dueAtMs(0, 1_000)).toBe(0);
    expect(dueAtMs(250, 1_000)).toBe(250);
    expect(dueAtMs(3, 4)).toBe(750);
  });

  it('counts the events due by a time, the first at 0, capped at the total', () => {
    expect(dueCount(0, 1_000, 10_000)).toBe(1);
    expect(dueCount(0.9, 1_000, 10_000)).toBe(1);
    expect(dueCount(1, 1_000, 10_000)).toBe(2);
    expect(dueCount(999.5, 1_000, 10_000)).toBe(1_000);
    expect(dueCount(1_000, 1_000, 10_000)).toBe(1_001);
    expect(dueCount(60_000, 1_000, 10_000)).toBe(10_000);
    expect(dueCount(-5, 1_000, 10)).toBe(0);
    // 4 per second: due at 0, 250, 500, 750 ms.
    expect(dueCount(600, 4, 100)).toBe(3);
  });
});

describe('end-to-end workload schedule', () => {
  it('places, captures lag orders back, ships 2·lag orders back', () => {
    expect(workloadAction(30, 2)).toEqual({ eventType: 'OrderPlaced', order: 'o10' });
    expect(workloadAction(31, 2)).toEqual({ eventType: 'PaymentCaptured', order: 'o8' });
    expect(workloadAction(32, 2)).toEqual({ eventType: 'OrderShipped', order: 'o6' });
  });

  it('places filler orders until an order lag back exists', () => {
    expect(workloadAction(1, 2)).toEqual({ eventType: 'OrderPlaced', order: 'x1' });
    expect(workloadAction(5, 2)).toEqual({ eventType: 'OrderPlaced', order: 'x5' });
    expect(workloadAction(7, 2)).toEqual({ eventType: 'PaymentCaptured', order: 'o0' });
    expect(workloadAction(11, 2)).toEqual({ eventType: 'OrderPlaced', order: 'x11' });
    expect(workloadAction(14, 2)).toEqual({ eventType: 'OrderShipped', order: 'o0' });
  });

  it('every lifecycle order is shipped only after it was captured, captured after placed', () => {
    const seen = new Map<string, string[]>();
    for (let i = 0; i < 3_000; i++) {
      const a = workloadAction(i, 100);
      seen.set(a.order, [...(seen.get(a.order) ?? []), a.eventType]);
    }
    expect(seen.get('o0')).toEqual(['OrderPlaced', 'PaymentCaptured', 'OrderShipped']);
    // Order 899: placed at 2,697, captured at 3·999+1 = 2,998; shipping (3·1,099+2) is beyond.
    expect(seen.get('o899')).toEqual(['OrderPlaced', 'PaymentCaptured']);
    // Order 950: placed at 2,850; its capture (3·1,050+1) is beyond the 3,000 events.
    expect(seen.get('o950')).toEqual(['OrderPlaced']);
    expect(seen.get('o799')).toEqual(['OrderPlaced', 'PaymentCaptured', 'OrderShipped']);
  });
});

describe('ratios and targets', () => {
  it('figure over limit; undefined without a positive limit', () => {
    expect(ratio(19_000, 38_000)).toBe(0.5);
    expect(ratio(undefined, 38_000)).toBeUndefined();
    expect(ratio(1, 0)).toBeUndefined();
  });

  it('a minimum missed by 3,000 of 15,000 is 20 %', () => {
    expect(checkTarget(12_000, { kind: 'min', bound: 15_000 })).toEqual({
      met: false,
      missedBy: 3_000,
      missedByPercent: 20,
    });
    expect(checkTarget(15_000, { kind: 'min', bound: 15_000 }).met).toBe(true);
  });

  it('a maximum of 42 ms exceeded by 21 ms is 50 %', () => {
    expect(checkTarget(63, { kind: 'max', bound: 42 })).toEqual({
      met: false,
      missedBy: 21,
      missedByPercent: 50,
    });
    expect(checkTarget(41.9, { kind: 'max', bound: 42 })).toEqual({
      met: true,
      missedBy: 0,
      missedByPercent: 0,
    });
  });
});

describe('mergeWriters', () => {
  it('adds the shards up, keeps the worst lateness and memory and the first start', () => {
    const merged = mergeWriters([
      {
        startedAt: 1_000,
        total: 10,
        written: 9,
        errors: 1,
        acceptedByType: { OrderPlaced: 5, PaymentCaptured: 4 },
        errorSamples: ['a'],
        maxLateMs: 3,
        peakRssMb: 90,
      },
      {
        startedAt: 990,
        total: 10,
        written: 10,
        errors: 0,
        acceptedByType: { OrderPlaced: 6, OrderShipped: 4 },
        errorSamples: [],
        maxLateMs: 12,
        peakRssMb: 80,
      },
    ]);
    expect(merged).toMatchObject({
      startedAt: 990,
      total: 20,
      written: 19,
      errors: 1,
      acceptedByType: { OrderPlaced: 11, PaymentCaptured: 4, OrderShipped: 4 },
      errorSamples: ['a'],
      maxLateMs: 12,
      peakRssMb: 90,
      writers: 2,
    });
  });
});

describe('writerOf', () => {
  it('sends every command of an order through one writer, and spreads the orders', () => {
    const writers = new Map<string, Set<number>>();
    const perWriter = [0, 0];
    for (let index = 0; index < 3_000; index++) {
      const { order } = workloadAction(index, 100);
      const w = writerOf(order, 2);
      writers.set(order, (writers.get(order) ?? new Set()).add(w));
      perWriter[w] = (perWriter[w] ?? 0) + 1;
    }
    for (const set of writers.values()) expect(set.size).toBe(1);
    expect(Math.min(...perWriter)).toBeGreaterThan(1_200);
  });
});
