// Lambda adapter for the triage mapping on the dead-letter topic: one runtime per execution
// environment; returns a partial batch response so that only unhandled records are retried.
import type { Context, MSKEvent } from 'aws-lambda';
import { getPool } from '../shared/db/pool';
import { getKafkaEnv } from '../shared/env';
import { logger, metrics } from '../shared/powertools';
import { getTriageEnv } from './config';
import { createTriageRuntime, type TriageRuntime } from './runtime';
import { type BatchResponse, triageBatch } from './triage';

let runtime: Promise<TriageRuntime> | undefined;

export const handler = async (event: MSKEvent, context: Context): Promise<BatchResponse> => {
  runtime ??= createTriageRuntime({
    pool: getPool(),
    kafkaEnv: getKafkaEnv(),
    triageEnv: getTriageEnv(),
    logger,
  }).catch((error: unknown) => {
    runtime = undefined; // retry the set-up on the next invocation
    throw error;
  });
  try {
    const rt = await runtime;
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
    metrics.publishStoredMetrics();
  }
};
