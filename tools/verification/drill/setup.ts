// Per-drill isolation on whatever services a drill uses (shared or private): a fresh database
// with the project's migrations, fresh topics and consumer-group suffixes, all with unique
// names, removed again at the end.
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import type { KafkaEnv, PgEndpointEnv } from '../../../lambdas/shared/env';
import { createKafka } from '../../../lambdas/shared/kafka/client';
import type { LogSink } from '../../../lambdas/shared/log-sink';
import type { StageConfig } from '../../../lib/config/stage-config';
import { topicConfigEntries } from '../../../lib/config/topics';
import type { PipelineTopics } from '../../local-runtime/pipeline';
import {
  createScratchDatabase,
  type ScratchDatabase,
} from '../../local-runtime/services/scratch-database';

export const quietLogger: LogSink = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

export type DrillDatabase = ScratchDatabase;

/** Short unique suffix for names (database names: lower case, digits and underscores). */
export function uniqueSuffix(): string {
  return randomUUID().replaceAll('-', '').slice(0, 10);
}

export function createDrillDatabase(base: PgEndpointEnv, prefix: string): Promise<DrillDatabase> {
  return createScratchDatabase(base, `drill_${prefix}_${uniqueSuffix()}`, { poolMax: 10 });
}

export interface DrillTopics {
  readonly topics: PipelineTopics;
  /** This drill's stand-in for the triage mapping's S3 backstop. */
  readonly backstopDirectory: string;
  /** Appended to the stage's consumer group ids. */
  readonly groupSuffix: string;
  drop(): Promise<void>;
}

export function drillAdmin(kafkaEnv: KafkaEnv): Admin {
  return createKafka({
    clientId: 'drill-admin',
    connection: kafkaEnv,
    logger: quietLogger,
  }).admin();
}

/** The stage's topics under unique names, with the stage's partition counts. */
export async function createDrillTopics(
  kafkaEnv: KafkaEnv,
  config: StageConfig,
  prefix: string,
): Promise<DrillTopics> {
  const suffix = uniqueSuffix();
  const topics: PipelineTopics = {
    orderEvents: `drill-${prefix}-events-${suffix}`,
    deadLetter: `drill-${prefix}-dlq-${suffix}`,
  };
  const backstopDirectory = path.join(os.tmpdir(), `drill-${prefix}-backstop-${suffix}`);
  const admin = drillAdmin(kafkaEnv);
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: topics.orderEvents,
          numPartitions: config.kafka.topics.orderEvents.partitions,
          replicationFactor: 1,
          configEntries: topicConfigEntries(config.kafka.topics.orderEvents),
        },
        {
          topic: topics.deadLetter,
          numPartitions: config.kafka.topics.deadLetter.partitions,
          replicationFactor: 1,
          configEntries: topicConfigEntries(config.kafka.topics.deadLetter),
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
  const groupSuffix = `-drill-${suffix}`;
  return {
    topics,
    backstopDirectory,
    groupSuffix,
    async drop() {
      await rm(backstopDirectory, { recursive: true, force: true });
      const a = drillAdmin(kafkaEnv);
      await a.connect();
      try {
        const groups = (await a.listGroups()).groups
          .map((g) => g.groupId)
          .filter((g) => g.includes(suffix));
        if (groups.length > 0) await a.deleteGroups(groups).catch(() => undefined);
        await a.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
      } finally {
        await a.disconnect();
      }
    },
  };
}
