// Per-drill isolation on whatever services a drill uses (shared or private): a fresh database
// with the project's migrations, fresh topics and consumer-group suffixes, all with unique
// names, removed again at the end.
import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { runMigrationsWithNewClient } from '../../lambdas/migrate/run-migrations';
import { pgClientConfig } from '../../lambdas/shared/db/pool';
import type { KafkaEnv, PgEnv } from '../../lambdas/shared/env';
import { repoMigrationsDir } from '../../lambdas/shared/env';
import { createKafka } from '../../lambdas/shared/kafka/client';
import type { LogSink } from '../../lambdas/shared/log-sink';
import type { StageConfig } from '../../lib/config/stage-config';
import type { PipelineTopics } from '../local/pipeline';

export const quietLogger: LogSink = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

export interface DrillDatabase {
  readonly env: PgEnv;
  /** PG* variables of this database, for child processes. */
  readonly envVars: Record<string, string>;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

/** Short unique suffix for names (database names: lower case, digits and underscores). */
export function uniqueSuffix(): string {
  return randomUUID().replaceAll('-', '').slice(0, 10);
}

export async function createDrillDatabase(base: PgEnv, prefix: string): Promise<DrillDatabase> {
  const name = `drill_${prefix}_${uniqueSuffix()}`;
  const admin = new pg.Client(pgClientConfig(base));
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const env: PgEnv = { ...base, database: name, poolMax: 10 };
  await runMigrationsWithNewClient(pgClientConfig(env), {
    dir: repoMigrationsDir(),
    logger: quietLogger,
  });
  const pool = new pg.Pool({ ...pgClientConfig(env), max: 5 });
  // Idle clients die when a drill restarts PostgreSQL; the pool replaces them on next use.
  pool.on('error', () => undefined);
  return {
    env,
    envVars: {
      PGHOST: env.host,
      PGPORT: String(env.port),
      PGDATABASE: env.database,
      PGUSER: env.user,
    },
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const c = new pg.Client(pgClientConfig(base));
      c.on('error', () => undefined);
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface DrillTopics {
  readonly topics: PipelineTopics;
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
    triageFailures: `drill-${prefix}-triage-failures-${suffix}`,
  };
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
        },
        {
          topic: topics.deadLetter,
          numPartitions: config.kafka.topics.deadLetter.partitions,
          replicationFactor: 1,
        },
        { topic: topics.triageFailures, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  } finally {
    await admin.disconnect();
  }
  const groupSuffix = `-drill-${suffix}`;
  return {
    topics,
    groupSuffix,
    async drop() {
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
