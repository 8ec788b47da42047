// The one Logger, Metrics and Tracer per execution environment. Every module logs, counts and
// traces through these, so service name, namespace and level are configured in exactly one place.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { getObservabilityEnv } from './env';

type TracerModule = typeof import('@aws-lambda-powertools/tracer');

const obs = getObservabilityEnv();

export const logger = new Logger({
  serviceName: obs.serviceName,
  environment: obs.stage,
  ...(obs.logLevel !== undefined ? { logLevel: obs.logLevel } : {}),
});

export const metrics = new Metrics({
  serviceName: obs.serviceName,
  namespace: obs.metricsNamespace,
  logger,
});

// A handler invocation that records nothing (e.g. an empty poll) is normal, not an error.
metrics.setThrowOnEmptyMetrics(false);

/**
 * The Tracer, only where it can be enabled: inside Lambda (AWS_EXECUTION_ENV set, the Tracer's
 * own test). Elsewhere it would disable itself, but the X-Ray SDK under it installs a
 * process-wide async hook when loaded, which made promise-heavy code about 10x slower in a
 * micro-benchmark: local runs, tests and the bench do not load it at all.
 */
function lambdaTracer(): Tracer | undefined {
  if (!process.env.AWS_EXECUTION_ENV) return undefined;
  // require, not import: an import would load the X-Ray SDK in every process.
  const powertools = require('@aws-lambda-powertools/tracer') as TracerModule;
  return new powertools.Tracer({ serviceName: obs.serviceName });
}

export const tracer = lambdaTracer();
