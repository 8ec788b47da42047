import { App, CfnResource, type Stack, TagManager } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadStageConfig, type StageConfig, type StageName } from '../../lib/config/stage-config';
import { buildPipeline, type PipelineStacks } from '../../lib/pipeline';

export type StackPart = keyof PipelineStacks;

export interface SynthesizedPipeline {
  readonly config: StageConfig;
  readonly stacks: PipelineStacks;
  readonly templates: Record<StackPart, Template>;
}

/**
 * Synthesizes one stage exactly as `cdk synth` does (same builder, cdk-nag included; a finding
 * throws). Lambda bundling is skipped unless asked for: it is exercised by the CLI synth in CI.
 */
export function synthPipeline(
  stage: StageName,
  options: { bundle?: boolean; config?: StageConfig } = {},
): SynthesizedPipeline {
  const app = new App({
    context: {
      stage,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const config = options.config ?? loadStageConfig(stage);
  const stacks = buildPipeline(app, config);
  app.synth();
  const templates = Object.fromEntries(
    Object.entries(stacks).map(([part, stack]) => [part, Template.fromStack(stack as Stack)]),
  ) as Record<StackPart, Template>;
  return { config, stacks, templates };
}

type Json = Record<string, unknown>;

/** Every resource of every stack: `[part, logicalId, resource]`. */
export function allResources(p: SynthesizedPipeline): Array<[StackPart, string, Json]> {
  const out: Array<[StackPart, string, Json]> = [];
  for (const [part, template] of Object.entries(p.templates) as Array<[StackPart, Template]>) {
    const resources = (template.toJSON().Resources ?? {}) as Record<string, Json>;
    for (const [id, r] of Object.entries(resources)) out.push([part, id, r]);
  }
  return out;
}

export function resourcesOfType(
  p: SynthesizedPipeline,
  type: string,
): Array<[StackPart, string, Json]> {
  return allResources(p).filter(([, , r]) => r.Type === type);
}

/** Logical ids of the resources CDK considers taggable, per stack. */
export function taggableLogicalIds(stack: Stack): string[] {
  return stack.node
    .findAll()
    .filter(
      (c): c is CfnResource =>
        CfnResource.isCfnResource(c) && (TagManager.isTaggable(c) || TagManager.isTaggableV2(c)),
    )
    .map((c) => stack.resolve(c.logicalId) as string);
}

/** Tags of a template resource, whether the type renders them as a list or a map. */
export function tagsOf(resource: Json): Record<string, unknown> {
  const props = (resource.Properties ?? {}) as Json;
  const tags = props.Tags ?? props.tags ?? props.ResourceTags;
  if (Array.isArray(tags)) {
    return Object.fromEntries(tags.map((t: { Key: string; Value: unknown }) => [t.Key, t.Value]));
  }
  return (tags ?? {}) as Record<string, unknown>;
}

export function props(resource: Json): Json {
  return (resource.Properties ?? {}) as Json;
}
