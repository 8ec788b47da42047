// The local stand-in for CloudWatch's metric storage: datapoints aggregated per period (local
// default 5 s; CloudWatch graphs use 60 s) for the statistics the signals use, in a bounded
// window. Hand-written: no installed library aggregates CloudWatch statistics per period, and
// the logic is a few maps and one sort.
import type { Statistic } from '../../../lib/config/signals';
import type { MetricDatum, MetricSink } from '../metric-sink';

/** Which metric a datum belongs to: namespace, name and the exact set of dimensions. */
export interface MetricIdentity {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface Datapoint {
  /** Start of the period, epoch milliseconds. */
  readonly t: number;
  readonly v: number;
}

export interface TimeRange {
  /** First period start included. */
  readonly from: number;
  /** Last period start included. */
  readonly to: number;
}

export interface MetricStoreOptions {
  /** Aggregation period; default 5 s. */
  readonly periodMs?: number;
  /** Periods older than this are dropped; default 15 min. */
  readonly windowMs?: number;
  /**
   * Values kept per period for percentiles; beyond it a uniform sample (reservoir) is kept,
   * so p95/p99 become estimates while Sum, Minimum, Maximum and Average stay exact.
   */
  readonly maxSamplesPerPeriod?: number;
  /** Clock; tests pass their own. */
  readonly now?: () => number;
}

export const DEFAULT_PERIOD_MS = 5_000;
export const DEFAULT_WINDOW_MS = 15 * 60_000;
const DEFAULT_MAX_SAMPLES = 10_000;

/** CloudWatch matches a metric on namespace, name and the full dimension set. */
export function metricKey(m: MetricIdentity): string {
  const dims = Object.entries(m.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([m.namespace, m.metricName, dims]);
}

interface Bucket {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Every value up to the sample cap, then a reservoir sample. */
  readonly samples: number[];
}

/**
 * Nearest-rank percentile: the smallest value with at least p % of the values at or below it.
 * CloudWatch's own percentiles on raw EMF values are estimates too; this is the exact rank.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

function statisticOf(bucket: Bucket, statistic: Statistic): number {
  switch (statistic) {
    case 'Sum':
      return bucket.sum;
    case 'Minimum':
      return bucket.min;
    case 'Maximum':
      return bucket.max;
    case 'Average':
      return bucket.sum / bucket.count;
    case 'p95':
    case 'p99': {
      const sorted = [...bucket.samples].sort((a, b) => a - b);
      return percentile(sorted, statistic === 'p95' ? 95 : 99);
    }
  }
}

export class MetricStore implements MetricSink {
  readonly periodMs: number;
  readonly windowMs: number;
  /** Period start of the first period this store covers (math expressions start here). */
  readonly startedAt: number;
  private readonly maxSamples: number;
  private readonly now: () => number;
  private readonly metrics = new Map<string, Map<number, Bucket>>();

  constructor(options: MetricStoreOptions = {}) {
    this.periodMs = options.periodMs ?? DEFAULT_PERIOD_MS;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.maxSamples = options.maxSamplesPerPeriod ?? DEFAULT_MAX_SAMPLES;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.periodMs) || this.periodMs < 100) {
      throw new Error(`periodMs must be an integer >= 100, got ${this.periodMs}`);
    }
    if (this.windowMs < this.periodMs) {
      throw new Error(`windowMs (${this.windowMs}) must be at least periodMs (${this.periodMs})`);
    }
    if (!Number.isInteger(this.maxSamples) || this.maxSamples < 1) {
      throw new Error(`maxSamplesPerPeriod must be a positive integer, got ${this.maxSamples}`);
    }
    this.startedAt = this.periodStart(this.now());
  }

  periodStart(timestamp: number): number {
    return Math.floor(timestamp / this.periodMs) * this.periodMs;
  }

  /** The periods currently shown: from the later of start and window edge to now. */
  range(): TimeRange {
    const to = this.periodStart(this.now());
    const windowStart = this.periodStart(this.now() - this.windowMs) + this.periodMs;
    return { from: Math.max(this.startedAt, windowStart), to };
  }

  /** Every period start in a range, oldest first. */
  periods(range: TimeRange = this.range()): number[] {
    const out: number[] = [];
    for (let t = range.from; t <= range.to; t += this.periodMs) out.push(t);
    return out;
  }

  put(datum: MetricDatum): void {
    // A NaN or infinite value would poison every statistic of its period; CloudWatch rejects it.
    if (!Number.isFinite(datum.value) || !Number.isFinite(datum.timestamp)) return;
    const t = this.periodStart(datum.timestamp);
    if (t < this.range().from) return;
    const key = metricKey(datum);
    let buckets = this.metrics.get(key);
    if (buckets === undefined) {
      buckets = new Map();
      this.metrics.set(key, buckets);
    }
    const bucket = buckets.get(t);
    if (bucket === undefined) {
      buckets.set(t, {
        count: 1,
        sum: datum.value,
        min: datum.value,
        max: datum.value,
        samples: [datum.value],
      });
      this.prune();
      return;
    }
    bucket.count += 1;
    bucket.sum += datum.value;
    bucket.min = Math.min(bucket.min, datum.value);
    bucket.max = Math.max(bucket.max, datum.value);
    if (bucket.samples.length < this.maxSamples) {
      bucket.samples.push(datum.value);
    } else {
      // Reservoir sampling (Algorithm R): every value seen has the same chance to be kept.
      const slot = Math.floor(Math.random() * bucket.count);
      if (slot < this.maxSamples) bucket.samples[slot] = datum.value;
    }
  }

  /** One datapoint per period that has data, oldest first (CloudWatch omits empty periods). */
  series(
    metric: MetricIdentity,
    statistic: Statistic,
    range: TimeRange = this.range(),
  ): Datapoint[] {
    const buckets = this.metrics.get(metricKey(metric));
    if (buckets === undefined) return [];
    const out: Datapoint[] = [];
    for (const [t, bucket] of buckets) {
      if (t >= range.from && t <= range.to) out.push({ t, v: statisticOf(bucket, statistic) });
    }
    return out.sort((a, b) => a.t - b.t);
  }

  /** Drops periods that left the window (on each new period, so the cost is amortised). */
  private prune(): void {
    const from = this.range().from;
    for (const [key, buckets] of this.metrics) {
      for (const t of buckets.keys()) if (t < from) buckets.delete(t);
      if (buckets.size === 0) this.metrics.delete(key);
    }
  }
}
