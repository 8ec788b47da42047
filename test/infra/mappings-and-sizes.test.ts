import { beforeAll, describe, expect, it } from 'vitest';
import { BACKSTOP_METRICS_FILTER } from '../../lib/config/signals';
import { props, resourcesOfType, type SynthesizedPipeline, synthPipeline } from './synth';

type Json = Record<string, unknown>;

function mappingFor(p: SynthesizedPipeline, topic: string): Json {
  const found = resourcesOfType(p, 'AWS::Lambda::EventSourceMapping')
    .map(([, , r]) => props(r))
    .filter((m) => JSON.stringify(m.Topics) === JSON.stringify([topic]));
  expect(found).toHaveLength(1);
  return found[0] as Json;
}

const one = (p: SynthesizedPipeline, type: string): Json => {
  const all = resourcesOfType(p, type);
  expect(all, type).toHaveLength(1);
  return props((all[0] as [string, string, Json])[2]);
};

describe('event source mappings', () => {
  let p: SynthesizedPipeline;
  beforeAll(() => {
    p = synthPipeline('dev');
  });

  it('consumes order-events from the start in provisioned mode, bisecting, dead-lettering to the DLQ topic', () => {
    const m = mappingFor(p, 'order-events');
    const c = p.config.mappings.orderConsumer;
    expect(m).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: c.batchSize,
      MaximumBatchingWindowInSeconds: c.maxBatchingWindowSeconds,
      ProvisionedPollerConfig: {
        MinimumPollers: c.minimumPollers,
        MaximumPollers: c.maximumPollers,
      },
      MaximumRetryAttempts: c.retryAttempts,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: c.consumerGroupId },
      DestinationConfig: { OnFailure: { Destination: 'kafka://order-events-dlq' } },
    });
    // Lambda caps retries at 10 when an on-failure destination is set.
    expect(m.MaximumRetryAttempts as number).toBeLessThanOrEqual(10);
  });

  it('triages order-events-dlq with an S3 bucket as its backstop (whole invocation records)', () => {
    const m = mappingFor(p, 'order-events-dlq');
    const c = p.config.mappings.dlqTriage;
    expect(m).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: c.batchSize,
      ProvisionedPollerConfig: {
        MinimumPollers: c.minimumPollers,
        MaximumPollers: c.maximumPollers,
        PollerGroupName: p.config.mappings.pollerGroupName,
      },
      MaximumRetryAttempts: c.retryAttempts,
      BisectBatchOnFunctionError: true,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: c.consumerGroupId },
      MetricsConfig: { Metrics: ['EventCount'] },
    });
    const destination = JSON.stringify(m.DestinationConfig);
    expect(destination).toMatch(/"Fn::GetAtt":\["TriageBackstop[0-9A-F]+","Arn"\]/);
    expect(destination).not.toContain('kafka://');
    const bucket = one(p, 'AWS::S3::Bucket');
    expect(bucket.MetricsConfigurations).toEqual([{ Id: BACKSTOP_METRICS_FILTER }]);
    expect(JSON.stringify(bucket.LifecycleConfiguration)).toContain(
      `"ExpirationInDays":${p.config.triage.backstopRetentionDays}`,
    );
  });

  it('runs the relay every minute with one instance at most', () => {
    const relay = resourcesOfType(p, 'AWS::Lambda::Function')
      .map(([, , r]) => props(r))
      .find((f) => f.FunctionName === p.config.functions.outboxRelay.name);
    expect(relay?.ReservedConcurrentExecutions).toBe(1);
    const rule = one(p, 'AWS::Events::Rule');
    expect(rule.ScheduleExpression).toBe('rate(1 minute)');
  });

  it('declares both topics with the configured partitions and replication', () => {
    const topics = one(p, 'Custom::KafkaTopics');
    const specs = JSON.parse(String(topics.Topics)) as Array<Json>;
    expect(specs.map((t) => [t.name, t.partitions, t.replicationFactor])).toEqual([
      ['order-events', 6, 2],
      ['order-events-dlq', 3, 2],
    ]);
  });

  it('builds every function with the shared defaults: Node.js 22, arm64, JSON logs to its own group', () => {
    const fns = resourcesOfType(p, 'AWS::Lambda::Function')
      .map(([, , r]) => props(r))
      .filter((f) => String(f.FunctionName ?? '').startsWith(p.config.prefix));
    expect(fns.map((f) => f.FunctionName).sort()).toEqual(
      Object.values(p.config.functions)
        .map((f) => f.name)
        .sort(),
    );
    for (const f of fns) {
      expect(f).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        LoggingConfig: expect.objectContaining({ LogFormat: 'JSON' }),
        Environment: {
          Variables: expect.objectContaining({
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_METRICS_NAMESPACE: 'OrderPipeline/dev',
            POWERTOOLS_SERVICE_NAME: expect.any(String),
          }),
        },
      });
    }
    for (const [, , r] of resourcesOfType(p, 'AWS::Logs::LogGroup')) {
      expect(props(r).RetentionInDays).toBeGreaterThan(0);
    }
  });
});

describe.each([
  {
    stage: 'dev' as const,
    azs: 2,
    broker: 'kafka.t3.small',
    brokers: 2,
    ebs: 20,
    db: 'db.t4g.micro',
    dbInstances: 1,
    cacheNodes: 1,
    deletionProtection: false,
  },
  {
    stage: 'prod' as const,
    azs: 3,
    broker: 'kafka.m5.large',
    brokers: 3,
    ebs: 100,
    db: 'db.r6g.large',
    dbInstances: 2,
    cacheNodes: 2,
    deletionProtection: true,
  },
])('sizes ($stage)', (want) => {
  let p: SynthesizedPipeline;
  beforeAll(() => {
    p = synthPipeline(want.stage);
  });

  it('spreads the VPC over the configured AZs', () => {
    const subnets = resourcesOfType(p, 'AWS::EC2::Subnet').map(
      ([, , r]) => props(r).AvailabilityZone,
    );
    expect(new Set(subnets).size).toBe(want.azs);
  });

  it('sizes MSK explicitly', () => {
    const cluster = one(p, 'AWS::MSK::Cluster');
    expect(cluster).toMatchObject({
      KafkaVersion: '4.0.x.kraft',
      NumberOfBrokerNodes: want.brokers,
      BrokerNodeGroupInfo: {
        InstanceType: want.broker,
        StorageInfo: { EBSStorageInfo: { VolumeSize: want.ebs } },
      },
    });
  });

  it('sizes PostgreSQL 17 and its replicas', () => {
    const dbs = resourcesOfType(p, 'AWS::RDS::DBInstance').map(([, , r]) => props(r));
    expect(dbs).toHaveLength(want.dbInstances);
    for (const db of dbs) expect(db.DBInstanceClass).toBe(want.db);
    const primary = dbs.find((d) => !d.SourceDBInstanceIdentifier);
    expect(primary).toMatchObject({
      Engine: 'postgres',
      DeletionProtection: want.deletionProtection,
    });
    expect(String(primary?.EngineVersion)).toMatch(/^17\./);
  });

  it('sizes the cache', () => {
    expect(one(p, 'AWS::ElastiCache::ReplicationGroup')).toMatchObject({
      CacheNodeType: 'cache.t4g.micro',
      NumCacheClusters: want.cacheNodes,
      MultiAZEnabled: want.cacheNodes > 1,
      EngineVersion: expect.stringMatching(/^7\./),
    });
  });

  it('budgets the stage with 80 % and 100 % notifications to the alarm topic', () => {
    const budget = one(p, 'AWS::Budgets::Budget');
    expect(budget).toMatchObject({
      Budget: {
        BudgetLimit: { Amount: p.config.budget.monthlyLimitUsd, Unit: 'USD' },
        TimeUnit: 'MONTHLY',
      },
    });
    const notes = budget.NotificationsWithSubscribers as Array<{
      Notification: { Threshold: number };
      Subscribers: Array<{ SubscriptionType: string }>;
    }>;
    expect(notes.map((n) => n.Notification.Threshold)).toEqual([80, 100]);
    for (const n of notes) expect(n.Subscribers[0]?.SubscriptionType).toBe('SNS');
  });
});
