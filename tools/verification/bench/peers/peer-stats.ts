// Pure arithmetic of the peers comparison: throughput and commit-to-topic latency from the
// records read back from a peer's topic (LogAppendTime timestamps: the broker's clock, the same
// machine clock the writer reads). No I/O: unit-tested (peers-stats.test.ts).
import { percentile } from '../stats';

/** One record as read back from a topic. */
export interface TopicRecord {
  readonly partition: number;
  readonly offset: string;
  /** The broker's append time (the topic has message.timestamp.type=LogAppendTime), epoch ms. */
  readonly timestampMs: number;
  readonly key: string | null;
  /** The `eventId` header (both peers put the outbox id there). */
  readonly eventId: string | undefined;
  /** True when the value parses as JSON whose `eventId` equals the header. */
  readonly valueMatches: boolean;
}

export interface DrainFigures {
  /** Distinct events per second between the first and the last append. */
  readonly eventsPerSec: number;
  readonly records: number;
  readonly distinct: number;
  /** Records beyond the first of each event id (at-least-once redeliveries). */
  readonly duplicates: number;
  /** Expected ids not found on the topic. */
  readonly missing: number;
  /** Records without an eventId header or whose value does not carry that id. */
  readonly malformed: number;
  readonly firstAppendMs: number;
  readonly lastAppendMs: number;
}

/**
 * Throughput of a backlog drain: (distinct − 1) / (last append − first append). Only records
 * whose id is in `expected` count (probe rows and anything else on the topic are ignored);
 * counting distinct ids keeps a redelivery from inflating the rate.
 */
export function drainFigures(
  records: readonly TopicRecord[],
  expected: ReadonlySet<string>,
): DrainFigures {
  const seen = new Set<string>();
  let counted = 0;
  let malformed = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const r of records) {
    if (r.eventId === undefined || !expected.has(r.eventId)) continue;
    counted++;
    if (!r.valueMatches) malformed++;
    seen.add(r.eventId);
    first = Math.min(first, r.timestampMs);
    last = Math.max(last, r.timestampMs);
  }
  if (seen.size < 2) throw new RangeError(`a drain rate needs two events, got ${seen.size}`);
  if (!(last > first)) {
    throw new RangeError(`all ${seen.size} events were appended in the same millisecond`);
  }
  return {
    eventsPerSec: ((seen.size - 1) * 1000) / (last - first),
    records: counted,
    distinct: seen.size,
    duplicates: counted - seen.size,
    missing: expected.size - seen.size,
    malformed,
    firstAppendMs: first,
    lastAppendMs: last,
  };
}

export interface LatencyFigures {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  /** Window events found on the topic. */
  readonly samples: number;
  /** Window events not found on the topic. */
  readonly missing: number;
  readonly duplicates: number;
}

/**
 * Commit-to-topic latency of each event committed in the window: the earliest append time of a
 * record carrying its id minus the wall-clock time right after its COMMIT returned. The append
 * time has millisecond resolution (truncated), so a latency can come out slightly negative.
 */
export function commitToTopic(
  commits: ReadonlyMap<string, number>,
  records: readonly TopicRecord[],
): LatencyFigures {
  const firstAppend = new Map<string, number>();
  let duplicates = 0;
  for (const r of records) {
    if (r.eventId === undefined || !commits.has(r.eventId)) continue;
    const known = firstAppend.get(r.eventId);
    if (known === undefined) firstAppend.set(r.eventId, r.timestampMs);
    else {
      duplicates++;
      if (r.timestampMs < known) firstAppend.set(r.eventId, r.timestampMs);
    }
  }
  const latencies: number[] = [];
  for (const [id, committedAt] of commits) {
    const appended = firstAppend.get(id);
    if (appended !== undefined) latencies.push(appended - committedAt);
  }
  if (latencies.length === 0) {
    throw new RangeError(`none of the ${commits.size} window events reached the topic`);
  }
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] as number,
    mean: latencies.reduce((s, v) => s + v, 0) / latencies.length,
    samples: latencies.length,
    missing: commits.size - latencies.length,
    duplicates,
  };
}

/** Sum of per-partition end offsets (high watermarks). */
export function totalOffsets(ends: ReadonlyMap<number, bigint>): bigint {
  let sum = 0n;
  for (const v of ends.values()) sum += v;
  return sum;
}
