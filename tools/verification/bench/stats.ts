// Pure arithmetic of the benchmark: percentiles, rates, open-loop pacing, the end-to-end
// workload's schedule, ratios and target checks. No I/O, no clock: unit-tested with
// hand-computed figures (test/tools/verification/bench/stats.test.ts).

/**
 * Nearest-rank percentile (the value at rank ⌈p/100 · n⌉ of the sorted sample): always a
 * measured value, never an interpolation. `sorted` must be ascending.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[rank - 1] as number;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] as number,
    mean: sum / sorted.length,
  };
}

/** Median of a small sample (cold-start repetitions): the lower middle value for even n. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 50);
}

/** Events per second for `count` events in `elapsedMs`. */
export function perSecond(count: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) throw new RangeError(`elapsed time must be positive, got ${elapsedMs}`);
  return (count * 1000) / elapsedMs;
}

/**
 * A throughput measured between the first progress a poller saw and completion: the work
 * before the first observation (`countAtStart`) is left out of both count and time, so a
 * start-up delay (group join, connect) cannot dilute the rate.
 */
export function windowRate(
  countAtStart: number,
  startMs: number,
  countAtEnd: number,
  endMs: number,
): number {
  return perSecond(countAtEnd - countAtStart, endMs - startMs);
}

// --- open-loop pacing ---------------------------------------------------------------------

/** When event `index` (0-based) is due, in ms after the start, at a fixed rate. */
export function dueAtMs(index: number, ratePerSec: number): number {
  return (index * 1000) / ratePerSec;
}

/**
 * How many events must have been started `elapsedMs` after the start (event i is due at
 * i·1000/rate ms, the first at 0), capped at `total`. An open-loop writer starts whatever is
 * due regardless of how many are still in flight, so a slow response cannot slow the offered
 * load (no coordinated omission).
 */
export function dueCount(elapsedMs: number, ratePerSec: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * ratePerSec) / 1000) + 1);
}

// --- the end-to-end workload --------------------------------------------------------------

export type WorkloadEventType = 'OrderPlaced' | 'PaymentCaptured' | 'OrderShipped';

export interface WorkloadAction {
  readonly eventType: WorkloadEventType;
  /** Order key, unique within a run: `o<k>` for the lifecycle orders, `x<i>` for fillers. */
  readonly order: string;
}

/**
 * Event `index` of the end-to-end workload: one in three places order k = ⌊index/3⌋, one
 * captures the payment of order k − lag, one ships order k − 2·lag. The lag keeps an order's
 * next event well after its previous one was committed (lag orders = 3·lag events later).
 * Until an order `lag` back exists, the slot places a filler order instead, so the rate and
 * the count stay exact.
 */
export function workloadAction(index: number, lag: number): WorkloadAction {
  const k = Math.floor(index / 3);
  const phase = index % 3;
  if (phase === 0) return { eventType: 'OrderPlaced', order: `o${k}` };
  const target = k - phase * lag;
  if (target < 0) return { eventType: 'OrderPlaced', order: `x${index}` };
  return { eventType: phase === 1 ? 'PaymentCaptured' : 'OrderShipped', order: `o${target}` };
}

/**
 * Which of `shards` writers sends an order's commands: all of one order's go to one writer, so
 * its placement is queued before its payment and shipment (another writer could send those
 * first while the placement still waits for a connection).
 */
export function writerOf(order: string, shards: number): number {
  let hash = 0;
  for (let i = 0; i < order.length; i++) hash = (hash * 31 + order.charCodeAt(i)) >>> 0;
  return hash % shards;
}

// --- ratios and targets -------------------------------------------------------------------

/** `figure / limit`, or undefined when either is missing or the limit is not positive. */
export function ratio(figure: number | undefined, limit: number | undefined): number | undefined {
  if (figure === undefined || limit === undefined || !(limit > 0)) return undefined;
  return figure / limit;
}

export interface Target {
  /** `min`: the value must be at least `bound`; `max`: at most. */
  readonly kind: 'min' | 'max';
  readonly bound: number;
}

export interface TargetCheck {
  readonly met: boolean;
  /** How far the value is on the wrong side of the bound (0 when met), in the value's unit. */
  readonly missedBy: number;
  /** `missedBy` relative to the bound, in percent (0 when met). */
  readonly missedByPercent: number;
}

export function checkTarget(value: number, target: Target): TargetCheck {
  const gap = target.kind === 'min' ? target.bound - value : value - target.bound;
  if (gap <= 0) return { met: true, missedBy: 0, missedByPercent: 0 };
  // A bound of 0 (no failed write) has no relative shortfall: any miss counts as a whole one.
  const percent = target.bound === 0 ? 100 : (gap / target.bound) * 100;
  return { met: false, missedBy: gap, missedByPercent: percent };
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The writers' results as one writer's: counts added up, the worst lateness, the first start. */
export function mergeWriters(results: readonly Record<string, unknown>[]): Record<string, unknown> {
  const sum = (key: string) => results.reduce((n, r) => n + (finite(r[key]) ?? 0), 0);
  const acceptedByType: Record<string, number> = {};
  for (const r of results) {
    for (const [type, n] of Object.entries(
      typeof r.acceptedByType === 'object' && r.acceptedByType !== null ? r.acceptedByType : {},
    )) {
      acceptedByType[type] = (acceptedByType[type] ?? 0) + (finite(n) ?? 0);
    }
  }
  const starts = results.map((r) => finite(r.startedAt)).filter((t): t is number => t !== null);
  return {
    startedAt: starts.length > 0 ? Math.min(...starts) : null,
    total: sum('total'),
    written: sum('written'),
    acceptedByType,
    errors: sum('errors'),
    errorSamples: results
      .flatMap((r) => (r.errorSamples as string[] | undefined) ?? [])
      .slice(0, 5),
    achievedPerSec: sum('achievedPerSec'),
    maxInFlight: sum('maxInFlight'),
    maxLateMs: Math.max(0, ...results.map((r) => finite(r.maxLateMs) ?? 0)),
    peakRssMb: Math.max(0, ...results.map((r) => finite(r.peakRssMb) ?? 0)),
    writers: results.length,
  };
}
