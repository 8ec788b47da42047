// What the local run records for the local dashboard: the same namespace, metric name and
// dimensions the Lambda code emits as EMF and the CloudWatch alarms read (lib/config/signals.ts).
export interface MetricDatum {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
}

export interface MetricSink {
  put(datum: MetricDatum): void;
}

/** A sink that keeps nothing (runs without --dashboard). */
export const discardMetrics: MetricSink = { put() {} };
