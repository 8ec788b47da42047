// What `/api/signals` returns: every alarmed signal in dashboard order with its thresholds,
// where its data comes from locally, and its series over the store's window.
import {
  isMathSpec,
  type SignalDefinition,
  type SignalThreshold,
} from '../../../lib/config/signals';
import { compileSignal, signalSeries } from './evaluate';
import type { MathNode } from './metric-math';
import { signalMetrics } from './probes';
import type { MetricStore } from './store';

export interface ThresholdView {
  readonly severity: SignalThreshold['severity'];
  readonly comparison: SignalThreshold['comparison'];
  readonly value: number;
  readonly evaluationMinutes: number;
  /** e.g. "critical > 5,000 messages for 1 min" */
  readonly label: string;
}

export interface LocalSource {
  /** probe: sampled by the dashboard; pipeline: put by the local run; none: no local analogue. */
  readonly origin: 'probe' | 'pipeline' | 'none';
  readonly detail: string;
  /** Why there is no recent datapoint, when known. */
  readonly problem?: string;
}

export interface SignalView {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly description: string;
  readonly group: SignalDefinition['group'];
  /** The CloudWatch source as defined: a metric, or an expression over named metrics. */
  readonly expression: string | null;
  readonly metrics: ReadonlyArray<{
    readonly id: string | null;
    readonly namespace: string;
    readonly metricName: string;
    readonly dimensions: Readonly<Record<string, string>>;
    readonly statistic: string;
  }>;
  readonly thresholds: readonly ThresholdView[];
  readonly local: LocalSource;
  /** [period start (epoch ms), value], oldest first. */
  readonly series: ReadonlyArray<readonly [number, number]>;
  readonly latest: number | null;
}

export interface DashboardSnapshot {
  readonly title: string;
  readonly periodMs: number;
  readonly windowMs: number;
  readonly from: number;
  readonly to: number;
  readonly generatedAt: number;
  readonly signals: readonly SignalView[];
}

export function thresholdLabel(t: SignalThreshold, unit: string): string {
  const op = t.comparison === 'GreaterThanThreshold' ? '>' : '<';
  const gib = unit === 'bytes' && t.value >= 1024 ** 3 ? ` (${t.value / 1024 ** 3} GiB)` : '';
  return `${t.severity} ${op} ${t.value.toLocaleString('en-US')} ${unit}${gib} for ${t.evaluationMinutes} min`;
}

export interface SnapshotSources {
  /** The probe state of a metric, or undefined when no probe covers it. */
  readonly probeState: (metric: {
    namespace: string;
    metricName: string;
    dimensions: Readonly<Record<string, string>>;
  }) => { source: string; problem: string | undefined; noLocalAnalogue: boolean } | undefined;
  /** Namespaces the local run puts itself (the app namespace, AWS/Lambda, AWS/S3). */
  readonly pipelineNamespaces: readonly string[];
}

function localSource(signal: SignalDefinition, sources: SnapshotSources): LocalSource {
  for (const metric of signalMetrics(signal)) {
    const state = sources.probeState(metric);
    if (state !== undefined) {
      if (state.noLocalAnalogue) return { origin: 'none', detail: state.problem ?? state.source };
      return {
        origin: 'probe',
        detail: state.source,
        ...(state.problem !== undefined ? { problem: state.problem } : {}),
      };
    }
    if (sources.pipelineNamespaces.includes(metric.namespace)) {
      return { origin: 'pipeline', detail: `put by the local run (${metric.namespace})` };
    }
  }
  return { origin: 'none', detail: 'no local analogue is measured for this metric' };
}

/** Builds snapshots of a fixed signal list; math expressions are parsed once, here. */
export function snapshotter(
  title: string,
  signals: readonly SignalDefinition[],
  store: MetricStore,
  sources: SnapshotSources,
  now: () => number = Date.now,
): () => DashboardSnapshot {
  // Pipeline signals first, definition order otherwise.
  const ordered = [
    ...signals.filter((s) => s.group === 'pipeline'),
    ...signals.filter((s) => s.group !== 'pipeline'),
  ];
  const compiled = new Map<string, MathNode | undefined>(
    ordered.map((s) => [s.id, compileSignal(s)]),
  );
  return () => {
    const range = store.range();
    return {
      title,
      periodMs: store.periodMs,
      windowMs: store.windowMs,
      from: range.from,
      to: range.to,
      generatedAt: now(),
      signals: ordered.map((signal): SignalView => {
        const series = signalSeries(signal, store, range, compiled.get(signal.id));
        const source = signal.source;
        const math = isMathSpec(source) ? source : undefined;
        return {
          id: signal.id,
          title: signal.title,
          unit: signal.unit,
          description: signal.description,
          group: signal.group,
          expression: math?.expression ?? null,
          metrics: math
            ? Object.entries(math.usingMetrics).map(([id, m]) => ({
                id,
                namespace: m.namespace,
                metricName: m.metricName,
                dimensions: m.dimensions,
                statistic: m.statistic,
              }))
            : signalMetrics(signal).map((m) => ({
                id: null,
                namespace: m.namespace,
                metricName: m.metricName,
                dimensions: m.dimensions,
                statistic: m.statistic,
              })),
          thresholds: signal.thresholds.map((t) => ({
            severity: t.severity,
            comparison: t.comparison,
            value: t.value,
            evaluationMinutes: t.evaluationMinutes,
            label: thresholdLabel(t, signal.unit),
          })),
          local: localSource(signal, sources),
          series: series.map((p) => [p.t, p.v] as const),
          latest: series.at(-1)?.v ?? null,
        };
      }),
    };
  };
}
