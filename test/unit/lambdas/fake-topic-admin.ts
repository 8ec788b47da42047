// In-memory stand-in for the kafkajs admin calls ensure-topics makes. Unit tests only; the
// real broker is exercised by integration tests.
import type { DescribeConfigResponse, ITopicConfig } from 'kafkajs';
import type { TopicAdmin } from '../../../lambdas/kafka-topics/ensure-topics';

export interface FakeTopic {
  partitions: number;
  replicationFactor: number;
  overrides: Record<string, string>;
}

export class FakeTopicAdmin implements TopicAdmin {
  readonly topics = new Map<string, FakeTopic>();
  readonly calls: string[] = [];
  connected = false;

  constructor(initial: Record<string, FakeTopic> = {}) {
    for (const [name, t] of Object.entries(initial)) this.topics.set(name, structuredClone(t));
  }

  async connect(): Promise<void> {
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    this.connected = false;
  }

  async listTopics(): Promise<string[]> {
    this.calls.push('listTopics');
    return [...this.topics.keys(), '__consumer_offsets'];
  }

  async fetchTopicMetadata(options?: { topics: string[] }) {
    this.calls.push('fetchTopicMetadata');
    const names = options?.topics ?? [...this.topics.keys()];
    return {
      topics: names.map((name) => {
        const t = this.get(name);
        return {
          name,
          partitions: Array.from({ length: t.partitions }, (_, partitionId) => ({
            partitionErrorCode: 0,
            partitionId,
            leader: 1,
            replicas: Array.from({ length: t.replicationFactor }, (_, r) => r + 1),
            isr: Array.from({ length: t.replicationFactor }, (_, r) => r + 1),
            offlineReplicas: [],
          })),
        };
      }),
    };
  }

  async describeConfigs(request: {
    resources: { name: string }[];
    includeSynonyms: boolean;
  }): Promise<DescribeConfigResponse> {
    this.calls.push('describeConfigs');
    return {
      throttleTime: 0,
      resources: request.resources.map(({ name }) => {
        const overrides = this.get(name).overrides;
        const entry = (configName: string, configValue: string, configSource: number) => ({
          configName,
          configValue,
          configSource,
          isDefault: configSource !== 1,
          isSensitive: false,
          readOnly: false,
          configSynonyms: [],
        });
        return {
          errorCode: 0,
          errorMessage: '',
          resourceName: name,
          resourceType: 2,
          configEntries: [
            ...Object.entries(overrides).map(([k, v]) => entry(k, v, 1)),
            // Broker defaults must not be mistaken for topic overrides.
            ...('retention.ms' in overrides ? [] : [entry('retention.ms', '604800000', 5)]),
            entry('min.insync.replicas', '2', 4),
          ],
        };
      }),
    };
  }

  async createTopics(request: { topics: ITopicConfig[]; waitForLeaders?: boolean }) {
    this.calls.push(`createTopics:${request.topics.map((t) => t.topic).join(',')}`);
    for (const t of request.topics) {
      if (this.topics.has(t.topic)) throw new Error(`TOPIC_ALREADY_EXISTS ${t.topic}`);
      this.topics.set(t.topic, {
        partitions: t.numPartitions ?? 1,
        replicationFactor: t.replicationFactor ?? 1,
        overrides: Object.fromEntries((t.configEntries ?? []).map((e) => [e.name, e.value])),
      });
    }
    return true;
  }

  async createPartitions(request: { topicPartitions: { topic: string; count: number }[] }) {
    this.calls.push(`createPartitions:${request.topicPartitions.map((p) => p.topic).join(',')}`);
    for (const p of request.topicPartitions) {
      const t = this.get(p.topic);
      if (p.count <= t.partitions) throw new Error('INVALID_PARTITIONS');
      t.partitions = p.count;
    }
    return true;
  }

  async alterConfigs(request: {
    resources: { name: string; configEntries: { name: string; value: string }[] }[];
  }) {
    this.calls.push(`alterConfigs:${request.resources.map((r) => r.name).join(',')}`);
    for (const r of request.resources) {
      // Non-incremental AlterConfigs: the given set replaces every override.
      this.get(r.name).overrides = Object.fromEntries(
        r.configEntries.map((e) => [e.name, e.value]),
      );
    }
    return {};
  }

  private get(name: string): FakeTopic {
    const t = this.topics.get(name);
    if (t === undefined) throw new Error(`UNKNOWN_TOPIC_OR_PARTITION ${name}`);
    return t;
  }
}
