// Builds the relay's dependencies once per execution environment (Lambda or a local process):
// the pool, the idempotent producer and the NOTIFY wake. Handler and local runner share it.
import type { Producer, ProducerRecord, RecordMetadata } from 'kafkajs';
import { createPool, pgClientConfig } from '../shared/db/pool';
import type { KafkaEnv, PgEnv, RelayEnv } from '../shared/env';
import { createKafka } from '../shared/kafka/client';
import { KAFKA_CLIENTS, producerFor } from '../shared/kafka/clients';
import type { LogSink } from '../shared/log-sink';
import { METRICS, type MetricEmitter } from '../shared/metrics-catalog';
import type { OutboxRow } from '../shared/outbox/outbox';
import { logger as defaultLogger, metrics } from '../shared/powertools';
import { NotifyWake } from './notify-wake';
import type { RelayDeps, RelayOptions, RelayTelemetry } from './relay';

export interface RelayRuntime {
  readonly deps: RelayDeps;
  readonly env: RelayEnv;
  close(): Promise<void>;
}

/** Producer settings (docs/ARCHITECTURE.md §3): acks=all on every send, idempotence, ≤5 in flight. */
export function createRelayProducer(
  kafkaEnv: KafkaEnv,
  logger: LogSink,
  relayEnv: Pick<RelayEnv, 'sendRetry' | 'kafkaClient'>,
): Producer {
  const client = KAFKA_CLIENTS.outboxRelay;
  const { sendRetry } = relayEnv;
  const kafka = createKafka({
    clientId: client.clientId,
    connection: kafkaEnv,
    client: relayEnv.kafkaClient,
    logger,
  });
  return producerFor(kafka, client, {
    // kafkajs keeps retrying an idempotent send (unbounded), backing off between tries.
    retry: {
      retries: Number.MAX_SAFE_INTEGER,
      initialRetryTime: sendRetry.baseMs,
      maxRetryTime: sendRetry.capMs,
    },
  });
}

/**
 * The relay's producer, replaceable in place: `renew` swaps in a new producer (a new producer
 * id, fresh sequence numbers) once the old one's sequence state no longer matches the broker's.
 */
export class RenewableProducer {
  private current: Producer;

  constructor(private readonly create: () => Producer) {
    this.current = create();
  }

  connect(): Promise<void> {
    return this.current.connect();
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.current.send(record);
  }

  /** Connects the new producer first: if that fails, the old one stays (and the next try renews). */
  async renew(): Promise<void> {
    const next = this.create();
    try {
      await next.connect();
    } catch (error) {
      await next.disconnect().catch(() => undefined);
      throw error;
    }
    const old = this.current;
    this.current = next;
    await old.disconnect().catch(() => undefined);
  }

  disconnect(): Promise<void> {
    return this.current.disconnect();
  }
}

/** The relay's events as metrics: the one mapping, for Lambda and local runs alike. */
export function relayTelemetry(emit: MetricEmitter, flush: () => void = () => {}): RelayTelemetry {
  return {
    published(count, durationMs) {
      emit(METRICS.eventsPublished, 'Count', count);
      emit(METRICS.publishBatchSize, 'Count', count);
      emit(METRICS.publishDuration, 'Milliseconds', durationMs);
    },
    setAside: (count) => emit(METRICS.eventsSetAside, 'Count', count),
    oldestPending: (ageMs) => emit(METRICS.outboxOldestPendingAge, 'Milliseconds', ageMs),
    setAsideNow: (count) => emit(METRICS.outboxSetAsideRows, 'Count', count),
    flush,
  };
}

export const powertoolsTelemetry: RelayTelemetry = relayTelemetry(
  (name, unit, value) => metrics.addMetric(name, unit, value),
  () => metrics.publishStoredMetrics(),
);

export async function createRelayRuntime(options: {
  readonly pgEnv: PgEnv;
  readonly kafkaEnv: KafkaEnv;
  readonly relayEnv: RelayEnv;
  readonly logger?: LogSink;
  readonly telemetry?: RelayTelemetry;
  readonly afterPublish?: (rows: readonly OutboxRow[]) => Promise<void>;
}): Promise<RelayRuntime> {
  const logger = options.logger ?? defaultLogger;
  const pool = createPool(options.pgEnv, { applicationName: 'outbox-relay' });
  const producer = new RenewableProducer(() =>
    createRelayProducer(options.kafkaEnv, logger, options.relayEnv),
  );
  const wake = new NotifyWake(
    pgClientConfig(options.pgEnv, { applicationName: 'outbox-relay-listen' }),
    logger,
  );
  try {
    await producer.connect();
    await wake.start();
  } catch (error) {
    await Promise.allSettled([producer.disconnect(), wake.close(), pool.end()]);
    throw error;
  }
  return {
    env: options.relayEnv,
    deps: {
      pool,
      producer,
      renewProducer: async () => {
        logger.warn('renewing the relay producer (new producer id)');
        await producer.renew();
      },
      wake,
      logger,
      telemetry: options.telemetry ?? powertoolsTelemetry,
      ...(options.afterPublish ? { afterPublish: options.afterPublish } : {}),
    },
    async close() {
      await Promise.allSettled([producer.disconnect(), wake.close(), pool.end()]);
    },
  };
}

export function relayOptions(
  env: RelayEnv,
  control: Pick<RelayOptions, 'shouldContinue' | 'maxWaitMs'>,
): RelayOptions {
  return {
    topic: env.topic,
    batchSize: env.batchSize,
    pollIntervalMs: env.pollIntervalMs,
    maxMessageBytes: env.maxMessageBytes,
    publishedRetentionHours: env.publishedRetentionHours,
    processedEventsRetentionHours: env.processedEventsRetentionHours,
    failureBackoff: env.failureBackoff,
    retentionEveryMs: env.retentionEveryMs,
    retentionBatch: env.retentionBatchSize,
    retentionBudgetMs: env.retentionBudgetMs,
    ...control,
  };
}
