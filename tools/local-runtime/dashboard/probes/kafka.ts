// MSK analogues from the local broker through the kafkajs admin API: SumOffsetLag for the
// consumer group and topic named in the signal's dimensions, and KafkaDataLogsDiskUsed per
// broker (used share of the filesystem holding the broker's log.dirs).
import type { Admin, ConfigResourceTypes } from 'kafkajs';
import { logLevel } from 'kafkajs';
import type { KafkaEnv } from '../../../../lambdas/shared/env';
import { createKafka } from '../../../../lambdas/shared/kafka/client';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import type { MetricIdentity } from '../store';
import { filesystemUsage } from './fs';
import { type Gauge, type GaugeGroup, isLoopback, NoLocalAnalogue } from './types';

// kafkajs' ConfigResourceTypes.BROKER; the enum is not a named export when kafkajs loads as ESM.
const BROKER_RESOURCE = 4 as ConfigResourceTypes;

export interface PartitionOffsets {
  readonly partition: number;
  readonly high: string;
  readonly low: string;
}

/**
 * Messages not yet committed by the group, summed over partitions. A partition the group never
 * committed counts from its earliest retained offset (the consumers' `earliest` reset).
 */
export function sumOffsetLag(
  topicOffsets: readonly PartitionOffsets[],
  committed: ReadonlyMap<number, string>,
): number {
  let lag = 0;
  for (const p of topicOffsets) {
    const high = Number(p.high);
    const c = Number(committed.get(p.partition) ?? '-1');
    const from = c >= 0 ? c : Number(p.low);
    lag += Math.max(0, high - from);
  }
  return lag;
}

export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [topicOffsets, groupOffsets] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const committed = new Map<number, string>();
  for (const t of groupOffsets) {
    if (t.topic !== topic) continue;
    for (const p of t.partitions) committed.set(p.partition, p.offset);
  }
  return sumOffsetLag(topicOffsets, committed);
}

/** The broker's log directories as it reports them (log.dirs, else log.dir). */
export async function brokerLogDirs(admin: Admin, brokerId: number): Promise<string[]> {
  const described = await admin.describeConfigs({
    resources: [
      { type: BROKER_RESOURCE, name: String(brokerId), configNames: ['log.dirs', 'log.dir'] },
    ],
    includeSynonyms: false,
  });
  const entries = described.resources[0]?.configEntries ?? [];
  const value =
    entries.find((e) => e.configName === 'log.dirs')?.configValue ||
    entries.find((e) => e.configName === 'log.dir')?.configValue;
  const dirs = (value ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  if (dirs.length === 0) throw new Error(`broker ${brokerId} reports no log.dirs`);
  return dirs;
}

export interface KafkaGaugeOptions {
  readonly kafkaEnv: KafkaEnv;
  readonly logger: LogSink;
  /** SumOffsetLag metrics; each names its `Consumer Group` and `Topic`. */
  readonly lag: readonly MetricIdentity[];
  /** KafkaDataLogsDiskUsed metrics; each names its `Broker ID`. */
  readonly disk: readonly MetricIdentity[];
}

export function kafkaGauges(options: KafkaGaugeOptions): GaugeGroup {
  const kafka = createKafka({
    clientId: 'local-dashboard',
    connection: options.kafkaEnv,
    logger: options.logger,
    // Failures surface once per gauge through the runner; kafkajs' own retries log every try.
    overrides: { logLevel: logLevel.NOTHING, retry: { retries: 1 } },
  });
  const admin = kafka.admin();
  let connected: Promise<Admin> | undefined;
  const ready = (): Promise<Admin> => {
    connected ??= admin.connect().then(
      () => admin,
      (error: unknown) => {
        connected = undefined;
        throw error;
      },
    );
    return connected;
  };

  const lagGauges = options.lag.map((metric): Gauge => {
    const group = metric.dimensions['Consumer Group'];
    const topic = metric.dimensions.Topic;
    return {
      metric,
      source: `kafkajs admin: committed offsets of group ${group} vs end offsets of ${topic}`,
      read: async () => {
        if (group === undefined || topic === undefined) {
          throw new Error('SumOffsetLag metric without Consumer Group and Topic dimensions');
        }
        return consumerLag(await ready(), group, topic);
      },
    };
  });

  const diskGauges = options.disk.map((metric): Gauge => {
    const brokerId = Number(metric.dimensions['Broker ID']);
    return {
      metric,
      source: `used share of the filesystem holding broker ${brokerId}'s log.dirs`,
      read: async () => {
        const a = await ready();
        const { brokers } = await a.describeCluster();
        const broker = brokers.find((b) => b.nodeId === brokerId);
        if (broker === undefined) {
          throw new NoLocalAnalogue(
            `the local cluster has no broker ${brokerId} (brokers: ${brokers.map((b) => b.nodeId).join(', ')})`,
          );
        }
        if (!isLoopback(broker.host)) {
          throw new Error(`broker ${brokerId} runs on ${broker.host}; its disk is out of reach`);
        }
        const dirs = await brokerLogDirs(a, brokerId);
        const usage = await Promise.all(dirs.map(filesystemUsage));
        return Math.max(...usage.map((u) => u.usedPercent));
      },
    };
  });

  return {
    gauges: [...lagGauges, ...diskGauges],
    async close() {
      const pending = connected;
      connected = undefined;
      if (pending !== undefined) {
        await pending.catch(() => undefined);
        await admin.disconnect();
      }
    },
  };
}
