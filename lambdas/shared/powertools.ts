// The one Logger and Metrics pair per execution environment. Every module logs and counts
// through these, so service name, namespace and level are configured in exactly one place.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { getObservabilityEnv } from './env';

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
