import { describe, expect, it } from 'vitest';
import { buildSignals, type SignalDefinition } from '../../../../lib/config/signals';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { parseCpuTotal, parseProcStat } from '../../../../tools/local-runtime/dashboard/probes/fs';
import { sumOffsetLag } from '../../../../tools/local-runtime/dashboard/probes/kafka';
import { memoryUsagePercent } from '../../../../tools/local-runtime/dashboard/probes/redis';
import { snapshotter, thresholdLabel } from '../../../../tools/local-runtime/dashboard/snapshot';
import { MetricStore } from '../../../../tools/local-runtime/dashboard/store';

describe('local dashboard snapshot', () => {
  const config = loadStageConfig('dev');
  const signals = buildSignals(config);

  it('lists every signal once, pipeline group first, with its thresholds labelled', () => {
    const reversed = [...signals].reverse();
    const snapshot = snapshotter('t', reversed, new MetricStore(), {
      probeState: () => undefined,
      pipelineNamespaces: [],
    })();
    const ids = snapshot.signals.map((s) => s.id);
    expect([...ids].sort()).toEqual(signals.map((s) => s.id).sort());
    const firstInfra = snapshot.signals.findIndex((s) => s.group === 'infrastructure');
    expect(snapshot.signals.slice(0, firstInfra).every((s) => s.group === 'pipeline')).toBe(true);
    expect(snapshot.signals.slice(firstInfra).every((s) => s.group === 'infrastructure')).toBe(
      true,
    );
    const lag = snapshot.signals.find((s) => s.id === 'consumer-lag');
    expect(lag?.thresholds.map((t) => t.label)).toEqual([
      'warning > 1,000 messages for 5 min',
      'critical > 5,000 messages for 1 min',
    ]);
  });

  it('labels a byte threshold in GiB too', () => {
    const storage = signals.find((s) => s.id === 'db-free-storage') as SignalDefinition;
    expect(
      thresholdLabel(storage.thresholds[0] as SignalDefinition['thresholds'][0], 'bytes'),
    ).toBe('critical < 2,147,483,648 bytes (2 GiB) for 5 min');
  });

  it('says where each signal comes from locally', () => {
    const snapshot = snapshotter('t', signals, new MetricStore(), {
      probeState: (m) =>
        m.metricName === 'SumOffsetLag'
          ? { source: 'lag probe', problem: 'topic missing', noLocalAnalogue: false }
          : m.metricName === 'KafkaDataLogsDiskUsed' && m.dimensions['Broker ID'] === '2'
            ? { source: 'disk', problem: 'no broker 2', noLocalAnalogue: true }
            : undefined,
      pipelineNamespaces: [config.observability.metricsNamespace],
    })();
    const local = (id: string) => snapshot.signals.find((s) => s.id === id)?.local;
    expect(local('consumer-lag')).toEqual({
      origin: 'probe',
      detail: 'lag probe',
      problem: 'topic missing',
    });
    expect(local('kafka-disk-2')).toEqual({ origin: 'none', detail: 'no broker 2' });
    expect(local('error-rate')?.origin).toBe('pipeline');
    expect(local('triage-failures')?.origin).toBe('none');
  });
});

describe('probe readings', () => {
  it('parses /proc/<pid>/stat with spaces and parentheses in the command name', () => {
    const line =
      '4242 (postgres: writer (x)) S 100 4242 4242 0 -1 4194560 10 0 0 0 7 3 11 13 20 0 1 0 99 1 1\n';
    expect(parseProcStat(line)).toEqual({
      pid: 4242,
      comm: 'postgres: writer (x)',
      ppid: 100,
      ticks: 10,
      reapedChildTicks: 24,
    });
  });

  it('sums the machine CPU ticks without double-counting guest time', () => {
    expect(parseCpuTotal('cpu  10 1 5 100 2 0 3 4 50 60\ncpu0 1 1 1 1 1 1 1 1 0 0\n')).toBe(125);
    expect(() => parseCpuTotal('intr 1 2 3')).toThrow(/first line/);
  });

  it('computes Redis memory use against maxmemory, else the machine memory', () => {
    const info = (max: number) =>
      `# Memory\r\nused_memory:250\r\nused_memory_human:250B\r\nmaxmemory:${max}\r\ntotal_system_memory:10000\r\n`;
    expect(memoryUsagePercent(info(1000))).toBe(25);
    expect(memoryUsagePercent(info(0))).toBe(2.5);
    expect(() => memoryUsagePercent('# Memory\r\n')).toThrow(/used_memory/);
  });

  it('sums consumer lag per partition, counting uncommitted partitions from the earliest offset', () => {
    const offsets = [
      { partition: 0, high: '10', low: '0' },
      { partition: 1, high: '10', low: '0' },
      { partition: 2, high: '10', low: '4' },
      { partition: 3, high: '5', low: '0' },
    ];
    const committed = new Map([
      [0, '4'],
      [1, '10'],
      [2, '-1'],
    ]);
    // 6 + 0 + (10 - 4) + 5
    expect(sumOffsetLag(offsets, committed)).toBe(17);
  });
});
