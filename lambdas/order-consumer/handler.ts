// Lambda adapter for the MSK event source mapping on order-events. `createConsumerHandler` is
// the handler itself, built over a runtime factory: Lambda runs it with the production runtime
// below; `npm start`, the bench and the drills run the same function with local dependencies.
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { Context, MSKEvent } from 'aws-lambda';
import { type FunctionEnv, getFunctionEnv, isDeployed } from '../shared/env';
import type { BatchResponse } from '../shared/kafka/msk-event';
import type { LogSink } from '../shared/log-sink';
import { perEnvironment } from '../shared/per-environment';
import { logger as defaultLogger, metrics, tracer } from '../shared/powertools';
import { captureLambdaHandler } from '../shared/tracing/lambda-handler';
import { consumeBatch, type EventTracing } from './consumer';
import { xrayEventTracing } from './event-tracing';
import { type ConsumerRuntime, createConsumerRuntime } from './runtime';

export type ConsumerHandler = (event: MSKEvent, context: Context) => Promise<BatchResponse>;

export interface ConsumerHandlerOptions {
  /** Builds the runtime once per execution environment; a failed set-up is retried next time. */
  readonly runtime: () => Promise<ConsumerRuntime>;
  readonly logger?: LogSink;
  /** Publishes the invocation's metrics (Powertools EMF on Lambda). */
  readonly flushMetrics?: () => void;
  /** Per-event spans (X-Ray subsegments on Lambda); none locally. */
  readonly tracing?: EventTracing;
}

export function createConsumerHandler(options: ConsumerHandlerOptions): ConsumerHandler {
  const logger = options.logger ?? defaultLogger;
  const flush = options.flushMetrics ?? (() => metrics.publishStoredMetrics());
  const runtime = perEnvironment(options.runtime);
  return async (event, context) => {
    try {
      const rt = await runtime();
      // Lets Powertools expire an in-progress record if this invocation times out.
      rt.idempotencyConfig.registerLambdaContext(context);
      const deps = options.tracing ? { ...rt.deps, tracing: options.tracing } : rt.deps;
      const summary = await consumeBatch(event, deps, rt.options, {
        remainingMs: () => context.getRemainingTimeInMillis(),
      });
      logger.info('batch consumed', {
        applied: summary.applied,
        duplicates: summary.duplicates,
        deadLettered: summary.deadLettered,
        handedBack: summary.batchItemFailures.length,
      });
      return { batchItemFailures: summary.batchItemFailures };
    } finally {
      flush();
    }
  };
}

/** The production runtime: the function's environment, the AUTH token from Secrets Manager. */
export async function consumerRuntimeFromEnv(
  env: FunctionEnv<'orderConsumer'>,
): Promise<ConsumerRuntime> {
  // Fetched at cold start; the token is never in the environment.
  const redisPassword = env.redis.authSecretArn
    ? await getSecret<string>(env.redis.authSecretArn, {
        maxAge: env.consumer.redisClient.authSecretMaxAgeSeconds,
      })
    : undefined;
  return createConsumerRuntime({
    pgEnv: env.pg,
    kafkaEnv: env.kafka,
    redisEnv: env.redis,
    consumerEnv: env.consumer,
    ...(redisPassword ? { redisPassword } : {}),
  });
}

// Deployed, parsed at module load: a missing variable fails the cold start, naming it. Local
// processes import this module for its handler factory and bring their own settings (none has
// a local default), so they parse nothing here.
if (isDeployed(process.env)) getFunctionEnv('orderConsumer');

export const handler = captureLambdaHandler(
  tracer,
  createConsumerHandler({
    runtime: () => consumerRuntimeFromEnv(getFunctionEnv('orderConsumer')),
    ...(tracer ? { tracing: xrayEventTracing(() => tracer?.getSegment()) } : {}),
  }),
);
