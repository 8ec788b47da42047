import { describe, expect, it } from 'vitest';
import {
  MetricStore,
  metricKey,
  percentile,
} from '../../../../tools/local-runtime/dashboard/store';

const T0 = 1_700_000_000_000; // a multiple of 5,000 ms
const metric = {
  namespace: 'OrderPipeline/dev',
  metricName: 'EndToEndLatency',
  dimensions: { service: 'order-consumer' },
};

function storeAt(start = T0, options: { windowMs?: number; maxSamplesPerPeriod?: number } = {}) {
  const clock = { now: start };
  const store = new MetricStore({ periodMs: 5_000, now: () => clock.now, ...options });
  return { store, clock };
}

function putAll(store: MetricStore, values: number[], timestamp: number, m = metric) {
  for (const value of values) store.put({ ...m, value, timestamp });
}

describe('MetricStore aggregation per period', () => {
  it('computes every statistic of one period from its datapoints', () => {
    const { store, clock } = storeAt();
    putAll(store, [3, 1, 4, 1, 5], T0 + 100);
    clock.now = T0 + 4_000;
    const at = (statistic: Parameters<MetricStore['series']>[1]) => store.series(metric, statistic);
    expect(at('Sum')).toEqual([{ t: T0, v: 14 }]);
    expect(at('Minimum')).toEqual([{ t: T0, v: 1 }]);
    expect(at('Maximum')).toEqual([{ t: T0, v: 5 }]);
    expect(at('Average')).toEqual([{ t: T0, v: 2.8 }]);
    // Nearest rank of 5 values: p95 -> rank ceil(4.75) = 5, p99 -> rank 5.
    expect(at('p95')).toEqual([{ t: T0, v: 5 }]);
    expect(at('p99')).toEqual([{ t: T0, v: 5 }]);
  });

  it('takes percentiles by nearest rank over 1..100 put in reverse order', () => {
    const { store } = storeAt();
    putAll(
      store,
      Array.from({ length: 100 }, (_, i) => 100 - i),
      T0 + 1,
    );
    expect(store.series(metric, 'p95')[0]?.v).toBe(95);
    expect(store.series(metric, 'p99')[0]?.v).toBe(99);
    expect(store.series(metric, 'Average')[0]?.v).toBe(50.5);
    expect(store.series(metric, 'Sum')[0]?.v).toBe(5050);
  });

  it('splits datapoints at period boundaries and returns periods oldest first', () => {
    const { store, clock } = storeAt();
    clock.now = T0 + 12_000;
    putAll(store, [7], T0 + 10_000);
    putAll(store, [2], T0 + 4_999);
    putAll(store, [3], T0 + 5_000);
    putAll(store, [4], T0 + 9_999);
    expect(store.series(metric, 'Sum')).toEqual([
      { t: T0, v: 2 },
      { t: T0 + 5_000, v: 7 },
      { t: T0 + 10_000, v: 7 },
    ]);
    expect(store.periods()).toEqual([T0, T0 + 5_000, T0 + 10_000]);
  });

  it('matches a metric on its exact dimension set, in any key order', () => {
    const { store } = storeAt();
    const a = { ...metric, dimensions: { service: 'order-consumer', extra: 'x' } };
    const b = { ...metric, dimensions: { extra: 'x', service: 'order-consumer' } };
    putAll(store, [1], T0, a);
    putAll(store, [10], T0, metric);
    expect(metricKey(a)).toBe(metricKey(b));
    expect(store.series(b, 'Sum')).toEqual([{ t: T0, v: 1 }]);
    expect(store.series(metric, 'Sum')).toEqual([{ t: T0, v: 10 }]);
    expect(store.series({ ...metric, dimensions: {} }, 'Sum')).toEqual([]);
  });

  it('keeps a bounded window and ignores datapoints before it', () => {
    const { store, clock } = storeAt(T0, { windowMs: 30_000 });
    putAll(store, [1], T0);
    clock.now = T0 + 40_000;
    putAll(store, [2], T0 + 40_000);
    putAll(store, [99], T0 + 5_000); // older than the window
    expect(store.range()).toEqual({ from: T0 + 15_000, to: T0 + 40_000 });
    expect(store.series(metric, 'Sum')).toEqual([{ t: T0 + 40_000, v: 2 }]);
  });

  it('ignores datapoints from before it started and non-finite values', () => {
    const { store } = storeAt();
    putAll(store, [5], T0 - 1);
    putAll(store, [Number.NaN, Number.POSITIVE_INFINITY, 6], T0);
    expect(store.series(metric, 'Sum')).toEqual([{ t: T0, v: 6 }]);
  });

  it('stays exact for Sum, Minimum, Maximum and Average beyond the percentile sample cap', () => {
    const { store } = storeAt(T0, { maxSamplesPerPeriod: 10 });
    putAll(
      store,
      Array.from({ length: 1_000 }, (_, i) => i + 1),
      T0,
    );
    expect(store.series(metric, 'Sum')[0]?.v).toBe(500_500);
    expect(store.series(metric, 'Minimum')[0]?.v).toBe(1);
    expect(store.series(metric, 'Maximum')[0]?.v).toBe(1_000);
    expect(store.series(metric, 'Average')[0]?.v).toBe(500.5);
    const p99 = store.series(metric, 'p99')[0]?.v ?? 0;
    expect(p99).toBeGreaterThanOrEqual(1);
    expect(p99).toBeLessThanOrEqual(1_000);
  });

  it('rejects a period shorter than 100 ms and a window shorter than a period', () => {
    expect(() => new MetricStore({ periodMs: 10 })).toThrow(/periodMs/);
    expect(() => new MetricStore({ periodMs: 5_000, windowMs: 1_000 })).toThrow(/windowMs/);
  });

  it('percentile refuses an empty list', () => {
    expect(() => percentile([], 99)).toThrow(/no values/);
    expect(percentile([1, 2], 50)).toBe(1);
    expect(percentile([1, 2], 51)).toBe(2);
  });
});
