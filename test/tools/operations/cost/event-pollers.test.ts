import { describe, expect, it } from 'vitest';
import { estimate, type ResourceInput } from '../../../../tools/operations/cost/estimate';
import { PRICES } from '../../../../tools/operations/cost/prices';

// Hand-written literals (not read from the table) so a wrong table entry or formula fails.
const H = 730;
const EPU_MONTH = 0.185 * H; // 135.05: one Event Poller Unit for a 730-hour month

const tags = (service: string) => [
  { Key: 'Project', Value: 'order-pipeline' },
  { Key: 'Service', Value: service },
];
const res = (
  logicalId: string,
  type: string,
  properties: Record<string, unknown> = {},
  stack = 'service',
): ResourceInput => ({ stack, logicalId, type, properties });

/** An MSK mapping as CDK renders it; `pollers` undefined = on-demand mode. */
const kafka = (
  logicalId: string,
  service: string,
  pollers?: Record<string, unknown>,
  stack = 'service',
): ResourceInput =>
  res(
    logicalId,
    'AWS::Lambda::EventSourceMapping',
    {
      EventSourceArn: 'arn:aws:kafka:eu-west-1:111122223333:cluster/orders/abc',
      FunctionName: { Ref: `${logicalId}Fn` },
      Topics: ['order-events'],
      StartingPosition: 'TRIM_HORIZON',
      ...(pollers === undefined ? {} : { ProvisionedPollerConfig: pollers }),
      Tags: tags(service),
    },
    stack,
  );

const item = (e: ReturnType<typeof estimate>, id: string) =>
  e.lineItems.find((i) => i.logicalId === id);

describe('provisioned-mode event pollers (eu-west-1)', () => {
  const R = 'eu-west-1';

  it('an ungrouped mapping holds its own EPU: max(1, ceil(MinimumPollers / 10)) × EPU-hour × 730', () => {
    const e = estimate(
      [kafka('Consumer', 'order-consumer', { MinimumPollers: 1, MaximumPollers: 2 })],
      R,
    );
    const consumer = item(e, 'Consumer');
    expect(consumer).toMatchObject({ service: 'order-consumer', basis: 'hourly' });
    expect(consumer?.monthlyUsd).toBeCloseTo(EPU_MONTH, 6); // 135.05
    expect(consumer?.detail).toMatch(/1 EPU \(dedicated: 1 minimum poller, 10 per EPU\)/);
    // eu-west-1 uses the us-east-1 rate, marked approximate in the table.
    expect(consumer?.approximate).toBe(true);
    expect(e.unpriced).toEqual([]);
    expect(e.byService).toEqual({ 'order-consumer': expect.closeTo(EPU_MONTH, 6) });
  });

  it('two ungrouped mappings are billed one EPU each', () => {
    const e = estimate(
      [
        kafka('Consumer', 'order-consumer', { MinimumPollers: 1, MaximumPollers: 6 }),
        kafka('Triage', 'dlq-triage', { MinimumPollers: 1, MaximumPollers: 1 }),
      ],
      R,
    );
    expect(item(e, 'Consumer')?.monthlyUsd).toBeCloseTo(EPU_MONTH, 6);
    expect(item(e, 'Triage')?.monthlyUsd).toBeCloseTo(EPU_MONTH, 6);
    expect(e.totalUsd).toBeCloseTo(2 * EPU_MONTH, 6); // 270.10
    expect(e.byService['dlq-triage']).toBeCloseTo(EPU_MONTH, 6);
  });

  it('mappings sharing a PollerGroupName are priced once, on the first; the others are $0 and name it', () => {
    const group = 'order-pipeline-dev-pollers';
    const e = estimate(
      [
        kafka('Consumer', 'order-consumer', {
          MinimumPollers: 1,
          MaximumPollers: 2,
          PollerGroupName: group,
        }),
        kafka('Triage', 'dlq-triage', {
          MinimumPollers: 1,
          MaximumPollers: 1,
          PollerGroupName: group,
        }),
      ],
      R,
    );
    const consumer = item(e, 'Consumer');
    const triage = item(e, 'Triage');
    expect(consumer?.monthlyUsd).toBeCloseTo(EPU_MONTH, 6);
    expect(consumer?.detail).toContain(
      `1 EPU (poller group "${group}": 2 mappings, 2 minimum pollers, 10 per EPU)`,
    );
    expect(triage).toMatchObject({ monthlyUsd: 0, basis: 'hourly', approximate: false });
    expect(triage?.detail).toBe(
      `shares the EPUs of poller group "${group}", priced on service/Consumer`,
    );
    expect(e.totalUsd).toBeCloseTo(EPU_MONTH, 6);
    expect(e.byService).toEqual({
      'order-consumer': expect.closeTo(EPU_MONTH, 6),
      'dlq-triage': 0,
    });
    expect(e.unpriced).toEqual([]);
  });

  it('a group needs a second EPU past 10 minimum pollers; so does a mapping alone', () => {
    const e = estimate(
      [
        kafka('A', 'x', { MinimumPollers: 6, PollerGroupName: 'g' }),
        kafka('B', 'x', { MinimumPollers: 5, PollerGroupName: 'g' }),
        kafka('Ten', 'y', { MinimumPollers: 10 }),
        kafka('Twelve', 'y', { MinimumPollers: '12' }),
      ],
      R,
    );
    expect(item(e, 'A')?.monthlyUsd).toBeCloseTo(2 * EPU_MONTH, 6); // ceil(11 / 10) = 2
    expect(item(e, 'B')?.monthlyUsd).toBe(0);
    expect(item(e, 'Ten')?.monthlyUsd).toBeCloseTo(EPU_MONTH, 6);
    expect(item(e, 'Twelve')?.monthlyUsd).toBeCloseTo(2 * EPU_MONTH, 6);
  });

  it('mixed: a group, an ungrouped mapping and one removed from its group ("") — 3 EPUs', () => {
    const e = estimate(
      [
        kafka('G1', 'order-consumer', { MinimumPollers: 1, PollerGroupName: 'shared' }),
        kafka('Alone', 'dlq-triage', { MinimumPollers: 1 }),
        kafka('G2', 'order-consumer', { MinimumPollers: 2, PollerGroupName: 'shared' }),
        kafka('Removed', 'dlq-triage', { MinimumPollers: 1, PollerGroupName: '' }),
      ],
      R,
    );
    const m = Object.fromEntries(e.lineItems.map((i) => [i.logicalId, i.monthlyUsd]));
    expect(m).toEqual({
      G1: expect.closeTo(EPU_MONTH, 6),
      Alone: expect.closeTo(EPU_MONTH, 6),
      G2: 0,
      Removed: expect.closeTo(EPU_MONTH, 6),
    });
    expect(item(e, 'G2')?.detail).toContain('priced on service/G1');
    expect(e.totalUsd).toBeCloseTo(3 * EPU_MONTH, 6);
  });

  it('a poller group spans stacks; MinimumPollers defaults to 1', () => {
    const e = estimate(
      [
        kafka('Left', 'a', { PollerGroupName: 'g' }, 'one'),
        kafka('Right', 'b', { MaximumPollers: 3, PollerGroupName: 'g' }, 'two'),
      ],
      R,
    );
    expect(item(e, 'Left')?.detail).toContain('2 mappings, 2 minimum pollers');
    expect(item(e, 'Right')?.detail).toContain('priced on one/Left');
    expect(e.totalUsd).toBeCloseTo(EPU_MONTH, 6);
  });

  it('a mapping without ProvisionedPollerConfig (on-demand) is usage-based $0, not unpriced', () => {
    const e = estimate(
      [
        kafka('OnDemand', 'order-consumer'),
        // `{}` switches provisioned mode off, back to on-demand.
        kafka('Off', 'order-consumer', {}),
        res('SqsMapping', 'AWS::Lambda::EventSourceMapping', { EventSourceArn: 'arn:sqs' }),
      ],
      R,
    );
    expect(e.unpriced).toEqual([]);
    expect(e.lineItems.map((i) => [i.logicalId, i.basis, i.monthlyUsd])).toEqual([
      ['OnDemand', 'usage', 0],
      ['Off', 'usage', 0],
      ['SqsMapping', 'usage', 0],
    ]);
    expect(e.lineItems[0]?.detail).toMatch(/^usage-based, \$0 at idle: on-demand mapping/);
  });

  it('what cannot be priced is listed unpriced: token group name, token minimum, non-Kafka source', () => {
    const e = estimate(
      [
        kafka('TokenGroup', 'x', { PollerGroupName: { 'Fn::Join': ['-', ['g', 'x']] } }),
        kafka('TokenMin', 'x', { MinimumPollers: { Ref: 'Min' }, PollerGroupName: 'g' }),
        kafka('Fine', 'x', { MinimumPollers: 1, PollerGroupName: 'g' }),
        kafka('NotLiteral', 'x', { 'Fn::If': ['c', {}, {}] } as unknown as Record<string, unknown>),
        res('SqsProvisioned', 'AWS::Lambda::EventSourceMapping', {
          EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] },
          ProvisionedPollerConfig: { MinimumPollers: 2 },
        }),
      ],
      R,
    );
    expect(e.unpriced.map((u) => [u.logicalId, u.reason])).toEqual([
      ['TokenGroup', expect.stringMatching(/PollerGroupName is not a literal/)],
      ['TokenMin', 'poller group "g": MinimumPollers of TokenMin is not a literal'],
      // The whole group is unpriced, on every member: no $0 "shares" line for it.
      ['Fine', 'poller group "g": MinimumPollers of TokenMin is not a literal'],
      ['NotLiteral', expect.stringMatching(/non-Kafka|not a literal/)],
      ['SqsProvisioned', expect.stringMatching(/non-Kafka event source/)],
    ]);
    expect(e.lineItems).toEqual([]);
    expect(e.totalUsd).toBe(0);
  });
});

describe('provisioned-mode event pollers (us-east-1)', () => {
  it('prices at the list rate, not marked approximate', () => {
    const e = estimate([kafka('Consumer', 'order-consumer', { MinimumPollers: 1 })], 'us-east-1');
    expect(item(e, 'Consumer')).toMatchObject({ approximate: false });
    expect(e.totalUsd).toBeCloseTo(135.05, 6);
  });
});

describe('the triage failure destination and its network path', () => {
  const R = 'eu-west-1';

  it('S3 bucket: usage-based $0; bucket policy free; S3 gateway endpoint free', () => {
    const e = estimate(
      [
        res('TriageFailures', 'AWS::S3::Bucket', { Tags: tags('dlq-triage') }),
        res('TriageFailuresPolicy', 'AWS::S3::BucketPolicy'),
        res('AutoDelete', 'Custom::S3AutoDeleteObjects'),
        res(
          'VpcS3Endpoint',
          'AWS::EC2::VPCEndpoint',
          {
            VpcEndpointType: 'Gateway',
            ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
            RouteTableIds: [{ Ref: 'Rt1' }, { Ref: 'Rt2' }],
          },
          'network',
        ),
      ],
      R,
    );
    expect(e.unpriced).toEqual([]);
    expect(e.lineItems.map((i) => [i.logicalId, i.service, i.basis, i.monthlyUsd])).toEqual([
      ['TriageFailures', 'dlq-triage', 'usage', 0],
      ['AutoDelete', 'service', 'usage', 0],
    ]);
    expect(e.lineItems[0]?.detail).toContain('storage per GB-month + requests');
    expect(e.free.map((f) => f.logicalId)).toEqual(['TriageFailuresPolicy', 'VpcS3Endpoint']);
    expect(e.totalUsd).toBe(0);
  });

  it('unchanged: interface endpoints priced per AZ, other endpoint types and unknown types unpriced', () => {
    const e = estimate(
      [
        res('Sts', 'AWS::EC2::VPCEndpoint', {
          VpcEndpointType: 'Interface',
          ServiceName: 'com.amazonaws.eu-west-1.sts',
          SubnetIds: [{ Ref: 'A' }, { Ref: 'B' }],
        }),
        res('TokenSubnets', 'AWS::EC2::VPCEndpoint', {
          VpcEndpointType: 'Interface',
          SubnetIds: { 'Fn::Split': [',', 'a,b'] },
        }),
        res('Glb', 'AWS::EC2::VPCEndpoint', { VpcEndpointType: 'GatewayLoadBalancer' }),
        res('Mystery', 'AWS::Foo::Bar'),
      ],
      R,
    );
    expect(item(e, 'Sts')?.monthlyUsd).toBeCloseTo(2 * 0.011 * H, 6); // 16.06
    expect(e.unpriced.map((u) => [u.logicalId, u.reason])).toEqual([
      ['TokenSubnets', 'SubnetIds is not a literal list'],
      ['Glb', 'endpoint type GatewayLoadBalancer not in the price table'],
      ['Mystery', 'resource type not in the price table'],
    ]);
  });

  it('the SQS failure queue and its key, while they exist, stay usage-based and priced', () => {
    const e = estimate(
      [
        res('TriageFailuresQueue', 'AWS::SQS::Queue', { Tags: tags('service') }),
        res('TriageFailuresKey', 'AWS::KMS::Key', { Tags: tags('service') }),
      ],
      R,
    );
    expect(e.unpriced).toEqual([]);
    expect(e.lineItems.map((i) => [i.logicalId, i.basis, i.monthlyUsd])).toEqual([
      ['TriageFailuresQueue', 'usage', 0],
      ['TriageFailuresKey', 'fixed', 1],
    ]);
  });
});

describe('invariant: every resource is a line item, free, or unpriced', () => {
  it('holds for a stage-shaped mix (no resource silently dropped)', () => {
    const resources = [
      kafka('Consumer', 'order-consumer', { MinimumPollers: 1, PollerGroupName: 'p' }),
      kafka('Triage', 'dlq-triage', { MinimumPollers: 1, PollerGroupName: 'p' }),
      kafka('OnDemand', 'x'),
      res('Bucket', 'AWS::S3::Bucket'),
      res('BucketPolicy', 'AWS::S3::BucketPolicy'),
      res('S3Endpoint', 'AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }),
      res('Queue', 'AWS::SQS::Queue'),
      res('Key', 'AWS::KMS::Key'),
      res('Unknown', 'AWS::Foo::Bar'),
    ];
    const e = estimate(resources, 'eu-west-1');
    const seen = new Set(
      [...e.lineItems, ...e.free, ...e.unpriced].map((x) => `${x.stack}/${x.logicalId}`),
    );
    for (const r of resources) expect(seen).toContain(`${r.stack}/${r.logicalId}`);
    // Every $0 line says why: usage-based, or the poller group it shares.
    for (const i of e.lineItems.filter((x) => x.monthlyUsd === 0)) {
      expect(i.detail).toMatch(/^usage-based, \$0 at idle|^shares the EPUs of poller group/);
    }
  });
});

describe('price table: Event Poller Unit-hour', () => {
  it('us-east-1 is the list rate; eu-west-1 is that rate marked approximate, both dated 2026-12-03', () => {
    const us = PRICES['us-east-1']?.esmEventPollerUnitHour;
    const eu = PRICES['eu-west-1']?.esmEventPollerUnitHour;
    expect(us).toMatchObject({
      usd: 0.185,
      unit: 'EPU-hour',
      confidence: 'list',
      asOf: '2026-12-03',
    });
    expect(eu).toMatchObject({
      usd: 0.185,
      unit: 'EPU-hour',
      confidence: 'approximate',
      asOf: '2026-12-03',
    });
    expect(eu?.note).toMatch(/us-east-1 rate/);
    for (const p of [us, eu]) expect(p?.source).toContain('https://aws.amazon.com/lambda/pricing/');
  });
});
