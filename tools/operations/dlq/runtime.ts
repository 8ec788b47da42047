// Real dependencies for the dlq actions: the pool as a DlqDb, a kafkajs idempotent producer (connected on
// the first send, so list/show/dry runs never touch the broker), a readline prompt,
// recover's document sources (a directory, or S3 through the SDK's default credential chain)
// and the stage's topics, the only ones redrive may write.
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { toKafkaJsHeaders } from '../../../lambdas/shared/dead-letter/headers';
import type { KafkaClientEnv, KafkaEnv } from '../../../lambdas/shared/env';
import { createKafka } from '../../../lambdas/shared/kafka/client';
import { KAFKA_CLIENTS, producerFor } from '../../../lambdas/shared/kafka/clients';
import type { LogSink } from '../../../lambdas/shared/log-sink';
import { kafkaClientSettings } from '../../../lib/config/function-environment';
import { loadStageConfig } from '../../../lib/config/stage-config';
import type { DlqDb, Queryable, RedriveProducer } from './actions';
import type { RecoverSource } from './args';
import { directorySource, type OnFailureSource, s3Source } from './recover';

export function poolDb(pool: pg.Pool): DlqDb {
  const run = (client: pg.Pool | pg.PoolClient): Queryable => ({
    async query<R>(q: { text: string; values: readonly unknown[] }) {
      const result = await client.query({ text: q.text, values: [...q.values] });
      return { rows: result.rows as R[], rowCount: result.rowCount };
    },
  });
  return {
    ...run(pool),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(run(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}

export { toKafkaJsHeaders };

export interface KafkaRedriveProducer extends RedriveProducer {
  close(): Promise<void>;
}

/**
 * The operator's producer (KAFKA_CLIENTS.dlqOperator): idempotent, acks=all, ≤5 in flight.
 * `client`: the stage's client settings (MSK IAM needs more than kafkajs's own 1 s to connect).
 */
export function kafkaRedriveProducer(
  kafkaEnv: KafkaEnv,
  logger: LogSink,
  client?: KafkaClientEnv,
): KafkaRedriveProducer {
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  const connected = () => {
    connecting ??= (async () => {
      const profile = KAFKA_CLIENTS.dlqOperator;
      const p = producerFor(
        createKafka({
          clientId: profile.clientId,
          connection: kafkaEnv,
          ...(client ? { client } : {}),
          logger,
        }),
        profile,
        // Bounded, unlike the relay: an operator at a terminal should see a dead broker fail.
        { retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 } },
      );
      await p.connect();
      producer = p;
      return p;
    })();
    return connecting;
  };
  return {
    async send(record) {
      const p = await connected();
      await p.send({
        topic: record.topic,
        acks: -1,
        messages: [
          {
            key: record.key,
            value: record.value,
            headers: toKafkaJsHeaders(record.headers),
          },
        ],
      });
    },
    async close() {
      await producer?.disconnect();
    },
  };
}

/** Only kafkajs errors reach the operator; its info chatter would bury the results. */
export const stderrLogSink: LogSink = {
  error: (message, ...fields) =>
    process.stderr.write(`kafka: ${message} ${fields.length ? JSON.stringify(fields) : ''}\n`),
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

export async function promptYesNo(
  question: string,
  isYes: (a: string) => boolean,
): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return isYes(answer);
  } finally {
    rl.close();
  }
}

/**
 * The topics redrive may write: the stage's source topic (`kafka.topics.orderEvents.name`).
 * STAGE unset or `local` is the local pipeline, which runs the dev stage's config.
 */
export function stageRedriveTopics(env: Readonly<Record<string, string | undefined>>): Set<string> {
  return new Set([operatorStage(env).kafka.topics.orderEvents.name]);
}

/** The stage's Kafka client settings (`kafka.client`), for the operator's producer. */
export function stageKafkaClient(
  env: Readonly<Record<string, string | undefined>>,
): KafkaClientEnv {
  return kafkaClientSettings(operatorStage(env));
}

function operatorStage(env: Readonly<Record<string, string | undefined>>) {
  const stage =
    env.STAGE === undefined || env.STAGE === '' || env.STAGE === 'local' ? 'dev' : env.STAGE;
  return loadStageConfig(stage);
}

/**
 * Recover's documents: files under a directory, or objects under an S3 prefix. The S3 client
 * takes credentials from the SDK's default chain (environment, AWS_PROFILE / SSO, container or
 * instance role) and the region from --region, else AWS_REGION or the profile.
 */
export function openOnFailureSource(source: RecoverSource): OnFailureSource {
  if (source.kind === 'dir') return directorySource(source.path);
  const client = new S3Client(source.region === undefined ? {} : { region: source.region });
  return s3Source(client, source);
}
