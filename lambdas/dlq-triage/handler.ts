// Lambda adapter for the triage mapping on the dead-letter topic. `createTriageHandler` is the
// handler itself over a runtime factory: Lambda runs it with the production runtime; local runs
// run the same function with their own pool, telemetry and logger.
import type { Context, MSKEvent } from 'aws-lambda';
import { getPool } from '../shared/db/pool';
import { type FunctionEnv, getFunctionEnv, isDeployed } from '../shared/env';
import type { LogSink } from '../shared/log-sink';
import { perEnvironment } from '../shared/per-environment';
import { logger as defaultLogger, metrics, tracer } from '../shared/powertools';
import { captureLambdaHandler } from '../shared/tracing/lambda-handler';
import { createTriageRuntime, type TriageRuntime } from './runtime';
import { type BatchResponse, triageBatch } from './triage';

export type TriageHandler = (event: MSKEvent, context: Context) => Promise<BatchResponse>;

export interface TriageHandlerOptions {
  /** Builds the runtime once per execution environment; a failed set-up is retried next time. */
  readonly runtime: () => Promise<TriageRuntime>;
  readonly logger?: LogSink;
  readonly flushMetrics?: () => void;
}

export function createTriageHandler(options: TriageHandlerOptions): TriageHandler {
  const logger = options.logger ?? defaultLogger;
  const flush = options.flushMetrics ?? (() => metrics.publishStoredMetrics());
  const runtime = perEnvironment(options.runtime);
  return async (event, context) => {
    try {
      const rt = await runtime();
      const summary = await triageBatch(
        event,
        { ...rt.deps, remainingMs: () => context.getRemainingTimeInMillis() },
        rt.options,
      );
      logger.info('triage batch done', {
        received: summary.received,
        redriven: summary.redriven,
        parked: summary.parked,
        alreadyParked: summary.alreadyParked,
        failed: summary.batchItemFailures.length,
      });
      return { batchItemFailures: summary.batchItemFailures };
    } finally {
      flush();
    }
  };
}

/** The production runtime: a small pool behind RDS Proxy, the function's environment. */
export function triageRuntimeFromEnv(env: FunctionEnv<'dlqTriage'>): Promise<TriageRuntime> {
  return createTriageRuntime({
    // The execution environment's pool, from the same PG* variables.
    pool: getPool(),
    kafkaEnv: env.kafka,
    triageEnv: env.triage,
    logger: defaultLogger,
  });
}

// Deployed, parsed at module load: a missing variable fails the cold start, naming it. Local
// processes import this module for its handler factory and bring their own settings (none has
// a local default), so they parse nothing here.
if (isDeployed(process.env)) getFunctionEnv('dlqTriage');

export const handler = captureLambdaHandler(
  tracer,
  createTriageHandler({
    runtime: () => triageRuntimeFromEnv(getFunctionEnv('dlqTriage')),
  }),
);
