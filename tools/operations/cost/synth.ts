// The synthesized resources of one stage, the input of the cost estimate.
import { App } from 'aws-cdk-lib';
import {
  loadStageConfig,
  type StageConfig,
  type StageName,
} from '../../../lib/config/stage-config';
import { buildPipeline } from '../../../lib/pipeline';
import type { ResourceInput } from './estimate';

export interface SynthesizedResources {
  readonly config: StageConfig;
  readonly resources: ResourceInput[];
}

/**
 * Synthesizes one stage in process exactly as the app does (same builder, cdk-nag included),
 * without Lambda bundling, and returns every resource of every stack tagged with its part name.
 */
export function synthResources(stage: StageName): SynthesizedResources {
  const app = new App({ context: { stage, 'aws:cdk:bundling-stacks': [] } });
  const config = loadStageConfig(stage);
  const stacks = buildPipeline(app, config);
  const assembly = app.synth();
  const resources: ResourceInput[] = [];
  for (const [part, stack] of Object.entries(stacks)) {
    const template = assembly.getStackArtifact(stack.artifactId).template as {
      Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
      resources.push({ stack: part, logicalId, type: r.Type, properties: r.Properties ?? {} });
    }
  }
  return { config, resources };
}
