import { describe, expect, it } from 'vitest';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import { ProbeRunner } from '../../../../tools/local-runtime/dashboard/probes';
import {
  type Gauge,
  NoLocalAnalogue,
} from '../../../../tools/local-runtime/dashboard/probes/types';
import { MetricStore } from '../../../../tools/local-runtime/dashboard/store';

const metric = (name: string) => ({
  namespace: 'AWS/RDS',
  metricName: name,
  dimensions: { DBInstanceIdentifier: 'db' },
});

function logger() {
  const lines: Array<[string, string]> = [];
  const sink: LogSink = {
    error: (m) => lines.push(['error', m]),
    warn: (m) => lines.push(['warn', m]),
    info: (m) => lines.push(['info', m]),
    debug: () => undefined,
  };
  return { sink, lines };
}

describe('ProbeRunner', () => {
  it('puts readings under the gauge metric, logs each distinct failure once and keeps going', async () => {
    const T = 1_700_000_000_000;
    const store = new MetricStore({ periodMs: 1_000, now: () => T });
    let failures = 0;
    const gauges: Gauge[] = [
      { metric: metric('Good'), source: 'good', read: async () => 42 },
      { metric: metric('First'), source: 'rate', read: async () => undefined },
      {
        metric: metric('Broken'),
        source: 'broken',
        read: async () => {
          failures++;
          throw new Error('refused');
        },
      },
      { metric: metric('Hung'), source: 'hung', read: () => new Promise<number>(() => undefined) },
      {
        metric: metric('Absent'),
        source: 'absent',
        read: async () => {
          throw new NoLocalAnalogue('no such node');
        },
      },
    ];
    const log = logger();
    const runner = new ProbeRunner({
      groups: [{ gauges, close: async () => undefined }],
      sink: store,
      periodMs: 1_000,
      logger: log.sink,
      now: () => T + 10,
      readTimeoutMs: 20,
    });
    await runner.sampleOnce();
    await runner.sampleOnce();

    expect(store.series(metric('Good'), 'Sum')).toEqual([{ t: T, v: 84 }]);
    expect(runner.state(metric('Good'))?.problem).toBeUndefined();
    expect(runner.state(metric('First'))?.problem).toMatch(/second sample/);
    expect(runner.state(metric('Broken'))?.problem).toBe('refused');
    expect(runner.state(metric('Hung'))?.problem).toBe('no answer within 20 ms');
    expect(runner.state(metric('Absent'))).toMatchObject({
      noLocalAnalogue: true,
      problem: 'no such node',
    });
    expect(failures).toBe(2);
    // Broken and Hung once each (not per sample); Absent as information, not a warning.
    expect([...log.lines].sort()).toEqual([
      ['info', 'local dashboard: no local analogue'],
      ['warn', 'local dashboard: probe failed; skipped this period'],
      ['warn', 'local dashboard: probe failed; skipped this period'],
    ]);
    expect(runner.state(metric('Unprobed'))).toBeUndefined();
  });
});
