import { beforeAll, describe, expect, it } from 'vitest';
import type { StageConfig, StageName } from '../../lib/config/stage-config';
import { loadStageConfig } from '../../lib/config/stage-config';
import { props, resourcesOfType, type SynthesizedPipeline, synthPipeline } from './synth';

type Json = Record<string, unknown>;

/** The documented alarm thresholds (docs/ARCHITECTURE.md §4), written out independently of the config module: the requirement itself. */
const DOCUMENTED = {
  'consumer-lag-warning': { threshold: 1_000, minutes: 5, op: 'GreaterThanThreshold' },
  'consumer-lag-critical': { threshold: 5_000, minutes: 1, op: 'GreaterThanThreshold' },
  'dead-lettered-critical': { threshold: 0, minutes: 1, op: 'GreaterThanThreshold' },
  'circuit-breaker-open-critical': { threshold: 0, minutes: 1, op: 'GreaterThanThreshold' },
  'error-rate-critical': { threshold: 5, op: 'GreaterThanThreshold' },
  'end-to-end-latency-critical': { threshold: 5_000, op: 'GreaterThanThreshold' },
  'outbox-oldest-pending-critical': { threshold: 5_000, op: 'GreaterThanThreshold' },
} as const;

function alarmsByName(p: SynthesizedPipeline): Map<string, Json> {
  return new Map(
    resourcesOfType(p, 'AWS::CloudWatch::Alarm').map(([, , r]) => [
      String(props(r).AlarmName),
      props(r),
    ]),
  );
}

/** Every way the synthesized alarms can drift from the documented thresholds; empty when they match. */
function documentedThresholdViolations(p: SynthesizedPipeline): string[] {
  const alarms = alarmsByName(p);
  const problems: string[] = [];
  for (const [suffix, want] of Object.entries(DOCUMENTED)) {
    const name = `${p.config.prefix}-${suffix}`;
    const alarm = alarms.get(name);
    if (!alarm) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (alarm.Threshold !== want.threshold) problems.push(`${name}: threshold ${alarm.Threshold}`);
    if (alarm.ComparisonOperator !== want.op)
      problems.push(`${name}: operator ${alarm.ComparisonOperator}`);
    if ('minutes' in want && alarm.EvaluationPeriods !== want.minutes) {
      problems.push(`${name}: ${alarm.EvaluationPeriods} periods`);
    }
  }
  return problems;
}

describe.each<StageName>(['dev', 'prod'])('alarms (%s)', (stage) => {
  let p: SynthesizedPipeline;
  let alarms: Map<string, Json>;
  beforeAll(() => {
    p = synthPipeline(stage);
    alarms = alarmsByName(p);
  });
  const alarm = (suffix: string): Json => {
    const a = alarms.get(`${p.config.prefix}-${suffix}`);
    if (!a) throw new Error(`alarm ${suffix} not synthesized`);
    return a;
  };

  it('matches every documented threshold', () => {
    expect(documentedThresholdViolations(p)).toEqual([]);
  });

  it('measures consumer lag on the consumer group of order-events, per minute', () => {
    for (const severity of ['warning', 'critical']) {
      const a = alarm(`consumer-lag-${severity}`);
      expect(a).toMatchObject({
        Namespace: 'AWS/Kafka',
        MetricName: 'SumOffsetLag',
        Period: 60,
        Dimensions: expect.arrayContaining([
          { Name: 'Consumer Group', Value: p.config.mappings.orderConsumer.consumerGroupId },
          { Name: 'Topic', Value: 'order-events' },
          { Name: 'Cluster Name', Value: p.config.kafka.clusterName },
        ]),
      });
    }
    // "for 5 min": five consecutive one-minute breaches.
    expect(alarm('consumer-lag-warning')).toMatchObject({
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
    });
  });

  it('computes the error rate as failed / (failed + processed) in percent', () => {
    const metrics = alarm('error-rate-critical').Metrics as Json[];
    const expression = metrics.find((m) => 'Expression' in m);
    expect(expression?.Expression).toMatch(/100 \* .*failed.*\/.*failed.*processed/);
    const names = metrics.flatMap((m) => {
      const stat = m.MetricStat as { Metric: { MetricName: string } } | undefined;
      return stat ? [stat.Metric.MetricName] : [];
    });
    expect(names.sort()).toEqual(['EventsFailed', 'EventsProcessed']);
  });

  it('opens on any circuit breaker of the functions that hold them (consumer, triage), at once', () => {
    const a = alarm('circuit-breaker-open-critical');
    const stats = (a.Metrics as Json[]).flatMap((m) => {
      const stat = m.MetricStat as
        | { Metric: { MetricName: string; Dimensions: Json[] } }
        | undefined;
      return stat ? [stat.Metric] : [];
    });
    expect(stats.map((m) => m.MetricName)).toEqual(Array(2).fill('CircuitBreakerOpened'));
    // The relay has no breaker: a term for it would read a metric nothing emits.
    expect(stats.flatMap((m) => m.Dimensions).map((d) => d.Value)).toEqual(
      expect.arrayContaining(['order-consumer', 'dlq-triage']),
    );
  });

  it('alarms on end-to-end latency percentile and treats a silent relay as breaching', () => {
    expect(alarm('end-to-end-latency-critical')).toMatchObject({
      MetricName: 'EndToEndLatency',
      ExtendedStatistic: p.config.alarms.endToEndLatencyStatistic,
    });
    expect(alarm('outbox-oldest-pending-critical')).toMatchObject({
      MetricName: 'OutboxOldestPendingAge',
      TreatMissingData: 'breaching',
    });
    // The outbox bound is the latency bound (docs/ARCHITECTURE.md §4).
    expect(alarm('outbox-oldest-pending-critical').Threshold).toBe(
      alarm('end-to-end-latency-critical').Threshold,
    );
  });

  it('alarms at once on any outbox row set aside, and draws it on the dashboard', () => {
    const a = alarm('outbox-set-aside-critical');
    expect(a).toMatchObject({
      Namespace: p.config.observability.metricsNamespace,
      MetricName: 'OutboxSetAsideRows',
      Dimensions: [{ Name: 'service', Value: 'outbox-relay' }],
      Statistic: 'Maximum',
      Threshold: p.config.alarms.outboxSetAsideRows.value,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      // A silent relay is the oldest-pending alarm's to report.
      TreatMissingData: 'notBreaching',
    });
    expect(a.Threshold).toBe(0);
    const [, , dashboard] = resourcesOfType(p, 'AWS::CloudWatch::Dashboard')[0] ?? [];
    const body = flatten(props(dashboard as Json).DashboardBody);
    const widgets = (JSON.parse(body) as { widgets: Array<{ properties: Json }> }).widgets;
    const widget = widgets.find((w) =>
      String(w.properties.title).startsWith('Outbox rows set aside'),
    );
    expect(JSON.stringify(widget?.properties.metrics)).toContain('OutboxSetAsideRows');
  });

  it('covers cache memory, database CPU/connections/storage, broker disks and every function', () => {
    const names = [...alarms.keys()];
    const c = p.config;
    expect(names.filter((n) => n.includes('-cache-memory-'))).toHaveLength(c.cache.nodes);
    expect(names.filter((n) => n.includes('-kafka-disk-'))).toHaveLength(c.kafka.brokers);
    for (const id of ['db-cpu', 'db-connections', 'db-free-storage']) {
      expect(names).toContain(`${c.prefix}-${id}-critical`);
    }
    for (const fn of Object.values(c.functions)) {
      const short = fn.name.slice(c.prefix.length + 1);
      expect(names).toContain(`${c.prefix}-lambda-errors-${short}-critical`);
      expect(names).toContain(`${c.prefix}-lambda-throttles-${short}-critical`);
    }
    expect(alarm('db-free-storage-critical')).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
    });
  });

  it('notifies the alarm topic on alarm and on recovery', () => {
    const [topicId] = resourcesOfType(p, 'AWS::SNS::Topic')[0] ?? [];
    expect(topicId).toBe('observability');
    const topicLogicalId = resourcesOfType(p, 'AWS::SNS::Topic')[0]?.[1];
    for (const a of alarms.values()) {
      expect(a.AlarmActions).toEqual([{ Ref: topicLogicalId }]);
      expect(a.OKActions).toEqual([{ Ref: topicLogicalId }]);
    }
  });

  it('shows every alarmed signal on the dashboard with its threshold line', () => {
    const [, , dashboard] = resourcesOfType(p, 'AWS::CloudWatch::Dashboard')[0] ?? [];
    const body = flatten(props(dashboard as Json).DashboardBody);
    const widgets = (JSON.parse(body) as { widgets: Array<{ properties: Json }> }).widgets;
    const graphs = widgets.filter((w) => w.properties.view === 'timeSeries');
    const annotated = graphs.map((w) => {
      const ann = (
        w.properties.annotations as { horizontal?: Array<{ value: number }> } | undefined
      )?.horizontal;
      return { title: String(w.properties.title), values: (ann ?? []).map((a) => a.value) };
    });
    for (const a of alarms.values()) {
      const match = annotated.find((g) => g.values.includes(a.Threshold as number));
      expect(match, `no widget draws ${a.AlarmName} threshold ${a.Threshold}`).toBeDefined();
    }
    expect(annotated.find((g) => g.title.startsWith('Consumer lag'))?.values).toEqual([
      1_000, 5_000,
    ]);
  });
});

describe('the threshold check itself', () => {
  it('fails when a config value drifts from the documented thresholds', () => {
    const drifted: StageConfig = {
      ...loadStageConfig('dev'),
      alarms: {
        ...loadStageConfig('dev').alarms,
        consumerLagWarning: { value: 2_000, evaluationMinutes: 5 },
        errorRatePercent: { value: 10, evaluationMinutes: 3 },
      },
    };
    const problems = documentedThresholdViolations(synthPipeline('dev', { config: drifted }));
    expect(problems).toEqual([
      'order-pipeline-dev-consumer-lag-warning: threshold 2000',
      'order-pipeline-dev-error-rate-critical: threshold 10',
    ]);
  });
});

/** Renders a dashboard body (a string or Fn::Join of strings and tokens) as text. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(join[0]);
  return JSON.stringify(value);
}
