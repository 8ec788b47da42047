// Triage settings from the environment (the CDK sets the TRIAGE_* limits per stage). Pure
// parser plus a cached accessor, in the style of shared/env.ts, which stays triage-agnostic.
import { EnvError, type EnvRecord, envInt as int, envString as raw } from '../shared/env';

export interface TriageEnv {
  /** Redrives of a TRANSIENT message before it is parked. */
  readonly maxRedrives: number;
  /**
   * Redrives of a PROCESSING_FAILURE message. Smaller by default: an unclassified error is
   * usually a bug that fails the same way every time; two redrives still cover a cause the
   * taxonomy does not recognise yet.
   */
  readonly maxProcessingFailureRedrives: number;
  readonly redriveBaseDelayMs: number;
  readonly redriveMaxDelayMs: number;
  /** Kept free at the end of an invocation for the last produce/insert and the response. */
  readonly stopBeforeTimeoutMs: number;
  /** Topics triage may produce to; a dead letter naming another source topic is parked. */
  readonly redriveTopics: readonly string[];
}

export const PROCESSING_FAILURE_REDRIVES_DEFAULT = 2;

export function parseTriageEnv(env: EnvRecord): TriageEnv {
  const maxRedrives = int(env, 'TRIAGE_MAX_REDRIVES', 5, 0, 100);
  const redriveBaseDelayMs = int(env, 'TRIAGE_REDRIVE_BASE_DELAY_MS', 2_000, 0, 3_600_000);
  const redriveMaxDelayMs = int(env, 'TRIAGE_REDRIVE_MAX_DELAY_MS', 60_000, 0, 3_600_000);
  if (redriveMaxDelayMs < redriveBaseDelayMs) {
    throw new EnvError(
      'TRIAGE_REDRIVE_MAX_DELAY_MS',
      `must not be below TRIAGE_REDRIVE_BASE_DELAY_MS (${redriveBaseDelayMs}), got ${redriveMaxDelayMs}`,
    );
  }
  return {
    maxRedrives,
    maxProcessingFailureRedrives: int(
      env,
      'TRIAGE_MAX_PROCESSING_FAILURE_REDRIVES',
      Math.min(PROCESSING_FAILURE_REDRIVES_DEFAULT, maxRedrives),
      0,
      100,
    ),
    redriveBaseDelayMs,
    redriveMaxDelayMs,
    stopBeforeTimeoutMs: int(env, 'TRIAGE_STOP_BEFORE_TIMEOUT_MS', 10_000, 0, 600_000),
    // Same variable the relay publishes to: the only topic the consumer dead-letters from.
    redriveTopics: [raw(env, 'ORDER_EVENTS_TOPIC') ?? 'order-events'],
  };
}

let cached: TriageEnv | undefined;

/** process.env parsed once per execution environment. */
export function getTriageEnv(): TriageEnv {
  cached ??= parseTriageEnv(process.env);
  return cached;
}
