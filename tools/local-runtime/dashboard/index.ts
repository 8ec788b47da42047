// The local dashboard of `npm start --dashboard`: the alarmed signals of lib/config/signals.ts
// (the same list the CloudWatch dashboard is built from) plotted live from the local run.
//
//   const dashboard = await startLocalDashboard({ config, probes: { pgEnv, redisEnv, kafkaEnv, logger } });
//   // hand dashboard.store (a MetricSink) to the local pipeline; print dashboard.url
//   await dashboard.close();
import type { LogSink } from '../../../lambdas/shared/log-sink';
import { buildSignals } from '../../../lib/config/signals';
import type { StageConfig } from '../../../lib/config/stage-config';
import { createGaugeGroups, type ProbeConnections, ProbeRunner } from './probes';
import { startDashboardServer } from './server';
import { snapshotter } from './snapshot';
import { DEFAULT_PERIOD_MS, DEFAULT_WINDOW_MS, MetricStore } from './store';

export type { ProbeConnections } from './probes';
export type { DashboardSnapshot, SignalView } from './snapshot';
export { MetricStore } from './store';

export interface LocalDashboardOptions {
  /** The stage whose signals are shown (npm start uses loadStageConfig('dev')). */
  readonly config: StageConfig;
  /** Where the local run puts its metrics; created with `periodMs` and `windowMs` if omitted. */
  readonly store?: MetricStore;
  /** Connections for the AWS-metric analogues; omit to show only what the run puts. */
  readonly probes?: ProbeConnections;
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Aggregation and probe period; default 5 s (CloudWatch graphs use 60 s). */
  readonly periodMs?: number;
  /** Periods kept and shown; default 15 min. */
  readonly windowMs?: number;
  /** Where probe failures are logged (once each); defaults to the probes' logger. */
  readonly logger?: LogSink;
}

export interface LocalDashboard {
  /** http://127.0.0.1:<port>/ */
  readonly url: string;
  /** The MetricSink the local run puts into. */
  readonly store: MetricStore;
  /** Stops the probes, closes their connections and the server. */
  close(): Promise<void>;
}

const silent: LogSink = { error() {}, warn() {}, info() {}, debug() {} };

export async function startLocalDashboard(options: LocalDashboardOptions): Promise<LocalDashboard> {
  const { config } = options;
  const periodMs = options.store?.periodMs ?? options.periodMs ?? DEFAULT_PERIOD_MS;
  if (
    options.store !== undefined &&
    options.periodMs !== undefined &&
    options.periodMs !== periodMs
  ) {
    throw new Error(`periodMs ${options.periodMs} differs from the store's ${periodMs}`);
  }
  const store =
    options.store ?? new MetricStore({ periodMs, windowMs: options.windowMs ?? DEFAULT_WINDOW_MS });
  const signals = buildSignals(config);
  const logger = options.logger ?? options.probes?.logger ?? silent;

  const runner = options.probes
    ? new ProbeRunner({
        groups: createGaugeGroups(signals, options.probes),
        sink: store,
        periodMs,
        logger,
      })
    : undefined;
  const snapshot = snapshotter(`${config.prefix} — local dashboard`, signals, store, {
    probeState: (metric) => runner?.state(metric),
    // The local run puts the functions' own metrics, Lambda's, and the backstop bucket's S3 ones.
    pipelineNamespaces: [config.observability.metricsNamespace, 'AWS/Lambda', 'AWS/S3'],
  });
  // Parse every expression before serving: an unsupported one fails the start, loudly.
  snapshot();

  const server = await startDashboardServer(snapshot, options.port ?? 0);
  runner?.start();
  return {
    url: server.url,
    store,
    async close() {
      await runner?.stop();
      await server.close();
    },
  };
}
