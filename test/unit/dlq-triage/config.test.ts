import { describe, expect, it } from 'vitest';
import { EnvError, parseTriageEnv } from '../../../lambdas/shared/env';

describe('parseTriageEnv', () => {
  it('has the documented defaults', () => {
    expect(parseTriageEnv({})).toEqual({
      maxRedrives: 5,
      maxProcessingFailureRedrives: 2,
      redriveBaseDelayMs: 2_000,
      redriveMaxDelayMs: 60_000,
      stopBeforeTimeoutMs: 10_000,
      redriveTopics: ['order-events'],
    });
  });

  it('reads the variables the stack sets', () => {
    const env = parseTriageEnv({
      TRIAGE_MAX_REDRIVES: '3',
      TRIAGE_REDRIVE_BASE_DELAY_MS: '100',
      TRIAGE_REDRIVE_MAX_DELAY_MS: '900',
      TRIAGE_MAX_PROCESSING_FAILURE_REDRIVES: '1',
      TRIAGE_STOP_BEFORE_TIMEOUT_MS: '0',
      ORDER_EVENTS_TOPIC: 'orders-x',
    });
    expect(env).toEqual({
      maxRedrives: 3,
      maxProcessingFailureRedrives: 1,
      redriveBaseDelayMs: 100,
      redriveMaxDelayMs: 900,
      stopBeforeTimeoutMs: 0,
      redriveTopics: ['orders-x'],
    });
  });

  it('caps the PROCESSING_FAILURE default at the overall limit', () => {
    expect(parseTriageEnv({ TRIAGE_MAX_REDRIVES: '1' }).maxProcessingFailureRedrives).toBe(1);
  });

  it.each([
    [{ TRIAGE_MAX_REDRIVES: 'five' }, 'TRIAGE_MAX_REDRIVES'],
    [{ TRIAGE_REDRIVE_BASE_DELAY_MS: '-1' }, 'TRIAGE_REDRIVE_BASE_DELAY_MS'],
    [{ TRIAGE_REDRIVE_MAX_DELAY_MS: '1000' }, 'TRIAGE_REDRIVE_MAX_DELAY_MS'],
  ])('rejects %o', (env, variable) => {
    expect(() => parseTriageEnv(env)).toThrow(EnvError);
    expect(() => parseTriageEnv(env)).toThrow(variable);
  });
});
