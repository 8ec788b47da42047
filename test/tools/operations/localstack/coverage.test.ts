import { describe, expect, it } from 'vitest';
import {
  CLOUDFORMATION_RESOURCE_TIERS,
  coverageType,
  paidServices,
  planOf,
  SERVICE_PLANS,
  tierOf,
} from '../../../../tools/operations/localstack/coverage';

describe('LocalStack coverage table', () => {
  it('holds well-formed CloudFormation type names from both tables', () => {
    const types = [...CLOUDFORMATION_RESOURCE_TIERS.keys()];
    expect(types.length).toBeGreaterThan(240);
    for (const t of types) expect(t).toMatch(/^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/);
    const tiers = [...CLOUDFORMATION_RESOURCE_TIERS.values()];
    expect(tiers.filter((t) => t === 'pro').length).toBeGreaterThan(100);
    expect(tiers.filter((t) => t === 'community').length).toBeGreaterThan(100);
  });

  it('gives each type its tier; a type in both tables needs only the community image', () => {
    expect(tierOf('AWS::SQS::Queue')).toBe('community');
    expect(tierOf('AWS::MSK::Cluster')).toBe('pro');
    expect(tierOf('AWS::EC2::SubnetRouteTableAssociation')).toBe('community');
    expect(tierOf('AWS::SecretsManager::SecretTargetAttachment')).toBe('community');
    expect(tierOf('AWS::MSK::Configuration')).toBeUndefined();
    expect(tierOf('AWS::Budgets::Budget')).toBeUndefined();
  });

  it('treats every Custom:: type as a (Pro) custom resource', () => {
    expect(coverageType('Custom::KafkaTopics')).toBe('AWS::CloudFormation::CustomResource');
    expect(tierOf('Custom::Anything')).toBe('pro');
    expect(planOf('Custom::Anything')?.service).toBe('CloudFormation');
  });

  it('lists the paid plans most expensive first, each from a LocalStack docs page', () => {
    expect(paidServices().map((s) => s.plan)).toEqual(['Ultimate', 'Base', 'Base', 'Base']);
    for (const s of SERVICE_PLANS) expect(s.url).toMatch(/^https:\/\/docs\.localstack\.cloud\//);
    expect(planOf('AWS::RDS::DBProxy')?.plan).toBe('Base');
    expect(planOf('AWS::Budgets::Budget')).toBeUndefined();
  });
});
