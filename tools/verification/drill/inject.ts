// Writes records straight onto a topic, past the outbox: what a misbehaving producer does.
import type { KafkaEnv } from '../../../lambdas/shared/env';
import { createKafka } from '../../../lambdas/shared/kafka/client';
import { DRILL_INPUT_HEADER } from './inputs';
import { quietLogger } from './setup';

export interface InjectedRecord {
  /** The input id, sent in the DRILL_INPUT_HEADER header. */
  readonly id: string;
  readonly key: string | null;
  /** null is a tombstone. */
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Sends the records in order (one acks=all batch per `chunk`), idempotent producer. */
export async function injectRecords(
  kafkaEnv: KafkaEnv,
  topic: string,
  records: readonly InjectedRecord[],
  chunk = 500,
): Promise<void> {
  const producer = createKafka({
    clientId: 'drill-injector',
    connection: kafkaEnv,
    logger: quietLogger,
  }).producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += chunk) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + chunk).map((r) => ({
          key: r.key,
          value: r.value,
          headers: { ...r.headers, [DRILL_INPUT_HEADER]: r.id },
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}
