// The local dashboard's probe types: gauges that read a local service under a signal metric.
import type { MetricIdentity } from '../store';

/**
 * One local measurement put under one signal metric (its exact namespace, name and dimensions).
 * `read` resolves to undefined when there is nothing to report yet (e.g. a rate's first sample)
 * and throws when the measurement failed; the runner logs each distinct failure once.
 */
export interface Gauge {
  readonly metric: MetricIdentity;
  /** What is measured locally, shown on the page. */
  readonly source: string;
  read(): Promise<number | undefined>;
}

/** Gauges sharing one connection; `close` releases it. */
export interface GaugeGroup {
  readonly gauges: readonly Gauge[];
  close(): Promise<void>;
}

/** A measurement that cannot exist locally (e.g. a second MSK broker on a one-broker cluster). */
export class NoLocalAnalogue extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoLocalAnalogue';
  }
}

export function isLoopback(host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host) || host.startsWith('127.');
}
