// Kafka health checks through kafkajs (the client the Lambdas use, via the shared factory).
// "Answers" (status) = the broker returns cluster metadata. "Healthy" (up) = a real round trip:
// produce with acks=all to a probe topic, then join a consumer group, fetch and commit. Right
// after start the group coordinator is still loading, so only the round trip proves readiness.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { logLevel } from 'kafkajs';
import { createKafka } from '../../../lambdas/shared/kafka/client';
import type { LogFields, LogSink } from '../../../lambdas/shared/log-sink';
import { sleep } from './process';
import { errorMessage } from './report';

/** Probe topic and group: fixed names, so repeated checks reuse them instead of piling up. */
export const HEALTH_TOPIC = 'services-health-probe';
export const HEALTH_GROUP = 'services-health-probe';

/** Keeps the last kafkajs warning/error (for failure messages) and prints nothing. */
class CapturingSink implements LogSink {
  last: string | undefined;
  error(message: string, ...fields: LogFields[]): void {
    this.capture(message, fields);
  }
  warn(message: string, ...fields: LogFields[]): void {
    this.capture(message, fields);
  }
  info(): void {}
  debug(): void {}
  private capture(message: string, fields: LogFields[]): void {
    const detail = fields.map((f) => f.error).find((e) => typeof e === 'string');
    this.last = detail !== undefined ? `${message}: ${detail}` : message;
  }
}

export function healthKafka(
  brokers: readonly string[],
  clientId: string,
): {
  kafka: Kafka;
  sink: CapturingSink;
} {
  const sink = new CapturingSink();
  const kafka = createKafka({
    clientId,
    connection: { auth: 'none', brokers },
    logger: sink,
    overrides: {
      logLevel: logLevel.WARN,
      connectionTimeout: 2_000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    },
  });
  return { kafka, sink };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function quietly(fn: () => Promise<unknown>): Promise<void> {
  await withTimeout(fn(), 5_000, 'disconnect').catch(() => {});
}

export interface KafkaAnswer {
  readonly ok: boolean;
  readonly reason?: string;
  readonly clusterId?: string;
}

/** Cheap check for `status`: the brokers return cluster metadata. */
export async function kafkaAnswers(
  brokers: readonly string[],
  timeoutMs = 5_000,
): Promise<KafkaAnswer> {
  const { kafka, sink } = healthKafka(brokers, 'services-status');
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    const cluster = await withTimeout(
      admin.connect().then(() => admin.describeCluster()),
      timeoutMs,
      'describeCluster',
    );
    return { ok: true, clusterId: cluster.clusterId };
  } catch (error) {
    const reason = errorMessage(error);
    return {
      ok: false,
      reason: reason.includes('timed out') && sink.last ? `${reason} (${sink.last})` : reason,
    };
  } finally {
    await quietly(() => admin.disconnect());
  }
}

/**
 * One produce + consumer-group fetch round trip on the probe topic (created with the admin API:
 * auto-create is off, as on MSK). Rejects with the reason when any step fails or times out.
 */
export async function kafkaRoundTrip(
  brokers: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const { kafka, sink } = healthKafka(brokers, 'services-health');
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  const nonce = randomUUID();
  // Set on timeout: the attempt stops before creating another client the cleanup cannot see.
  let abandoned = false;
  const check = () => {
    if (abandoned) throw new Error('abandoned');
  };
  const attempt = async () => {
    admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(HEALTH_TOPIC)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: HEALTH_TOPIC,
            numPartitions: 1,
            replicationFactor: 1,
            configEntries: [{ name: 'retention.ms', value: String(60 * 60_000) }],
          },
        ],
      });
    }
    check();
    producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({
      topic: HEALTH_TOPIC,
      acks: -1,
      messages: [{ key: 'probe', value: nonce }],
    });

    check();
    const c = kafka.consumer({
      groupId: HEALTH_GROUP,
      allowAutoTopicCreation: false,
      // The broker's minimum; a member left behind by a killed probe expires this fast.
      sessionTimeout: 6_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 200,
    });
    consumer = c;
    await c.connect();
    await c.subscribe({ topics: [HEALTH_TOPIC], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      c.on(c.events.CRASH, ({ payload }) => reject(payload.error));
      c.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          // Commit past everything read, so the next probe starts at its own message.
          await c.commitOffsets([
            { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
          ]);
          if (message.value?.toString() === nonce) resolve();
        },
      }).catch(reject);
    });
  };
  try {
    await withTimeout(attempt(), timeoutMs, 'produce + consumer-group fetch');
  } catch (error) {
    abandoned = true;
    const reason = errorMessage(error);
    throw new Error(
      sink.last !== undefined && !sink.last.includes(reason)
        ? `${reason} (last client error: ${sink.last})`
        : reason,
    );
  } finally {
    const c = consumer as Consumer | undefined;
    const p = producer as Producer | undefined;
    const a = admin as Admin | undefined;
    if (c !== undefined) await quietly(() => c.disconnect());
    if (p !== undefined) await quietly(() => p.disconnect());
    if (a !== undefined) await quietly(() => a.disconnect());
  }
}

/**
 * Repeats the round trip until it succeeds or `timeoutMs` passes. `fatal` is polled between
 * attempts (e.g. "the broker process exited") to fail fast instead of waiting out the timeout.
 */
export async function waitForKafka(
  brokers: readonly string[],
  options: { timeoutMs: number; fatal?: () => string | undefined },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + options.timeoutMs;
  let reason = 'not tried';
  for (;;) {
    const dead = options.fatal?.();
    if (dead !== undefined) return { ok: false, reason: dead };
    const left = deadline - Date.now();
    // A last attempt clipped to a sliver would only report its own timeout; keep the real reason.
    if (left <= 0 || (left < 3_000 && reason !== 'not tried')) return { ok: false, reason };
    try {
      await kafkaRoundTrip(brokers, Math.min(left, 30_000));
      return { ok: true };
    } catch (error) {
      reason = errorMessage(error);
    }
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
  }
}
