// What each Kafka client of the pipeline does with the cluster: the one statement from which
// both the code's producers and the MSK IAM grants follow. A producer is built only through
// `producerFor(profile)`, and the CDK grants `kafka-cluster:*` actions from the same profile,
// so an idempotent producer always comes with `WriteDataIdempotently` (its InitProducerId is
// refused at connect() without it).
import { type Kafka, Partitioners, type Producer, type ProducerConfig } from 'kafkajs';

/** The pipeline's topics by role; their names come from the stage config. */
export type TopicRole = 'orderEvents' | 'deadLetter';

/** The event source mappings whose consumer groups a function reads through. */
export type MappingRole = 'orderConsumer' | 'dlqTriage';

export interface KafkaClientProfile {
  /** kafkajs clientId (shows in broker logs and MSK metrics). */
  readonly clientId: string;
  /** Topics read through a consumer group (the function's event source mapping). */
  readonly reads: readonly TopicRole[];
  /** The mapping whose consumer group does the reading. */
  readonly mapping?: MappingRole;
  /** Topics produced to. */
  readonly writes: readonly TopicRole[];
  /** kafkajs `idempotent: true`: needs `kafka-cluster:WriteDataIdempotently` on the cluster. */
  readonly idempotentProducer: boolean;
  /** Topics created and configured at deploy time. */
  readonly manages: readonly TopicRole[];
}

const profile = (p: Partial<KafkaClientProfile> & Pick<KafkaClientProfile, 'clientId'>) =>
  ({ reads: [], writes: [], idempotentProducer: false, manages: [], ...p }) as const;

export const KAFKA_CLIENTS = {
  outboxRelay: profile({
    clientId: 'outbox-relay',
    writes: ['orderEvents'],
    idempotentProducer: true,
  }),
  orderConsumer: profile({
    clientId: 'order-consumer',
    reads: ['orderEvents'],
    mapping: 'orderConsumer',
    // Dead letters it classifies itself; the mapping's Kafka on-failure destination too.
    writes: ['deadLetter'],
    idempotentProducer: true,
  }),
  dlqTriage: profile({
    clientId: 'dlq-triage',
    reads: ['deadLetter'],
    mapping: 'dlqTriage',
    writes: ['orderEvents'],
    idempotentProducer: true,
  }),
  kafkaTopics: profile({ clientId: 'kafka-topics', manages: ['orderEvents', 'deadLetter'] }),
  /** A person running `npm run dlq -- redrive` against a deployed stage (docs/OPERATIONS.md). */
  dlqOperator: profile({
    clientId: 'dlq-cli',
    writes: ['orderEvents'],
    idempotentProducer: true,
  }),
} as const satisfies Record<string, KafkaClientProfile>;

export type KafkaClientName = keyof typeof KAFKA_CLIENTS;

/**
 * The producer of a client, with its profile's idempotence. Idempotent producers keep at most
 * 5 requests in flight (ordering with idempotence); `acks` is set per send (-1, all replicas).
 */
export function producerFor(
  kafka: Pick<Kafka, 'producer'>,
  client: KafkaClientProfile,
  config: Omit<ProducerConfig, 'idempotent'> = {},
): Producer {
  if (client.writes.length === 0) {
    throw new Error(`Kafka client ${client.clientId} writes to no topic and has no producer`);
  }
  return kafka.producer({
    // Java's murmur2 partitioner (kafkajs 2's default, named so it does not warn at every cold
    // start): an order's key lands on the partition any Java client, Debezium included, picks.
    createPartitioner: Partitioners.DefaultPartitioner,
    ...config,
    idempotent: client.idempotentProducer,
    ...(client.idempotentProducer
      ? { maxInFlightRequests: Math.min(config.maxInFlightRequests ?? 5, 5) }
      : {}),
  });
}
