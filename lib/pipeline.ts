import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { StageConfig } from './config/stage-config';
import { CacheStack } from './stacks/cache-stack';
import { DataStack } from './stacks/data-stack';
import { NetworkStack } from './stacks/network-stack';
import { ObservabilityStack } from './stacks/observability-stack';
import { ServiceStack } from './stacks/service-stack';
import { StreamingStack } from './stacks/streaming-stack';
import { applyCostTags } from './tags';

export interface PipelineStacks {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly cache: CacheStack;
  readonly streaming: StreamingStack;
  readonly service: ServiceStack;
  readonly observability: ObservabilityStack;
}

/** Builds every stack of one stage, applies the cost tags and runs cdk-nag on all of it. */
export function buildPipeline(app: App, config: StageConfig): PipelineStacks {
  const env = { region: config.region };
  const name = (part: string) => `${config.prefix}-${part}`;
  const common = (part: string) => ({
    env,
    stackName: name(part),
    description: `${config.project} (${config.stage}): ${part}`,
    terminationProtection: config.stage === 'prod',
  });

  const network = new NetworkStack(app, name('network'), { ...common('network'), config });
  const shared = {
    config,
    vpc: network.vpc,
    securityGroups: network.securityGroups,
    dataSubnets: network.dataSubnets,
  };
  const data = new DataStack(app, name('data'), {
    ...common('data'),
    ...shared,
    appSubnets: network.appSubnets,
  });
  const cache = new CacheStack(app, name('cache'), { ...common('cache'), ...shared });
  const streaming = new StreamingStack(app, name('streaming'), {
    ...common('streaming'),
    ...shared,
    appSubnets: network.appSubnets,
  });
  const service = new ServiceStack(app, name('service'), {
    ...common('service'),
    config,
    vpc: network.vpc,
    appSubnets: network.appSubnets,
    securityGroups: network.securityGroups,
    database: data.database,
    cache: cache.cache,
    kafka: streaming.kafka,
  });
  const observability = new ObservabilityStack(app, name('observability'), {
    ...common('observability'),
    config,
    refs: { triageBackstopBucket: service.triageBackstop.bucketName },
  });

  const stacks: PipelineStacks = { network, data, cache, streaming, service, observability };
  for (const [part, stack] of Object.entries(stacks)) applyCostTags(stack, config, part);

  // Any unacknowledged finding fails synthesis (cdk-nag v3 is a policy validation plugin).
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stacks;
}
