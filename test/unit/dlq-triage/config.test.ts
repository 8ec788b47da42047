import { describe, expect, it } from 'vitest';
import { EnvError, parseTriageEnv, triageEnvironment } from '../../../lambdas/shared/env';
import { triageSettings } from '../../../lib/config/function-environment';
import { loadStageConfig } from '../../../lib/config/stage-config';
import { configuredEnv } from '../../fixtures/function-env';

/** Triage's environment as the stack writes it from the dev stage config. */
const WRITTEN = triageEnvironment(triageSettings(loadStageConfig('dev')));

describe('parseTriageEnv', () => {
  it("reads the stage config's documented settings", () => {
    expect(parseTriageEnv(configuredEnv())).toEqual({
      maxRedrives: 5,
      maxProcessingFailureRedrives: 2,
      redriveBaseDelayMs: 2_000,
      redriveMaxDelayMs: 60_000,
      redriveJitterPercent: 20,
      stopBeforeTimeoutMs: 10_000,
      redriveTopics: ['order-events'],
      redriveMaxMessageBytes: 1_048_576,
      outageWait: { baseMs: 500, capMs: 5_000 },
      outageLogEvery: 10,
      breaker: { failureThreshold: 5, windowMs: 60_000, openMs: 30_000 },
      kafkaClient: { connectTimeoutMs: 5_000 },
      producerRetry: { retries: 5, initialMs: 200, maxMs: 5_000 },
    });
  });

  it('reads the variables the stack sets', () => {
    const env = parseTriageEnv({
      TRIAGE_MAX_REDRIVES: '3',
      TRIAGE_REDRIVE_BASE_DELAY_MS: '100',
      TRIAGE_REDRIVE_MAX_DELAY_MS: '900',
      TRIAGE_REDRIVE_JITTER_PERCENT: '10',
      TRIAGE_MAX_PROCESSING_FAILURE_REDRIVES: '1',
      TRIAGE_STOP_BEFORE_TIMEOUT_MS: '0',
      TRIAGE_OUTAGE_WAIT_BASE_MS: '250',
      TRIAGE_OUTAGE_WAIT_CAP_MS: '2000',
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_WINDOW_MS: '10000',
      BREAKER_OPEN_MS: '5000',
      ORDER_EVENTS_TOPIC: 'orders-x',
      ORDER_EVENTS_MAX_MESSAGE_BYTES: '2048',
      TRIAGE_OUTAGE_LOG_EVERY: '4',
      KAFKA_CONNECT_TIMEOUT_MS: '3000',
      TRIAGE_PRODUCER_RETRIES: '2',
      TRIAGE_PRODUCER_RETRY_INITIAL_MS: '100',
      TRIAGE_PRODUCER_RETRY_MAX_MS: '1000',
    });
    expect(env).toEqual({
      maxRedrives: 3,
      maxProcessingFailureRedrives: 1,
      redriveBaseDelayMs: 100,
      redriveMaxDelayMs: 900,
      redriveJitterPercent: 10,
      stopBeforeTimeoutMs: 0,
      redriveTopics: ['orders-x'],
      redriveMaxMessageBytes: 2_048,
      outageWait: { baseMs: 250, capMs: 2_000 },
      outageLogEvery: 4,
      breaker: { failureThreshold: 3, windowMs: 10_000, openMs: 5_000 },
      kafkaClient: { connectTimeoutMs: 3_000 },
      producerRetry: { retries: 2, initialMs: 100, maxMs: 1_000 },
    });
  });

  it.each(Object.keys(WRITTEN))('without %s, fails naming it (locally too: no default)', (name) => {
    const env: Record<string, string> = { ...WRITTEN };
    delete env[name];
    expect(() => parseTriageEnv(env)).toThrow(EnvError);
    expect(() => parseTriageEnv(env)).toThrow(name);
  });

  it.each([
    [{ TRIAGE_MAX_REDRIVES: 'five' }, 'TRIAGE_MAX_REDRIVES'],
    [{ TRIAGE_REDRIVE_BASE_DELAY_MS: '-1' }, 'TRIAGE_REDRIVE_BASE_DELAY_MS'],
    [{ TRIAGE_REDRIVE_MAX_DELAY_MS: '1000' }, 'TRIAGE_REDRIVE_MAX_DELAY_MS'],
    [{ TRIAGE_REDRIVE_JITTER_PERCENT: '51' }, 'TRIAGE_REDRIVE_JITTER_PERCENT'],
    [{ ORDER_EVENTS_MAX_MESSAGE_BYTES: '10' }, 'ORDER_EVENTS_MAX_MESSAGE_BYTES'],
    [{ TRIAGE_OUTAGE_LOG_EVERY: '0' }, 'TRIAGE_OUTAGE_LOG_EVERY'],
    [{ TRIAGE_PRODUCER_RETRY_MAX_MS: '100' }, 'TRIAGE_PRODUCER_RETRY_MAX_MS'],
    [{ TRIAGE_PRODUCER_RETRIES: '-1' }, 'TRIAGE_PRODUCER_RETRIES'],
    [{ KAFKA_CONNECT_TIMEOUT_MS: '50' }, 'KAFKA_CONNECT_TIMEOUT_MS'],
  ])('rejects %o', (overrides, variable) => {
    const env = configuredEnv(overrides);
    expect(() => parseTriageEnv(env)).toThrow(EnvError);
    expect(() => parseTriageEnv(env)).toThrow(variable);
  });

  it("carries the stage's order-events size limit, required once deployed", () => {
    const config = loadStageConfig('dev');
    const written: Record<string, string> = {
      STAGE: 'dev',
      ...triageEnvironment(triageSettings(config)),
    };
    expect(parseTriageEnv(written).redriveMaxMessageBytes).toBe(
      config.kafka.topics.orderEvents.maxMessageBytes,
    );
    const without = { ...written };
    delete without.ORDER_EVENTS_MAX_MESSAGE_BYTES;
    expect(() => parseTriageEnv(without)).toThrow('ORDER_EVENTS_MAX_MESSAGE_BYTES');
  });
});
