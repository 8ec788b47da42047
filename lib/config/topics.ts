import type { TopicSpec } from '../../lambdas/kafka-topics/ensure-topics';
import type { StageConfig, TopicConfig } from './stage-config';

/** The topics the deployment (and the local run) creates; auto-creation is off everywhere. */
export function topicSpecs(config: StageConfig, replicationFactorCap?: number): TopicSpec[] {
  const spec = (t: TopicConfig): TopicSpec => {
    // A single local broker cannot hold more replicas than one; MSK gets the configured RF.
    const replicationFactor = Math.min(
      t.replicationFactor,
      replicationFactorCap ?? Number.POSITIVE_INFINITY,
    );
    return {
      name: t.name,
      partitions: t.partitions,
      replicationFactor,
      configs: {
        'min.insync.replicas': String(Math.min(t.minInsyncReplicas, replicationFactor)),
        'retention.ms': String(t.retentionHours * 3_600_000),
        'cleanup.policy': 'delete',
      },
    };
  };
  return [spec(config.kafka.topics.orderEvents), spec(config.kafka.topics.deadLetter)];
}
