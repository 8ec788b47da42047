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
      configs: topicConfigs(t, replicationFactor),
    };
  };
  return [spec(config.kafka.topics.orderEvents), spec(config.kafka.topics.deadLetter)];
}

/** Topic-level settings the broker must apply (retention, size limit, in-sync replicas). */
export function topicConfigs(t: TopicConfig, replicationFactor: number): Record<string, string> {
  return {
    'min.insync.replicas': String(Math.min(t.minInsyncReplicas, replicationFactor)),
    'retention.ms': String(t.retentionHours * 3_600_000),
    'cleanup.policy': 'delete',
    'max.message.bytes': String(t.maxMessageBytes),
  };
}

/** The same settings as kafkajs `configEntries`, for topics created on one local broker. */
export function topicConfigEntries(t: TopicConfig): { name: string; value: string }[] {
  return Object.entries(topicConfigs(t, 1)).map(([name, value]) => ({ name, value }));
}
