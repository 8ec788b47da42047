import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import {
  buildSignals,
  isMathSpec,
  type MetricSpec,
  PERIOD_SECONDS,
  type SignalDefinition,
  type SignalRefs,
  type SignalThreshold,
} from '../config/signals';
import type { StageConfig } from '../config/stage-config';

export interface ObservabilityStackProps extends StackProps {
  readonly config: StageConfig;
  /** Names the other stacks generate (the triage backstop bucket). */
  readonly refs: SignalRefs;
}

/**
 * The alarm topic, one alarm per signal threshold (docs/ARCHITECTURE.md §4), one dashboard showing each
 * alarmed signal beside its threshold, and the monthly budget. Metric names and dimensions
 * are config-derived except the backstop bucket's generated name (SignalRefs).
 */
export class ObservabilityStack extends Stack {
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Absent where the stage leaves it out (features.dashboard). */
  readonly dashboard: cloudwatch.Dashboard | undefined;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, props);
    const { config } = props;

    const key = new kms.Key(this, 'AlarmTopicKey', {
      alias: `alias/${config.prefix}/alarms`,
      description: 'Alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch and Budgets publish to an encrypted topic only if the key lets them.
    for (const service of ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com']) {
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `AllowPublishFrom-${service.split('.')[0]}`,
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      );
    }
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: config.observability.alarmTopicName,
      displayName: `${config.prefix} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowBudgetsPublish',
        principals: [new iam.ServicePrincipal('budgets.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    const signals = buildSignals(config, props.refs);
    const action = new actions.SnsAction(this.alarmTopic);
    const widgets: cloudwatch.IWidget[] = [
      new cloudwatch.TextWidget({
        markdown: `# ${config.prefix} order pipeline\nEach graph is an alarmed signal; the horizontal lines are its alarm thresholds (docs/ARCHITECTURE.md §4).`,
        width: 24,
        height: 2,
      }),
    ];
    for (const signal of signals) {
      const metric = toMetric(signal);
      for (const threshold of signal.thresholds) {
        const alarm = new cloudwatch.Alarm(this, `Alarm-${signal.id}-${threshold.severity}`, {
          alarmName: `${config.prefix}-${signal.id}-${threshold.severity}`,
          alarmDescription: `${signal.description} ${describe(threshold, signal.unit)}`,
          metric,
          threshold: threshold.value,
          comparisonOperator: COMPARISON[threshold.comparison],
          evaluationPeriods: threshold.evaluationMinutes,
          datapointsToAlarm: threshold.evaluationMinutes,
          treatMissingData:
            threshold.missingData === 'breaching'
              ? cloudwatch.TreatMissingData.BREACHING
              : cloudwatch.TreatMissingData.NOT_BREACHING,
        });
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
        this.alarms.push(alarm);
      }
      widgets.push(
        new cloudwatch.GraphWidget({
          title: `${signal.title} [${signal.unit}]`,
          left: [metric],
          leftAnnotations: signal.thresholds.map((t) => ({
            value: t.value,
            label: `${t.severity} ${describe(t, signal.unit)}`,
            color: t.severity === 'critical' ? cloudwatch.Color.RED : cloudwatch.Color.ORANGE,
          })),
          width: signal.group === 'pipeline' ? 8 : 6,
          height: 6,
          period: Duration.seconds(PERIOD_SECONDS),
        }),
      );
    }
    this.dashboard = config.features.dashboard
      ? new cloudwatch.Dashboard(this, 'Dashboard', {
          dashboardName: config.observability.dashboardName,
          defaultInterval: Duration.hours(3),
          widgets: [widgets],
        })
      : undefined;

    if (config.features.budget) this.createBudget(config);
  }

  private createBudget(config: StageConfig): void {
    new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `${config.prefix}-monthly`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: config.budget.monthlyLimitUsd, unit: 'USD' },
        costFilters: {
          TagKeyValue: [
            `user:Project$${config.tags.project}`,
            `user:Environment$${config.tags.environment}`,
          ],
        },
      },
      notificationsWithSubscribers: config.budget.notifyAtPercent.map((percent) => ({
        notification: {
          notificationType: 'ACTUAL',
          comparisonOperator: 'GREATER_THAN',
          threshold: percent,
          thresholdType: 'PERCENTAGE',
        },
        subscribers: [{ subscriptionType: 'SNS', address: this.alarmTopic.topicArn }],
      })),
    });
  }
}

const COMPARISON: Record<SignalThreshold['comparison'], cloudwatch.ComparisonOperator> = {
  GreaterThanThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  LessThanThreshold: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
};

function describe(t: SignalThreshold, unit: string): string {
  const op = t.comparison === 'GreaterThanThreshold' ? '>' : '<';
  return `Alarms when ${op} ${t.value} ${unit} for ${t.evaluationMinutes} min.`;
}

function metricFrom(spec: MetricSpec): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: spec.namespace,
    metricName: spec.metricName,
    dimensionsMap: { ...spec.dimensions },
    statistic: spec.statistic,
    period: Duration.seconds(PERIOD_SECONDS),
    ...(spec.label ? { label: spec.label } : {}),
  });
}

function toMetric(signal: SignalDefinition): cloudwatch.IMetric {
  const source = signal.source;
  if (!isMathSpec(source)) return metricFrom(source);
  return new cloudwatch.MathExpression({
    expression: source.expression,
    label: source.label,
    period: Duration.seconds(PERIOD_SECONDS),
    usingMetrics: Object.fromEntries(
      Object.entries(source.usingMetrics).map(([id, spec]) => [id, metricFrom(spec)]),
    ),
  });
}
