// The settings each function reads from its environment, derived from the stage config. The
// service stack sets them on the Lambda functions and `npm start` passes them to the same
// code locally, so both run with one set of numbers.
import type { StageConfig } from './stage-config';

export function relaySettings(config: StageConfig): Record<string, string> {
  return {
    OUTBOX_PUBLISHED_RETENTION_HOURS: String(config.outbox.publishedRetentionHours),
    OUTBOX_BATCH_SIZE: String(config.outbox.relayBatchSize),
    OUTBOX_POLL_INTERVAL_MS: String(config.outbox.relayPollIntervalMs),
    RELAY_STOP_BEFORE_TIMEOUT_MS: String(config.outbox.relayStopBeforeTimeoutMs),
  };
}

export function triageSettings(config: StageConfig): Record<string, string> {
  return {
    TRIAGE_MAX_REDRIVES: String(config.triage.maxRedrives),
    TRIAGE_REDRIVE_BASE_DELAY_MS: String(config.triage.redriveBaseDelayMs),
    TRIAGE_REDRIVE_MAX_DELAY_MS: String(config.triage.redriveMaxDelayMs),
  };
}
