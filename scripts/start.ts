// `npm start`: the local pipeline's foundation on one machine — services up, schema migrated,
// topics created exactly as the deployment creates them (auto-creation is off on the broker).
import { ensureTopics } from '../lambdas/kafka-topics/ensure-topics';
import { runMigrationsWithNewClient } from '../lambdas/migrate/run-migrations';
import { pgClientConfig } from '../lambdas/shared/db/pool';
import { parseKafkaEnv, parseMigrationsDir, parsePgEnv } from '../lambdas/shared/env';
import { createKafka } from '../lambdas/shared/kafka/client';
import { logger } from '../lambdas/shared/powertools';
import { loadStageConfig } from '../lib/config/stage-config';
import { topicSpecs } from '../lib/config/topics';
import { endpointsEnv, ensureServices } from './services';

async function main(): Promise<void> {
  const config = loadStageConfig('dev');
  const endpoints = await ensureServices();
  const env = { ...process.env, ...endpointsEnv(endpoints) };

  const pgEnv = parsePgEnv(env);
  const migrated = await runMigrationsWithNewClient(
    pgClientConfig(pgEnv, { applicationName: 'npm-start' }),
    { dir: parseMigrationsDir(env), logger },
  );

  const kafka = createKafka({ clientId: 'npm-start', connection: parseKafkaEnv(env), logger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // One local broker holds one replica; partitions and configs are the stage's own.
    await ensureTopics(admin, topicSpecs(config, 1), { logger });
  } finally {
    await admin.disconnect();
  }

  const lines = [
    'Local pipeline foundation is up:',
    `  Kafka       ${endpoints.kafka.brokers.join(',')} (Apache Kafka ${config.kafka.localBrokerVersion}, KRaft)`,
    `  PostgreSQL  ${pgEnv.host}:${pgEnv.port}/${pgEnv.database} (migrations applied: ${migrated.migrations.length})`,
    `  Redis       ${endpoints.redis.host}:${endpoints.redis.port}`,
    `  Topics      ${topicSpecs(config, 1)
      .map((t) => `${t.name} (${t.partitions} partitions)`)
      .join(', ')}`,
    'Stop the broker with: npm run services -- down',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
