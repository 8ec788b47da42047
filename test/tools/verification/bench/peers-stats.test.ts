import { describe, expect, it } from 'vitest';
import {
  commitToTopic,
  drainFigures,
  type TopicRecord,
  totalOffsets,
} from '../../../../tools/verification/bench/peers/peer-stats';

function rec(eventId: string | undefined, timestampMs: number, valueMatches = true): TopicRecord {
  return { partition: 0, offset: '0', timestampMs, key: 'k', eventId, valueMatches };
}

describe('drainFigures', () => {
  it('is (distinct − 1) / (last − first append) in events per second', () => {
    const records = [rec('a', 1_000), rec('b', 1_250), rec('c', 1_500)];
    const f = drainFigures(records, new Set(['a', 'b', 'c']));
    expect(f.eventsPerSec).toBe(4); // 2 events after the first in 0.5 s
    expect(f.distinct).toBe(3);
    expect(f.firstAppendMs).toBe(1_000);
    expect(f.lastAppendMs).toBe(1_500);
  });

  it('ignores probe rows and other records whose id is not expected', () => {
    const records = [rec('probe', 0), rec(undefined, 10), rec('a', 1_000), rec('b', 2_000)];
    const f = drainFigures(records, new Set(['a', 'b']));
    expect(f.eventsPerSec).toBe(1);
    expect(f.records).toBe(2);
  });

  it('counts a redelivery as a duplicate, not as throughput', () => {
    const records = [rec('a', 1_000), rec('b', 2_000), rec('a', 3_000)];
    const f = drainFigures(records, new Set(['a', 'b']));
    expect(f.duplicates).toBe(1);
    expect(f.distinct).toBe(2);
    expect(f.eventsPerSec).toBe(0.5); // 1 event after the first over 2 s (last append 3,000)
  });

  it('reports expected events that never arrived and values that do not carry their id', () => {
    const f = drainFigures([rec('a', 0), rec('b', 100, false)], new Set(['a', 'b', 'c']));
    expect(f.missing).toBe(1);
    expect(f.malformed).toBe(1);
  });

  it('refuses a rate from fewer than two events or a zero time span', () => {
    expect(() => drainFigures([rec('a', 0)], new Set(['a']))).toThrow(RangeError);
    expect(() => drainFigures([rec('a', 5), rec('b', 5)], new Set(['a', 'b']))).toThrow(
      /same millisecond/,
    );
  });
});

describe('commitToTopic', () => {
  it('subtracts each commit time from its record append time and takes nearest-rank percentiles', () => {
    const commits = new Map<string, number>();
    const records: TopicRecord[] = [];
    for (let i = 1; i <= 100; i++) {
      commits.set(`e${i}`, 10_000 + i * 10);
      records.push(rec(`e${i}`, 10_000 + i * 10 + i)); // latency i ms
    }
    const f = commitToTopic(commits, records);
    expect(f.p50).toBe(50);
    expect(f.p95).toBe(95);
    expect(f.p99).toBe(99);
    expect(f.max).toBe(100);
    expect(f.mean).toBeCloseTo(50.5);
    expect(f.samples).toBe(100);
    expect(f.missing).toBe(0);
  });

  it('uses the earliest copy of a duplicate and counts the duplicate', () => {
    const commits = new Map([['a', 1_000.4]]);
    const f = commitToTopic(commits, [rec('a', 1_020), rec('a', 1_005)]);
    expect(f.p50).toBeCloseTo(4.6);
    expect(f.duplicates).toBe(1);
  });

  it('counts window events not on the topic as missing and ignores other records', () => {
    const commits = new Map([
      ['a', 100],
      ['b', 200],
    ]);
    const f = commitToTopic(commits, [rec('a', 110), rec('warm-up', 50), rec(undefined, 60)]);
    expect(f.samples).toBe(1);
    expect(f.missing).toBe(1);
    expect(f.max).toBe(10);
  });

  it('keeps a sub-millisecond negative latency (append times are truncated to ms)', () => {
    const f = commitToTopic(new Map([['a', 1_000.7]]), [rec('a', 1_000)]);
    expect(f.p50).toBeCloseTo(-0.7);
  });

  it('fails when no window event reached the topic', () => {
    expect(() => commitToTopic(new Map([['a', 1]]), [])).toThrow(/none of the 1/);
  });
});

describe('totalOffsets', () => {
  it('sums the end offsets of every partition', () => {
    expect(
      totalOffsets(
        new Map([
          [0, 3n],
          [1, 0n],
          [2, 7n],
        ]),
      ),
    ).toBe(10n);
  });
});
