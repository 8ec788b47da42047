// kafkajs client factory: plain brokers locally, TLS + SASL/OAUTHBEARER (MSK IAM) on AWS.

import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import type { KafkaConfig, LogEntry, logCreator, RetryOptions } from 'kafkajs';
// Only `Kafka` and `logLevel` are visible as named exports when Node loads kafkajs (CJS) as ESM.
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaClientEnv, KafkaEnv, ProducerRetryEnv } from '../env';
import type { LogSink } from '../log-sink';
import { logger as defaultLogger } from '../powertools';

/** Routes kafkajs log entries into the structured logger instead of kafkajs' console output. */
export function kafkaLogCreator(sink: LogSink): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      // kafkajs' own timestamp and logger name duplicate fields the Powertools logger adds.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      const fields = { kafkaNamespace: namespace, ...extra };
      switch (level) {
        case logLevel.ERROR:
          sink.error(message, fields);
          break;
        case logLevel.WARN:
          sink.warn(message, fields);
          break;
        case logLevel.INFO:
          sink.info(message, fields);
          break;
        default:
          sink.debug(message, fields);
      }
    };
}

export interface CreateKafkaConfig {
  clientId: string;
  connection: KafkaEnv;
  /**
   * A function's client settings (the stage config's `kafka.client`): TLS and SASL to MSK take
   * longer than kafkajs's own 1 s connect timeout. A tool without them keeps kafkajs's defaults
   * or sets its own through `overrides`.
   */
  client?: KafkaClientEnv;
  logger?: LogSink;
  /** Passed to kafkajs as is (retry, timeouts); cannot override brokers, ssl, sasl or logging. */
  overrides?: Omit<KafkaConfig, 'brokers' | 'ssl' | 'sasl' | 'logCreator' | 'clientId'>;
}

/** The kafkajs configuration, separate from `createKafka` so it can be inspected in tests. */
export function kafkaConfig(config: CreateKafkaConfig): KafkaConfig {
  const base: KafkaConfig = {
    logLevel: logLevel.INFO,
    ...(config.client ? { connectionTimeout: config.client.connectTimeoutMs } : {}),
    ...config.overrides,
    clientId: config.clientId,
    // The brokers come from the environment as they are: locally the plain ones, on AWS the
    // cluster's IAM bootstrap brokers, resolved at deploy time (no MSK API call at cold start).
    brokers: [...config.connection.brokers],
    logCreator: kafkaLogCreator(config.logger ?? defaultLogger),
  };
  const conn = config.connection;
  if (conn.auth === 'none') return base;
  const { region } = conn;
  return {
    ...base,
    ssl: true,
    sasl: {
      mechanism: 'oauthbearer',
      // A fresh token per connection; the signer reuses the Lambda role's cached credentials.
      oauthBearerProvider: async () => {
        const { token } = await generateAuthToken({ region });
        return { value: token };
      },
    },
  };
}

/** A producer's retries as kafkajs takes them (its jitter and doubling are its own). */
export function producerRetry(r: ProducerRetryEnv): RetryOptions {
  return { retries: r.retries, initialRetryTime: r.initialMs, maxRetryTime: r.maxMs };
}

export function createKafka(config: CreateKafkaConfig): Kafka {
  return new Kafka(kafkaConfig(config));
}
