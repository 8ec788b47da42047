// Lambda adapter for the MSK event source mapping on order-events: one runtime per execution
// environment; returns a partial batch response so only unfinished records are redelivered.
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { Context, MSKEvent } from 'aws-lambda';
import { getKafkaEnv, getPgEnv, parseConsumerEnv, parseRedisEnv } from '../shared/env';
import type { BatchResponse } from '../shared/kafka/msk-event';
import { logger, metrics } from '../shared/powertools';
import { consumeBatch } from './consumer';
import { type ConsumerRuntime, createConsumerRuntime } from './runtime';

let runtime: Promise<ConsumerRuntime> | undefined;

async function setUp(): Promise<ConsumerRuntime> {
  const redisEnv = parseRedisEnv(process.env);
  // The AUTH token comes from Secrets Manager at cold start; it is never in the environment.
  const redisPassword = redisEnv.authSecretArn
    ? await getSecret<string>(redisEnv.authSecretArn, { maxAge: 300 })
    : undefined;
  return createConsumerRuntime({
    pgEnv: getPgEnv(),
    kafkaEnv: getKafkaEnv(),
    redisEnv,
    consumerEnv: parseConsumerEnv(process.env),
    ...(redisPassword ? { redisPassword } : {}),
  });
}

export const handler = async (event: MSKEvent, context: Context): Promise<BatchResponse> => {
  runtime ??= setUp().catch((error: unknown) => {
    runtime = undefined; // retry the set-up on the next invocation
    throw error;
  });
  const rt = await runtime;
  // Lets Powertools expire an in-progress record if this invocation times out.
  rt.idempotencyConfig.registerLambdaContext(context);
  try {
    const summary = await consumeBatch(event, rt.deps, rt.options);
    logger.info('batch consumed', {
      applied: summary.applied,
      duplicates: summary.duplicates,
      deadLettered: summary.deadLettered,
      handedBack: summary.batchItemFailures.length,
    });
    return { batchItemFailures: summary.batchItemFailures };
  } finally {
    metrics.publishStoredMetrics();
  }
};
