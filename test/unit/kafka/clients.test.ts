// The Kafka client profiles: producers get their profile's idempotence, so the code cannot run
// an idempotent producer that the IAM grants (derived from the same profile) do not cover.
import type { ProducerConfig } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  KAFKA_CLIENTS,
  type KafkaClientProfile,
  producerFor,
} from '../../../lambdas/shared/kafka/clients';

function recordingKafka() {
  const configs: ProducerConfig[] = [];
  return {
    configs,
    kafka: {
      producer: (config?: ProducerConfig) => {
        configs.push(config ?? {});
        return {} as never;
      },
    },
  };
}

describe('producerFor', () => {
  it.each(
    Object.entries(KAFKA_CLIENTS).filter(([, p]) => p.writes.length > 0) as Array<
      [string, KafkaClientProfile]
    >,
  )('%s: idempotence is exactly the profile’s', (_name, profile) => {
    const { kafka, configs } = recordingKafka();
    producerFor(kafka, profile, { maxInFlightRequests: 50, retry: { retries: 3 } });
    expect(configs[0]?.idempotent).toBe(profile.idempotentProducer);
    if (profile.idempotentProducer) expect(configs[0]?.maxInFlightRequests).toBe(5);
    expect(configs[0]?.retry).toEqual({ retries: 3 });
  });

  it('refuses a producer to a client that writes nowhere', () => {
    const { kafka } = recordingKafka();
    expect(() => producerFor(kafka, KAFKA_CLIENTS.kafkaTopics)).toThrow(/writes to no topic/);
  });

  it('every client that produces in the pipeline is idempotent (per-order order with retries)', () => {
    const producers = Object.values(KAFKA_CLIENTS).filter((p) => p.writes.length > 0);
    expect(producers.map((p) => p.clientId).sort()).toEqual([
      'dlq-cli',
      'dlq-triage',
      'order-consumer',
      'outbox-relay',
    ]);
    expect(producers.every((p) => p.idempotentProducer)).toBe(true);
  });
});
