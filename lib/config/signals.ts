// The alarmed signals: one definition drives the CloudWatch alarms, the dashboard widgets
// and the local dashboard page. Pure data derived from the stage config, plus the names CDK
// generates at deploy time (SignalRefs).
import { METRIC_DIMENSION, METRICS, SERVICES } from '../../lambdas/shared/metrics-catalog';
import type { StageConfig, ThresholdConfig } from './stage-config';

export type Statistic = 'Sum' | 'Maximum' | 'Average' | 'Minimum' | 'p95' | 'p99';

export interface MetricSpec {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly statistic: Statistic;
  readonly label?: string;
}

export interface MathSpec {
  readonly expression: string;
  readonly usingMetrics: Readonly<Record<string, MetricSpec>>;
  readonly label: string;
}

export interface SignalThreshold {
  readonly severity: 'warning' | 'critical';
  readonly comparison: 'GreaterThanThreshold' | 'LessThanThreshold';
  readonly value: number;
  readonly evaluationMinutes: number;
  /** A signal that must keep reporting (a silent relay is a dead relay) breaches when missing. */
  readonly missingData: 'notBreaching' | 'breaching';
}

export interface SignalDefinition {
  /** Stable id: alarm names and widget ids derive from it. */
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly description: string;
  readonly source: MetricSpec | MathSpec;
  readonly thresholds: readonly SignalThreshold[];
  /** The documented pipeline signals come first on the dashboard. */
  readonly group: 'pipeline' | 'infrastructure';
}

export const PERIOD_SECONDS = 60;

export function isMathSpec(source: MetricSpec | MathSpec): source is MathSpec {
  return 'expression' in source;
}

const above = (
  t: ThresholdConfig,
  severity: SignalThreshold['severity'] = 'critical',
  missingData: SignalThreshold['missingData'] = 'notBreaching',
): SignalThreshold => ({
  severity,
  comparison: 'GreaterThanThreshold',
  value: t.value,
  evaluationMinutes: t.evaluationMinutes,
  missingData,
});

/** Names only known once deployed; the local dashboard uses its stand-ins. */
export interface SignalRefs {
  /** The triage mapping's S3 on-failure destination (a generated, globally unique name). */
  readonly triageBackstopBucket: string;
}

/** The S3 request-metrics filter that counts writes to the triage backstop bucket. */
export const BACKSTOP_METRICS_FILTER = 'backstop-writes';

export const LOCAL_SIGNAL_REFS: SignalRefs = { triageBackstopBucket: 'local-triage-backstop' };

export function buildSignals(
  c: StageConfig,
  refs: SignalRefs = LOCAL_SIGNAL_REFS,
): SignalDefinition[] {
  const ns = c.observability.metricsNamespace;
  const a = c.alarms;
  const app = (service: string, metricName: string, statistic: Statistic): MetricSpec => ({
    namespace: ns,
    metricName,
    dimensions: { [METRIC_DIMENSION]: service },
    statistic,
  });
  const lag = (topic: string, group: string): MetricSpec => ({
    namespace: 'AWS/Kafka',
    metricName: 'SumOffsetLag',
    dimensions: { 'Cluster Name': c.kafka.clusterName, 'Consumer Group': group, Topic: topic },
    statistic: 'Maximum',
  });
  const gib = 1024 ** 3;

  const pipeline: SignalDefinition[] = [
    {
      id: 'consumer-lag',
      title: 'Consumer lag (order-events)',
      unit: 'messages',
      description: 'Messages on order-events not yet committed by the consumer mapping.',
      source: lag(c.kafka.topics.orderEvents.name, c.mappings.orderConsumer.consumerGroupId),
      thresholds: [
        above(a.consumerLagWarning, 'warning'),
        above(a.consumerLagCritical, 'critical'),
      ],
      group: 'pipeline',
    },
    {
      id: 'dead-lettered',
      title: 'Dead-lettered messages',
      unit: 'messages',
      description:
        'Messages read from the dead-letter topic by triage (consumer or mapping backstop wrote them).',
      source: app(SERVICES.dlqTriage, METRICS.deadLetterReceived, 'Sum'),
      thresholds: [above(a.deadLettered)],
      group: 'pipeline',
    },
    {
      id: 'circuit-breaker-open',
      title: 'Circuit breakers opened',
      unit: 'transitions',
      description: 'Transitions to OPEN of any dependency breaker (consumer and triage hold them).',
      source: {
        // Opens are rare: FILL keeps a period in which only one function reported.
        expression: 'FILL(consumer, 0) + FILL(triage, 0)',
        label: 'breaker opened',
        usingMetrics: {
          consumer: app(SERVICES.orderConsumer, METRICS.circuitBreakerOpened, 'Sum'),
          triage: app(SERVICES.dlqTriage, METRICS.circuitBreakerOpened, 'Sum'),
        },
      },
      thresholds: [above(a.circuitBreakerOpened)],
      group: 'pipeline',
    },
    {
      id: 'error-rate',
      title: 'Consumer error rate',
      unit: '%',
      description: 'Share of consumed events that failed (any error type).',
      source: {
        expression: '100 * FILL(failed, 0) / MAX([FILL(failed, 0) + FILL(processed, 0), 1])',
        label: 'error rate %',
        usingMetrics: {
          failed: app(SERVICES.orderConsumer, METRICS.eventsFailed, 'Sum'),
          processed: app(SERVICES.orderConsumer, METRICS.eventsProcessed, 'Sum'),
        },
      },
      thresholds: [above(a.errorRatePercent)],
      group: 'pipeline',
    },
    {
      id: 'end-to-end-latency',
      title: `End-to-end latency (${a.endToEndLatencyStatistic})`,
      unit: 'ms',
      description: 'Event timestamp to state applied, measured by the consumer.',
      source: app(SERVICES.orderConsumer, METRICS.endToEndLatency, a.endToEndLatencyStatistic),
      thresholds: [above(a.endToEndLatencyMs)],
      group: 'pipeline',
    },
    {
      id: 'outbox-oldest-pending',
      title: 'Outbox oldest unpublished row',
      unit: 'ms',
      description:
        'Age of the oldest unpublished outbox row; missing data means the relay is not running.',
      source: app(SERVICES.outboxRelay, METRICS.outboxOldestPendingAge, 'Maximum'),
      thresholds: [above(a.outboxOldestPendingMs, 'critical', 'breaching')],
      group: 'pipeline',
    },
    {
      id: 'outbox-set-aside',
      title: 'Outbox rows set aside',
      unit: 'rows',
      description:
        'Outbox rows the broker refuses for good (too large, invalid); later events of their orders wait behind them. Act with npm run outbox (docs/OPERATIONS.md).',
      // Missing data is the relay not running, which the oldest-pending alarm already reports.
      source: app(SERVICES.outboxRelay, METRICS.outboxSetAsideRows, 'Maximum'),
      thresholds: [above(a.outboxSetAsideRows)],
      group: 'pipeline',
    },
    {
      id: 'triage-failures',
      title: 'Triage backstop writes',
      unit: 'batches',
      description:
        'Batches of dead letters triage could not handle, written to the S3 backstop (recover them with npm run dlq -- recover).',
      // S3 request metrics of the bucket's filter (one PUT per discarded batch): namespace
      // AWS/S3, PutRequests, dimensions BucketName and FilterId (Amazon S3 User Guide,
      // "Metrics and dimensions" → "Amazon S3 request metrics in CloudWatch").
      source: {
        namespace: 'AWS/S3',
        metricName: 'PutRequests',
        dimensions: { BucketName: refs.triageBackstopBucket, FilterId: BACKSTOP_METRICS_FILTER },
        statistic: 'Sum',
      },
      thresholds: [above(a.triageFailures)],
      group: 'pipeline',
    },
  ];

  const infrastructure: SignalDefinition[] = [];
  for (let node = 1; node <= c.cache.nodes; node++) {
    const id = `${c.cache.replicationGroupId}-${String(node).padStart(3, '0')}`;
    infrastructure.push({
      id: `cache-memory-${node}`,
      title: `Cache memory used (${id})`,
      unit: '%',
      description: 'ElastiCache memory in use; eviction would drop idempotency records early.',
      source: {
        namespace: 'AWS/ElastiCache',
        metricName: 'DatabaseMemoryUsagePercentage',
        dimensions: { CacheClusterId: id },
        statistic: 'Maximum',
      },
      thresholds: [above(a.cacheMemoryPercent)],
      group: 'infrastructure',
    });
  }
  const rds = (metricName: string, statistic: Statistic): MetricSpec => ({
    namespace: 'AWS/RDS',
    metricName,
    dimensions: { DBInstanceIdentifier: c.database.instanceIdentifier },
    statistic,
  });
  infrastructure.push(
    {
      id: 'db-cpu',
      title: 'Database CPU',
      unit: '%',
      description: 'RDS PostgreSQL primary CPU utilisation.',
      source: rds('CPUUtilization', 'Average'),
      thresholds: [above(a.databaseCpuPercent)],
      group: 'infrastructure',
    },
    {
      id: 'db-connections',
      title: 'Database connections',
      unit: 'connections',
      description: 'Connections on the primary (RDS Proxy multiplexes Lambda pools).',
      source: rds('DatabaseConnections', 'Maximum'),
      thresholds: [above(a.databaseConnections)],
      group: 'infrastructure',
    },
    {
      id: 'db-free-storage',
      title: 'Database free storage',
      unit: 'bytes',
      description: 'Free storage on the primary.',
      source: rds('FreeStorageSpace', 'Minimum'),
      thresholds: [
        {
          severity: 'critical',
          comparison: 'LessThanThreshold',
          value: a.databaseFreeStorageGiB.value * gib,
          evaluationMinutes: a.databaseFreeStorageGiB.evaluationMinutes,
          missingData: 'notBreaching',
        },
      ],
      group: 'infrastructure',
    },
  );
  for (let broker = 1; broker <= c.kafka.brokers; broker++) {
    infrastructure.push({
      id: `kafka-disk-${broker}`,
      title: `Kafka data disk used (broker ${broker})`,
      unit: '%',
      description: 'MSK broker data log volume in use.',
      source: {
        namespace: 'AWS/Kafka',
        metricName: 'KafkaDataLogsDiskUsed',
        dimensions: { 'Cluster Name': c.kafka.clusterName, 'Broker ID': String(broker) },
        statistic: 'Maximum',
      },
      thresholds: [above(a.kafkaDiskUsedPercent)],
      group: 'infrastructure',
    });
  }
  for (const fn of Object.values(c.functions)) {
    for (const [metricName, t] of [
      ['Errors', a.lambdaErrors],
      ['Throttles', a.lambdaThrottles],
    ] as const) {
      infrastructure.push({
        id: `lambda-${metricName.toLowerCase()}-${fn.name.slice(c.prefix.length + 1)}`,
        title: `${fn.name} ${metricName.toLowerCase()}`,
        unit: 'count',
        description: `Lambda ${metricName} for ${fn.name}.`,
        source: {
          namespace: 'AWS/Lambda',
          metricName,
          dimensions: { FunctionName: fn.name },
          statistic: 'Sum',
        },
        thresholds: [above(t)],
        group: 'infrastructure',
      });
    }
  }
  return [...pipeline, ...infrastructure];
}
