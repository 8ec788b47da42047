// The probes: local analogues of the AWS metrics the signals alarm on that the local pipeline
// does not emit itself. Built from the signal list (the metric identities come from the
// signals, never from a second list), sampled every period, each failure logged once.
import type { KafkaEnv, PgEndpointEnv, RedisEnv } from '../../../../lambdas/shared/env';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import { isMathSpec, type MetricSpec, type SignalDefinition } from '../../../../lib/config/signals';
import type { MetricSink } from '../../metric-sink';
import { type MetricIdentity, metricKey } from '../store';
import { kafkaGauges } from './kafka';
import { postgresGauges } from './postgres';
import { redisGauges } from './redis';
import { type Gauge, type GaugeGroup, NoLocalAnalogue } from './types';

export interface ProbeConnections {
  readonly pgEnv: PgEndpointEnv;
  readonly redisEnv: RedisEnv;
  readonly kafkaEnv: KafkaEnv;
  readonly logger: LogSink;
}

/** Every metric a signal reads (a math expression reads several). */
export function signalMetrics(signal: SignalDefinition): MetricSpec[] {
  return isMathSpec(signal.source) ? Object.values(signal.source.usingMetrics) : [signal.source];
}

function uniqueMetrics(signals: readonly SignalDefinition[]): MetricSpec[] {
  const seen = new Map<string, MetricSpec>();
  for (const s of signals) for (const m of signalMetrics(s)) seen.set(metricKey(m), m);
  return [...seen.values()];
}

/**
 * The gauges for every probed metric the signals read, grouped by the connection they share.
 * Connections open on first read, so a group without gauges costs nothing.
 */
export function createGaugeGroups(
  signals: readonly SignalDefinition[],
  connections: ProbeConnections,
): GaugeGroup[] {
  const metrics = uniqueMetrics(signals);
  const pick = (namespace: string, metricName: string): MetricIdentity[] =>
    metrics.filter((m) => m.namespace === namespace && m.metricName === metricName);
  const { logger } = connections;
  return [
    kafkaGauges({
      kafkaEnv: connections.kafkaEnv,
      logger,
      lag: pick('AWS/Kafka', 'SumOffsetLag'),
      disk: pick('AWS/Kafka', 'KafkaDataLogsDiskUsed'),
    }),
    redisGauges({
      redisEnv: connections.redisEnv,
      logger,
      memory: pick('AWS/ElastiCache', 'DatabaseMemoryUsagePercentage'),
    }),
    postgresGauges({
      pgEnv: connections.pgEnv,
      logger,
      cpu: pick('AWS/RDS', 'CPUUtilization'),
      connections: pick('AWS/RDS', 'DatabaseConnections'),
      freeStorage: pick('AWS/RDS', 'FreeStorageSpace'),
    }),
  ];
}

export interface GaugeState {
  readonly source: string;
  /** Why the last sample produced nothing; undefined after a good sample. */
  readonly problem: string | undefined;
  /** True when the metric cannot exist locally (not a transient failure). */
  readonly noLocalAnalogue: boolean;
}

export interface ProbeRunnerOptions {
  readonly groups: readonly GaugeGroup[];
  readonly sink: MetricSink;
  readonly periodMs: number;
  readonly logger: LogSink;
  readonly now?: () => number;
  /** A read slower than this counts as failed for the period; default max(2 periods, 10 s). */
  readonly readTimeoutMs?: number;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Samples every gauge each period (no overlap: a slow tick delays the next one). */
export class ProbeRunner {
  private readonly states = new Map<string, GaugeState>();
  private readonly logged = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly readTimeoutMs: number;

  constructor(private readonly options: ProbeRunnerOptions) {
    this.now = options.now ?? Date.now;
    this.readTimeoutMs = options.readTimeoutMs ?? Math.max(2 * options.periodMs, 10_000);
    for (const g of this.gauges()) {
      this.states.set(metricKey(g.metric), {
        source: g.source,
        problem: 'not sampled yet',
        noLocalAnalogue: false,
      });
    }
  }

  private gauges(): Gauge[] {
    return this.options.groups.flatMap((g) => [...g.gauges]);
  }

  /** State of the gauge that puts this metric, if a probe covers it. */
  state(metric: MetricIdentity): GaugeState | undefined {
    return this.states.get(metricKey(metric));
  }

  /** Samples once now, then every period. */
  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.sampleOnce().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.options.periodMs);
      });
    };
    tick();
  }

  async sampleOnce(): Promise<void> {
    await Promise.all(this.gauges().map((g) => this.sample(g)));
  }

  private async sample(gauge: Gauge): Promise<void> {
    const key = metricKey(gauge.metric);
    try {
      // A hung read must not stall every other gauge: ticks never overlap.
      const value = await withTimeout(gauge.read(), this.readTimeoutMs);
      if (value === undefined) {
        this.states.set(key, {
          source: gauge.source,
          problem: 'waiting for a second sample',
          noLocalAnalogue: false,
        });
        return;
      }
      this.options.sink.put({ ...gauge.metric, value, timestamp: this.now() });
      this.states.set(key, { source: gauge.source, problem: undefined, noLocalAnalogue: false });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const noLocalAnalogue = error instanceof NoLocalAnalogue;
      this.states.set(key, { source: gauge.source, problem: message, noLocalAnalogue });
      const once = `${key}|${message}`;
      if (!this.logged.has(once)) {
        this.logged.add(once);
        const fields = {
          metric: gauge.metric.metricName,
          dimensions: gauge.metric.dimensions,
          reason: message,
        };
        if (noLocalAnalogue) this.options.logger.info('local dashboard: no local analogue', fields);
        else this.options.logger.warn('local dashboard: probe failed; skipped this period', fields);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
    await Promise.all(this.options.groups.map((g) => g.close()));
  }
}
