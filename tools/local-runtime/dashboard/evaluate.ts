// One series per alarmed signal, read from the metric store the way CloudWatch reads a graph:
// a metric gives its statistic per period with data; a math expression is evaluated over every
// period of the range (so FILL covers periods without data, as in CloudWatch).
import { isMathSpec, type SignalDefinition } from '../../../lib/config/signals';
import {
  type AlignedSeries,
  evaluateMetricMath,
  type MathNode,
  parseMetricMath,
} from './metric-math';
import type { Datapoint, MetricStore, TimeRange } from './store';

/** Parses every math expression up front, so an unsupported one fails at start, not per poll. */
export function compileSignal(signal: SignalDefinition): MathNode | undefined {
  const source = signal.source;
  if (!isMathSpec(source)) return undefined;
  return parseMetricMath(source.expression, Object.keys(source.usingMetrics));
}

export function signalSeries(
  signal: SignalDefinition,
  store: MetricStore,
  range: TimeRange = store.range(),
  compiled: MathNode | undefined = compileSignal(signal),
): Datapoint[] {
  const source = signal.source;
  if (!isMathSpec(source)) return store.series(source, source.statistic, range);
  if (compiled === undefined) throw new Error(`signal ${signal.id}: math expression not compiled`);
  const periods = store.periods(range);
  const metrics: Record<string, AlignedSeries> = {};
  for (const [id, spec] of Object.entries(source.usingMetrics)) {
    const byPeriod = new Map(store.series(spec, spec.statistic, range).map((p) => [p.t, p.v]));
    metrics[id] = periods.map((t) => byPeriod.get(t));
  }
  const values = evaluateMetricMath(compiled, metrics, periods.length);
  const out: Datapoint[] = [];
  periods.forEach((t, k) => {
    const v = values[k];
    if (v !== undefined) out.push({ t, v });
  });
  return out;
}
