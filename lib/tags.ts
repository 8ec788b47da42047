import { Aspects, CfnResource, type IAspect, type Stack, TagManager, Tags } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { StageConfig } from './config/stage-config';

/** Cost-allocation tags on every taggable resource (activate them in Billing to use them). */
export const REQUIRED_TAGS = [
  'Project',
  'Environment',
  'Service',
  'CostCenter',
  'Owner',
  'ManagedBy',
] as const;
export type RequiredTag = (typeof REQUIRED_TAGS)[number];

export function costTags(config: StageConfig, service: string): Record<RequiredTag, string> {
  return {
    Project: config.tags.project,
    Environment: config.tags.environment,
    Service: service,
    CostCenter: config.tags.costCenter,
    Owner: config.tags.owner,
    ManagedBy: config.tags.managedBy,
  };
}

/**
 * Tags a stack's resources. `Service` names the stack here; PipelineFunction overrides it
 * with the function's service (the nearer tag wins).
 */
export function applyCostTags(stack: Stack, config: StageConfig, service: string): void {
  const tags = costTags(config, service);
  for (const [key, value] of Object.entries(tags)) Tags.of(stack).add(key, value);
  Aspects.of(stack).add(new TagRawProviderResources(tags));
}

/** Types that CloudFormation can tag but that CDK's singleton providers emit as raw resources. */
const RAW_TAGGABLE_TYPES = new Set(['AWS::Lambda::Function', 'AWS::IAM::Role']);

/**
 * CDK's CustomResourceProvider (triggers, default-SG restriction) writes its function and role
 * as plain CfnResources that Tags.of cannot reach; this adds the same tags to them.
 */
class TagRawProviderResources implements IAspect {
  constructor(private readonly tags: Record<string, string>) {}

  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node) || !RAW_TAGGABLE_TYPES.has(node.cfnResourceType)) return;
    if (TagManager.isTaggable(node) || TagManager.isTaggableV2(node)) return;
    node.addPropertyOverride(
      'Tags',
      Object.entries(this.tags).map(([Key, Value]) => ({ Key, Value })),
    );
  }
}
