// Metric names and dimensions the Lambda code emits (EMF) and the alarms read.
// One list, imported by both sides, so a rename cannot silently orphan an alarm.

export const SERVICES = {
  orderApi: 'order-api',
  outboxRelay: 'outbox-relay',
  orderConsumer: 'order-consumer',
  dlqTriage: 'dlq-triage',
  migrate: 'migrate',
  kafkaTopics: 'kafka-topics',
} as const;
export type ServiceName = (typeof SERVICES)[keyof typeof SERVICES];

/** Every metric is emitted with the single dimension `service` (Powertools' default). */
export const METRIC_DIMENSION = 'service';

export const METRICS = {
  /** order-api: commands accepted (202) and rejected (4xx). */
  orderRequestsAccepted: 'OrderRequestsAccepted',
  orderRequestsRejected: 'OrderRequestsRejected',
  /** outbox-relay: rows acknowledged by the broker and marked published. */
  eventsPublished: 'EventsPublished',
  publishBatchSize: 'PublishBatchSize',
  publishDuration: 'PublishDuration',
  /** outbox-relay: age of the oldest unpublished outbox row, emitted every poll (0 when empty). */
  outboxOldestPendingAge: 'OutboxOldestPendingAge',
  /** outbox-relay: rows set aside because the broker refuses them for good (too large, invalid). */
  eventsSetAside: 'EventsSetAside',
  /** outbox-relay: rows set aside now, waiting for an operator, emitted every poll (0 when none). */
  outboxSetAsideRows: 'OutboxSetAsideRows',
  /** order-consumer */
  eventsProcessed: 'EventsProcessed',
  eventsFailed: 'EventsFailed',
  eventProcessingDuration: 'EventProcessingDuration',
  duplicatesSkipped: 'DuplicatesSkipped',
  endToEndLatency: 'EndToEndLatency',
  deadLettered: 'DeadLettered',
  /** order-consumer: records decided by PostgreSQL alone because the Redis gate could not answer. */
  idempotencyCacheBypassed: 'IdempotencyCacheBypassed',
  /** order-consumer: time partitions spent waiting for an unavailable dependency. */
  dependencyOutageWait: 'DependencyOutageWait',
  /** dlq-triage: every message read from the dead-letter topic, whoever wrote it. */
  deadLetterReceived: 'DeadLetterReceived',
  redriven: 'Redriven',
  parked: 'Parked',
  /** any service with a breaker: a transition to OPEN. */
  circuitBreakerOpened: 'CircuitBreakerOpened',
  circuitBreakerStateChange: 'CircuitBreakerStateChange',
} as const;
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/**
 * Where a function's telemetry puts one data point: Powertools EMF on Lambda, the local
 * dashboard's store in `npm start`. Each function maps its events onto metrics once, over this.
 */
export type MetricEmitter = (
  name: MetricName,
  unit: 'Count' | 'Milliseconds',
  value: number,
) => void;
