// Builds triage's dependencies once per execution environment: the pool, a connected
// idempotent producer and one circuit breaker per dependency. Handler and tests share it.
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import type { KafkaEnv, TriageEnv } from '../shared/env';
import { createKafka, producerRetry } from '../shared/kafka/client';
import { KAFKA_CLIENTS, producerFor } from '../shared/kafka/clients';
import type { LogSink } from '../shared/log-sink';
import { METRICS, type MetricEmitter } from '../shared/metrics-catalog';
import { metrics } from '../shared/powertools';
import {
  type BreakerMetricsSink,
  breakers,
  breakerTelemetry,
} from '../shared/resilience/circuit-breaker';
import type { TriageDeps, TriageOptions, TriageTelemetry } from './triage';

/**
 * The pipeline's producer settings, with bounded retries (the stage config's
 * `triage.producerRetry`): a send must end within the invocation.
 */
export function createTriageProducer(
  kafkaEnv: KafkaEnv,
  triageEnv: Pick<TriageEnv, 'kafkaClient' | 'producerRetry'>,
  logger: LogSink,
): Producer {
  const client = KAFKA_CLIENTS.dlqTriage;
  const kafka = createKafka({
    clientId: client.clientId,
    connection: kafkaEnv,
    client: triageEnv.kafkaClient,
    logger,
  });
  return producerFor(kafka, client, { retry: producerRetry(triageEnv.producerRetry) });
}

/** Triage's events as metrics: the one mapping, for Lambda and local runs alike. */
export function triageTelemetry(emit: MetricEmitter): TriageTelemetry {
  return {
    received: () => emit(METRICS.deadLetterReceived, 'Count', 1),
    redriven: () => emit(METRICS.redriven, 'Count', 1),
    // Single `service` dimension; the error type is on triage's "dead letter parked" log line.
    parked: () => emit(METRICS.parked, 'Count', 1),
  };
}

export function powertoolsTriageTelemetry(): TriageTelemetry {
  return triageTelemetry((name, unit, value) => metrics.addMetric(name, unit, value));
}

export function triageOptions(env: TriageEnv): TriageOptions {
  return {
    maxRedrives: env.maxRedrives,
    maxProcessingFailureRedrives: env.maxProcessingFailureRedrives,
    baseDelayMs: env.redriveBaseDelayMs,
    maxDelayMs: env.redriveMaxDelayMs,
    jitterRatio: env.redriveJitterPercent / 100,
    redriveTopics: env.redriveTopics,
    stopBeforeTimeoutMs: env.stopBeforeTimeoutMs,
    maxRedriveBytes: env.redriveMaxMessageBytes,
    outageWait: env.outageWait,
    outageLogEvery: env.outageLogEvery,
  };
}

export interface TriageRuntime {
  /** Everything but the per-invocation clock. */
  readonly deps: Omit<TriageDeps, 'remainingMs'>;
  readonly options: TriageOptions;
  close(): Promise<void>;
}

export async function createTriageRuntime(options: {
  readonly pool: pg.Pool;
  readonly kafkaEnv: KafkaEnv;
  readonly triageEnv: TriageEnv;
  readonly logger: LogSink;
  readonly telemetry?: TriageTelemetry;
  readonly breakerMetrics?: BreakerMetricsSink;
  readonly now?: () => number;
}): Promise<TriageRuntime> {
  const producer = createTriageProducer(options.kafkaEnv, options.triageEnv, options.logger);
  await producer.connect();
  const now = options.now ?? Date.now;
  return {
    deps: {
      db: options.pool,
      producer,
      breakers: breakers(['postgres', 'kafka'], {
        ...options.triageEnv.breaker,
        now,
        onStateChange: breakerTelemetry(options.logger, options.breakerMetrics ?? metrics),
      }),
      logger: options.logger,
      telemetry: options.telemetry ?? powertoolsTriageTelemetry(),
      now,
    },
    options: triageOptions(options.triageEnv),
    async close() {
      await producer.disconnect();
    },
  };
}
