import { beforeAll, describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import {
  CLOUDFORMATION_COVERAGE_SOURCE,
  LAMBDA_MAPPINGS_SOURCE,
  paidServices,
  planOf,
  SUPPORTED_TRANSFORMS,
  tierOf,
  UNSUPPORTED_INTRINSICS,
  UNSUPPORTED_MSK_MAPPING_PROPERTIES,
} from '../../../../tools/operations/localstack/coverage';
import {
  allResources,
  props,
  resourcesOfType,
  type SynthesizedPipeline,
  synthPipeline,
} from '../../../infra/synth';

type Json = Record<string, unknown>;

// What the README's LocalStack section says: the stage's resource types that need the Pro
// image, and the services that need a paid plan. Change both together.
const README_PRO_TYPES = [
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Stage',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::VPCEndpoint',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::SubnetGroup',
  'AWS::MSK::Cluster',
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBParameterGroup',
  'AWS::RDS::DBProxy',
  'AWS::RDS::DBProxyTargetGroup',
  'AWS::RDS::DBSubnetGroup',
  'Custom::MskBootstrapBrokers',
  'Custom::VpcRestrictDefaultSG',
];
const README_PAID_SERVICES = [
  'Amazon MSK: Ultimate',
  'RDS and RDS Proxy: Base',
  'ElastiCache: Base',
  'API Gateway v2 (HTTP API): Base',
];

const typesOf = (p: SynthesizedPipeline): string[] =>
  [...new Set(allResources(p).map(([, , r]) => String(r.Type)))].sort();

const notDeployable = (p: SynthesizedPipeline): string[] =>
  typesOf(p).filter((t) => tierOf(t) === undefined);

/** Every `Fn::*` key used in a template's resources and outputs. */
function intrinsicsOf(p: SynthesizedPipeline): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k.startsWith('Fn::')) found.add(k);
        walk(child);
      }
    }
  };
  for (const t of Object.values(p.templates)) {
    const json = t.toJSON() as Json;
    walk(json.Resources);
    walk(json.Outputs);
  }
  return found;
}

const transformsOf = (p: SynthesizedPipeline): string[] =>
  Object.values(p.templates).flatMap((t) => {
    const transform = (t.toJSON() as Json).Transform;
    return transform === undefined ? [] : ([] as unknown[]).concat(transform).map(String);
  });

describe('the localstack stage against LocalStack coverage', () => {
  let p: SynthesizedPipeline;
  let dev: SynthesizedPipeline;
  beforeAll(() => {
    p = synthPipeline('localstack');
    dev = synthPipeline('dev');
  });

  it('cites dated LocalStack sources for the tables it checks against', () => {
    for (const source of [CLOUDFORMATION_COVERAGE_SOURCE, LAMBDA_MAPPINGS_SOURCE]) {
      expect(source.url).toMatch(/^https:\/\/docs\.localstack\.cloud\//);
      expect(source.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(source.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('finds the resource types LocalStack cannot deploy in the AWS stages (the check can fail)', () => {
    expect(notDeployable(dev)).toEqual(
      expect.arrayContaining([
        'AWS::Budgets::Budget',
        'AWS::CloudWatch::Dashboard',
        'AWS::EC2::FlowLog',
        'AWS::MSK::Configuration',
      ]),
    );
    expect(transformsOf(dev).filter((t) => !SUPPORTED_TRANSFORMS.includes(t))).toEqual([
      'AWS::SecretsManager-2024-09-16',
    ]);
  });

  it('uses only resource types in LocalStack CloudFormation coverage', () => {
    expect(typesOf(p).length).toBeGreaterThan(25);
    expect(notDeployable(p)).toEqual([]);
  });

  it('needs the Pro image for exactly the resource types the README lists', () => {
    expect(typesOf(p).filter((t) => tierOf(t) === 'pro')).toEqual(README_PRO_TYPES);
  });

  it('needs a paid plan for exactly the services the README and the deploy message list', () => {
    const plans = typesOf(p).map((t) => [t, planOf(t)] as const);
    expect(plans.filter(([, plan]) => plan === undefined).map(([t]) => t)).toEqual([]);
    const paid = new Set(
      plans
        .map(([, plan]) => plan)
        .filter((plan) => plan && ['Base', 'Ultimate'].includes(plan.plan))
        .map((plan) => `${plan?.service}: ${plan?.plan}`),
    );
    expect([...paid].sort()).toEqual([...README_PAID_SERVICES].sort());
    expect(paidServices().map((s) => `${s.service}: ${s.plan}`)).toEqual(README_PAID_SERVICES);
  });

  it('uses no transform LocalStack lacks and no intrinsic function it marks unsupported', () => {
    expect(transformsOf(p).filter((t) => !SUPPORTED_TRANSFORMS.includes(t))).toEqual([]);
    const used = intrinsicsOf(p);
    expect(used.size).toBeGreaterThan(2);
    expect(UNSUPPORTED_INTRINSICS.filter((f) => used.has(f))).toEqual([]);
  });

  it('has no template rule but the CDK bootstrap version check, which LocalStack skips', () => {
    // LocalStack lists Rules as unsupported; this one only guards the bootstrap stack version.
    for (const t of Object.values(p.templates)) {
      expect(Object.keys(((t.toJSON() as Json).Rules ?? {}) as Json)).toEqual([
        'CheckBootstrapVersion',
      ]);
    }
  });

  it('sets on the MSK mappings only properties LocalStack implements for MSK', () => {
    const mappings = resourcesOfType(p, 'AWS::Lambda::EventSourceMapping').map(([, , r]) =>
      props(r),
    );
    expect(mappings).toHaveLength(2);
    for (const m of mappings) {
      expect(m.Topics).toBeDefined();
      expect(UNSUPPORTED_MSK_MAPPING_PROPERTIES.filter((k) => k in m)).toEqual([]);
    }
    // The AWS stages keep them (provisioned mode, retries, bisect, on-failure destinations).
    const devMappings = resourcesOfType(dev, 'AWS::Lambda::EventSourceMapping');
    expect(devMappings).toHaveLength(2);
    for (const [, , r] of devMappings) {
      expect(Object.keys(props(r))).toEqual(
        expect.arrayContaining([
          'ProvisionedPollerConfig',
          'DestinationConfig',
          'MaximumRetryAttempts',
        ]),
      );
    }
  });

  it('leaves out the deploy-time resources that need MSK IAM auth or a working RDS Proxy', () => {
    for (const type of ['Custom::KafkaTopics', 'Custom::Trigger']) {
      expect(resourcesOfType(p, type), type).toHaveLength(0);
      expect(resourcesOfType(dev, type), type).toHaveLength(1);
    }
  });

  it('switches features off in the localstack stage only', () => {
    const off = (stage: 'dev' | 'prod' | 'localstack') =>
      Object.entries(loadStageConfig(stage).features)
        .filter(([, on]) => !on)
        .map(([name]) => name);
    expect(off('dev')).toEqual([]);
    expect(off('prod')).toEqual([]);
    expect(off('localstack').sort()).toEqual([
      'budget',
      'dashboard',
      'databaseSecretRotation',
      'kafkaMappingErrorHandling',
      'kafkaTopicsResource',
      'migrateOnDeploy',
      'mskConfiguration',
      'vpcFlowLogs',
    ]);
  });
});
