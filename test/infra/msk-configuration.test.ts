import { describe, expect, it } from 'vitest';
import {
  loadStageConfig,
  type StageConfig,
  type StageName,
  validateStageConfig,
} from '../../lib/config/stage-config';
import { serverProperties } from '../../lib/stacks/streaming-stack';
import { props, type SynthesizedPipeline, synthPipeline } from './synth';

type Json = Record<string, unknown>;

const cache = new Map<string, SynthesizedPipeline>();
function synth(stage: StageName): SynthesizedPipeline {
  let p = cache.get(stage);
  if (!p) {
    p = synthPipeline(stage);
    cache.set(stage, p);
  }
  return p;
}

/** The streaming stack's resources of one type: `[logicalId, properties]`. */
function ofType(p: SynthesizedPipeline, type: string): Array<[string, Json]> {
  const resources = (p.templates.streaming.toJSON().Resources ?? {}) as Record<string, Json>;
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, props(r)]);
}

function only(p: SynthesizedPipeline, type: string): [string, Json] {
  const all = ofType(p, type);
  expect(all, type).toHaveLength(1);
  return all[0] as [string, Json];
}

// Every stage runs a provisioned cluster (AWS::MSK::Cluster; no stage uses MSK Serverless,
// which takes no custom configuration). The configuration exists where
// features.mskConfiguration is on: dev and prod, not localstack.
describe.each(['dev', 'prod'] as const)('MSK configuration revision (%s)', (stage) => {
  it('points the cluster at the GetAtt of its configuration’s LatestRevision.Revision, not a literal', () => {
    const p = synth(stage);
    const [configId, configuration] = only(p, 'AWS::MSK::Configuration');
    const [, cluster] = only(p, 'AWS::MSK::Cluster');
    expect(configuration.ServerProperties).toBe(serverProperties(p.config));
    expect(cluster.ConfigurationInfo).toEqual({
      Arn: { 'Fn::GetAtt': [configId, 'Arn'] },
      Revision: { 'Fn::GetAtt': [configId, 'LatestRevision.Revision'] },
    });
    expect(typeof (cluster.ConfigurationInfo as Json).Revision).not.toBe('number');
  });
});

describe('MSK configuration revision (localstack)', () => {
  it('has no configuration and no ConfigurationInfo where features.mskConfiguration is off', () => {
    const p = synth('localstack');
    expect(p.config.features.mskConfiguration).toBe(false);
    expect(ofType(p, 'AWS::MSK::Configuration')).toEqual([]);
    const [, cluster] = only(p, 'AWS::MSK::Cluster');
    expect(cluster.ConfigurationInfo).toBeUndefined();
  });
});

describe('a changed broker setting', () => {
  it('changes the configuration’s ServerProperties in place, and through the GetAtt the revision the cluster uses', () => {
    const before = synth('dev');
    const base = loadStageConfig('dev');
    const changed: StageConfig = {
      ...base,
      kafka: { ...base.kafka, minInsyncReplicas: base.kafka.minInsyncReplicas + 1 },
    };
    validateStageConfig(changed);
    const after = synthPipeline('dev', { config: changed });

    const [idBefore, configBefore] = only(before, 'AWS::MSK::Configuration');
    const [idAfter, configAfter] = only(after, 'AWS::MSK::Configuration');
    // The same resource with the same create-only properties (Name, KafkaVersionsList): an
    // update in place, which MSK records as a new revision of the same configuration ARN.
    expect(idAfter).toBe(idBefore);
    expect(configAfter.Name).toEqual(configBefore.Name);
    expect(configAfter.KafkaVersionsList).toEqual(configBefore.KafkaVersionsList);
    expect(configAfter.ServerProperties).not.toEqual(configBefore.ServerProperties);
    expect(String(configBefore.ServerProperties).split('\n')).toContain(
      `min.insync.replicas=${base.kafka.minInsyncReplicas}`,
    );
    expect(String(configAfter.ServerProperties).split('\n')).toContain(
      `min.insync.replicas=${changed.kafka.minInsyncReplicas}`,
    );

    // The cluster's template is unchanged: its revision is the configuration's new
    // LatestRevision.Revision, which CloudFormation resolves once the configuration is updated
    // and then applies to the cluster. A literal here would leave it on the old revision.
    const [, clusterBefore] = only(before, 'AWS::MSK::Cluster');
    const [, clusterAfter] = only(after, 'AWS::MSK::Cluster');
    expect(clusterAfter).toEqual(clusterBefore);
    expect((clusterAfter.ConfigurationInfo as Json).Revision).toEqual({
      'Fn::GetAtt': [idAfter, 'LatestRevision.Revision'],
    });
  });
});
