import { describe, expect, it } from 'vitest';
import {
  estimate,
  type ResourceInput,
  rateMinutes,
} from '../../../../tools/operations/cost/estimate';
import { PRICES } from '../../../../tools/operations/cost/prices';

const H = 730;
const tags = (service: string) => [
  { Key: 'Project', Value: 'order-pipeline' },
  { Key: 'Service', Value: service },
];
const res = (
  logicalId: string,
  type: string,
  properties: Record<string, unknown> = {},
  stack = 'part',
): ResourceInput => ({ stack, logicalId, type, properties });

// Hand-written literals (not read from the table) so a wrong table entry or formula fails.
describe('estimate (eu-west-1)', () => {
  const R = 'eu-west-1';

  it('MSK: brokers × broker-hour × 730 and brokers × VolumeSize × GB-month', () => {
    const e = estimate(
      [
        res('Cluster', 'AWS::MSK::Cluster', {
          NumberOfBrokerNodes: 3,
          BrokerNodeGroupInfo: {
            InstanceType: 'kafka.m5.large',
            StorageInfo: { EBSStorageInfo: { VolumeSize: 100 } },
          },
          Tags: { Service: 'streaming' },
        }),
      ],
      R,
    );
    const [brokers, storage] = e.lineItems;
    expect(brokers?.basis).toBe('hourly');
    expect(brokers?.monthlyUsd).toBeCloseTo(3 * 0.236 * H, 6); // 516.84
    expect(storage?.basis).toBe('storage');
    expect(storage?.monthlyUsd).toBeCloseTo(100 * 3 * 0.11, 6); // 33.00
    expect(e.byService.streaming).toBeCloseTo(516.84 + 33, 6);
    expect(e.unpriced).toEqual([]);
  });

  it('RDS: instance + gp3 storage; a read replica is an instance and inherits the source size', () => {
    const e = estimate(
      [
        res('Primary', 'AWS::RDS::DBInstance', {
          Engine: 'postgres',
          DBInstanceClass: 'db.r6g.large',
          AllocatedStorage: '100',
          StorageType: 'gp3',
          Tags: tags('data'),
        }),
        res('Replica', 'AWS::RDS::DBInstance', {
          DBInstanceClass: 'db.r6g.large',
          SourceDBInstanceIdentifier: { 'Fn::Join': [':', ['arn', { Ref: 'Primary' }]] },
          Tags: tags('data'),
        }),
      ],
      R,
    );
    const byId = (id: string, basis: string) =>
      e.lineItems.find((i) => i.logicalId === id && i.basis === basis)?.monthlyUsd;
    expect(byId('Primary', 'hourly')).toBeCloseTo(0.25 * H, 6); // 182.50
    expect(byId('Primary', 'storage')).toBeCloseTo(100 * 0.127, 6); // 12.70
    expect(byId('Replica', 'hourly')).toBeCloseTo(0.25 * H, 6);
    expect(byId('Replica', 'storage')).toBeCloseTo(100 * 0.127, 6);
    expect(e.byService.data).toBeCloseTo(2 * (182.5 + 12.7), 6);
    expect(e.unpriced).toEqual([]);
  });

  it('RDS: Multi-AZ doubles instance and storage', () => {
    const e = estimate(
      [
        res('Db', 'AWS::RDS::DBInstance', {
          Engine: 'postgres',
          DBInstanceClass: 'db.t4g.micro',
          AllocatedStorage: 20,
          StorageType: 'gp3',
          MultiAZ: true,
        }),
      ],
      R,
    );
    expect(e.lineItems.map((i) => i.monthlyUsd)).toEqual([
      expect.closeTo(2 * 0.018 * H, 6), // 26.28
      expect.closeTo(2 * 20 * 0.127, 6), // 5.08
    ]);
  });

  it('RDS: MultiAZ "true" doubles too; a MultiAZ token is unpriced, not taken for Single-AZ', () => {
    const db = (MultiAZ: unknown) =>
      res('Db', 'AWS::RDS::DBInstance', {
        Engine: 'postgres',
        DBInstanceClass: 'db.t4g.micro',
        AllocatedStorage: 20,
        StorageType: 'gp3',
        MultiAZ,
      });
    expect(estimate([db('true')], R).totalUsd).toBeCloseTo(2 * (0.018 * H + 20 * 0.127), 6);
    expect(estimate([db(false)], R).totalUsd).toBeCloseTo(0.018 * H + 20 * 0.127, 6);
    const token = estimate([db({ 'Fn::If': ['IsProd', true, false] })], R);
    expect(token.lineItems).toEqual([]);
    expect(token.unpriced.map((u) => u.reason)).toEqual(['MultiAZ is not a literal']);
  });

  it('RDS: a replica whose source is missing, or a non-postgres engine, is unpriced', () => {
    const e = estimate(
      [
        res('Orphan', 'AWS::RDS::DBInstance', {
          DBInstanceClass: 'db.r6g.large',
          SourceDBInstanceIdentifier: 'arn:aws:rds:eu-west-1:1:db:elsewhere',
        }),
        res('My', 'AWS::RDS::DBInstance', { Engine: 'mysql', DBInstanceClass: 'db.t4g.micro' }),
      ],
      R,
    );
    expect(e.unpriced.map((u) => u.logicalId)).toEqual(['Orphan', 'My']);
    expect(e.totalUsd).toBe(0);
  });

  it('RDS Proxy: vCPUs of the target instance × vCPU-hour', () => {
    const e = estimate(
      [
        res('Db', 'AWS::RDS::DBInstance', {
          Engine: 'postgres',
          DBInstanceClass: 'db.t4g.micro',
          AllocatedStorage: 20,
        }),
        res('Proxy', 'AWS::RDS::DBProxy', {}),
        res('ProxyTg', 'AWS::RDS::DBProxyTargetGroup', {
          DBProxyName: { Ref: 'Proxy' },
          DBInstanceIdentifiers: [{ Ref: 'Db' }],
        }),
      ],
      R,
    );
    const proxy = e.lineItems.find((i) => i.logicalId === 'Proxy');
    expect(proxy?.monthlyUsd).toBeCloseTo(2 * 0.0165 * H, 6); // 24.09
    expect(e.free.map((f) => f.logicalId)).toEqual(['ProxyTg']);
    // Without a target group the proxy cannot be priced.
    expect(estimate([res('Proxy', 'AWS::RDS::DBProxy')], R).unpriced).toHaveLength(1);
  });

  it('ElastiCache: node-hour × NumCacheClusters, Valkey 20 % below Redis OSS', () => {
    const group = (Engine: string) =>
      res('Rg', 'AWS::ElastiCache::ReplicationGroup', {
        Engine,
        CacheNodeType: 'cache.t4g.micro',
        NumCacheClusters: 2,
      });
    const valkey = estimate([group('valkey')], R).totalUsd;
    const redis = estimate([group('redis')], R).totalUsd;
    expect(redis).toBeCloseTo(2 * 0.0176 * H, 6); // 25.696
    expect(valkey).toBeCloseTo(2 * 0.01408 * H, 6); // 20.5568
    expect(valkey / redis).toBeCloseTo(0.8, 6);
  });

  it('network: NAT gateway hours, EIP hours, interface endpoint × subnets, gateway endpoint free', () => {
    const e = estimate(
      [
        res('Nat', 'AWS::EC2::NatGateway'),
        res('Eip', 'AWS::EC2::EIP'),
        res('Sts', 'AWS::EC2::VPCEndpoint', {
          VpcEndpointType: 'Interface',
          ServiceName: 'com.amazonaws.eu-west-1.sts',
          SubnetIds: [{ Ref: 'A' }, { Ref: 'B' }, { Ref: 'C' }],
        }),
        res('S3', 'AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.eu-west-1.s3' }),
      ],
      R,
    );
    const m = Object.fromEntries(e.lineItems.map((i) => [i.logicalId, i.monthlyUsd]));
    expect(m.Nat).toBeCloseTo(0.048 * H, 6); // 35.04
    expect(m.Eip).toBeCloseTo(0.005 * H, 6); // 3.65
    expect(m.Sts).toBeCloseTo(3 * 0.011 * H, 6); // 24.09
    expect(e.free.map((f) => f.logicalId)).toEqual(['S3']);
  });

  it('KMS keys $1, secrets $0.40, alarms $0.10 per metric (metric math counts each metric)', () => {
    const e = estimate(
      [
        res('Key', 'AWS::KMS::Key'),
        res('Alias', 'AWS::KMS::Alias'),
        res('Secret', 'AWS::SecretsManager::Secret'),
        res('Simple', 'AWS::CloudWatch::Alarm', { MetricName: 'Errors', Period: 60 }),
        res('Math', 'AWS::CloudWatch::Alarm', {
          Metrics: [
            { Id: 'e', Expression: 'a + b + c', ReturnData: true },
            { Id: 'a', MetricStat: { Period: 60 } },
            { Id: 'b', MetricStat: { Period: 60 } },
            { Id: 'c', MetricStat: { Period: 60 } },
          ],
        }),
        res('HighRes', 'AWS::CloudWatch::Alarm', { MetricName: 'X', Period: 10 }),
        res('Dash', 'AWS::CloudWatch::Dashboard'),
      ],
      R,
    );
    const m = Object.fromEntries(e.lineItems.map((i) => [i.logicalId, i.monthlyUsd]));
    expect(m.Key).toBe(1);
    expect(m.Secret).toBeCloseTo(0.4, 9);
    expect(m.Simple).toBeCloseTo(0.1, 9);
    expect(m.Math).toBeCloseTo(0.3, 9);
    expect(m.HighRes).toBeCloseTo(0.3, 9);
    expect(m.Dash).toBe(3);
    expect(e.totalUsd).toBeCloseTo(1 + 0.4 + 0.1 + 0.3 + 0.3 + 3, 9);
    expect(e.free.map((f) => f.logicalId)).toEqual(['Alias']);
  });

  it('budgets: the first two are free, the third is charged per day', () => {
    const e = estimate(
      [1, 2, 3].map((n) => res(`B${n}`, 'AWS::Budgets::Budget')),
      R,
    );
    expect(e.lineItems.map((i) => i.monthlyUsd)).toEqual([0, 0, expect.closeTo(0.1 * (H / 24), 6)]);
  });

  it('usage-based types are $0 line items with basis usage; a provisioned non-Kafka ESM is unpriced', () => {
    const e = estimate(
      [
        res('Fn', 'AWS::Lambda::Function', { Tags: tags('order-api') }),
        res('Q', 'AWS::SQS::Queue'),
        res('Topic', 'AWS::SNS::Topic'),
        res('Api', 'AWS::ApiGatewayV2::Api'),
        res('Rule', 'AWS::Events::Rule'),
        res('Logs', 'AWS::Logs::LogGroup'),
        res('Topics', 'Custom::KafkaTopics'),
        res('Esm', 'AWS::Lambda::EventSourceMapping'),
        res('EsmProv', 'AWS::Lambda::EventSourceMapping', {
          ProvisionedPollerConfig: { MinimumPollers: 1 },
        }),
      ],
      R,
    );
    expect(e.lineItems.every((i) => i.basis === 'usage' && i.monthlyUsd === 0)).toBe(true);
    expect(e.lineItems).toHaveLength(8);
    expect(e.lineItems[0]?.service).toBe('order-api');
    expect(e.unpriced.map((u) => u.logicalId)).toEqual(['EsmProv']);
  });

  it('an unknown type lands in unpriced under its stack part when it has no Service tag', () => {
    const e = estimate([res('Mystery', 'AWS::Foo::Bar', {}, 'streaming')], R);
    expect(e.unpriced).toEqual([
      expect.objectContaining({
        service: 'streaming',
        logicalId: 'Mystery',
        type: 'AWS::Foo::Bar',
      }),
    ]);
    expect(e.lineItems).toEqual([]);
    expect(e.byService).toEqual({ streaming: 0 });
  });

  it('groups by the Service tag from Tags lists, Tags maps and ResourceTags', () => {
    const e = estimate(
      [
        res('A', 'AWS::KMS::Key', { Tags: [{ Key: 'Service', Value: 'x' }] }),
        res('B', 'AWS::KMS::Key', { Tags: { Service: 'y' } }),
        res('C', 'AWS::SecretsManager::Secret', { ResourceTags: [{ Key: 'Service', Value: 'x' }] }),
        res('D', 'AWS::KMS::Key', {}, 'fallback'),
      ],
      R,
    );
    expect(e.byService).toEqual({ x: 1.4, y: 1, fallback: 1 });
  });
});

describe('Lambda functions a schedule keeps running', () => {
  const R = 'us-east-1';
  const fn = (logicalId: string, props: Record<string, unknown>) =>
    res(logicalId, 'AWS::Lambda::Function', { Tags: tags('outbox-relay'), ...props });
  const rule = (target: string, expression: string, extra: Record<string, unknown> = {}) =>
    res(`Rule${target}`, 'AWS::Events::Rule', {
      ScheduleExpression: expression,
      Targets: [{ Arn: { 'Fn::GetAtt': [target, 'Arn'] }, Id: 'Target0' }],
      ...extra,
    });

  it('a function invoked every minute with a 60 s timeout bills all month: memory × timeout', () => {
    const e = estimate(
      [
        fn('Relay', { MemorySize: 512, Timeout: 60, Architectures: ['arm64'] }),
        rule('Relay', 'rate(1 minute)'),
      ],
      R,
    );
    const relay = e.lineItems.find((i) => i.logicalId === 'Relay');
    expect(relay?.basis).toBe('hourly');
    // 0.5 GB × 60 s × 43,800 invocations × $0.0000133334 + 43,800 × $0.20 / 1M
    expect(relay?.monthlyUsd).toBeCloseTo(0.5 * 60 * 43_800 * 0.0000133334 + 43_800 * 0.0000002, 6);
    expect(relay?.monthlyUsd).toBeCloseTo(17.53, 2);
    expect(relay?.detail).toMatch(/runs all the time \(every 1 min, up to its 60 s timeout\)/);
  });

  it('x86 is priced at its own rate; a 5-minute rate with a 300 s timeout is always on too', () => {
    const e = estimate(
      [fn('Job', { MemorySize: 1024, Timeout: 300 }), rule('Job', 'rate(5 minutes)')],
      R,
    );
    // 1 GB × 300 s × 8,760 invocations × $0.0000166667 + 8,760 requests
    expect(e.lineItems[0]?.monthlyUsd).toBeCloseTo(
      300 * 8_760 * 0.0000166667 + 8_760 * 0.0000002,
      6,
    );
  });

  it('stays usage-based when the timeout is shorter than the period, the rule is disabled, or it targets another function', () => {
    const e = estimate(
      [
        fn('Short', { MemorySize: 512, Timeout: 30 }),
        rule('Short', 'rate(1 minute)'),
        fn('Off', { MemorySize: 512, Timeout: 60 }),
        rule('Off', 'rate(1 minute)', { State: 'DISABLED' }),
        fn('Api', { MemorySize: 512, Timeout: 60 }),
        rule('Other', 'rate(1 minute)'),
        fn('Cron', { MemorySize: 512, Timeout: 900 }),
        rule('Cron', 'cron(0 * * * ? *)'),
      ],
      R,
    );
    for (const id of ['Short', 'Off', 'Api', 'Cron']) {
      const item = e.lineItems.find((i) => i.logicalId === id);
      expect(item?.basis).toBe('usage');
      expect(item?.monthlyUsd).toBe(0);
    }
  });
});

describe('estimate (us-east-1)', () => {
  it('prices with the region table', () => {
    const e = estimate(
      [
        res('Cluster', 'AWS::MSK::Cluster', {
          NumberOfBrokerNodes: 3,
          BrokerNodeGroupInfo: {
            InstanceType: 'kafka.m5.large',
            StorageInfo: { EBSStorageInfo: { VolumeSize: 100 } },
          },
        }),
        res('Nat', 'AWS::EC2::NatGateway'),
      ],
      'us-east-1',
    );
    expect(e.totalUsd).toBeCloseTo(3 * 0.21 * H + 300 * 0.1 + 0.045 * H, 6);
  });

  it('rejects a region without a table', () => {
    expect(() => estimate([], 'ap-south-2')).toThrow(/no price table/);
  });
});

describe('price table', () => {
  it('every entry has a source URL and an ISO asOf date, in both required regions', () => {
    expect(Object.keys(PRICES)).toEqual(expect.arrayContaining(['eu-west-1', 'us-east-1']));
    const entries: Array<{ source: string; asOf: string; usd: number }> = [];
    const walk = (v: unknown): void => {
      if (typeof v !== 'object' || v === null) return;
      if ('usd' in v) entries.push(v as { source: string; asOf: string; usd: number });
      else for (const x of Object.values(v)) walk(x);
    };
    walk(PRICES);
    expect(entries.length).toBeGreaterThan(40);
    for (const e of entries) {
      expect(e.source).toMatch(/https:\/\/aws\.amazon\.com\//);
      expect(e.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(e.usd).toBeGreaterThan(0);
    }
  });
});

describe('rateMinutes', () => {
  it('reads literal rate() expressions and nothing else', () => {
    expect(rateMinutes('rate(1 minute)')).toBe(1);
    expect(rateMinutes('rate(5 minutes)')).toBe(5);
    expect(rateMinutes('rate(2 hours)')).toBe(120);
    expect(rateMinutes('rate(1 day)')).toBe(1_440);
    expect(rateMinutes('rate(0 minutes)')).toBeUndefined();
    expect(rateMinutes('cron(0 12 * * ? *)')).toBeUndefined();
    expect(rateMinutes({ Ref: 'Schedule' })).toBeUndefined();
  });
});
