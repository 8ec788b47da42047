// Riding out a dependency outage inside one invocation: a call that fails because its
// dependency cannot be reached (taxonomy: `unavailable`) is tried again with a backoff for as
// long as the invocation has time, instead of handing the record back to the event source
// mapping, whose few retries a failover outlasts.
import { classify } from '../errors/taxonomy';
import { type BackoffPolicy, backoffDelayMs, sleep as realSleep } from './backoff';

export interface OutageWaitOptions {
  readonly policy: BackoffPolicy;
  /** Time left in the invocation. */
  readonly remainingMs: () => number;
  /** No wait may end inside this margin before the timeout. */
  readonly stopBeforeTimeoutMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each wait (for a log line or a metric). */
  readonly onWait?: (delayMs: number, attempt: number, error: unknown) => void;
}

/**
 * Runs `work` until it succeeds; rethrows the error of the last try when it is not an outage or
 * when the next wait would not fit in the invocation.
 */
export async function untilAvailable<T>(
  work: () => Promise<T>,
  options: OutageWaitOptions,
): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!classify(error).unavailable) throw error;
      const delayMs = backoffDelayMs(attempt, options.policy);
      if (options.remainingMs() - delayMs <= options.stopBeforeTimeoutMs) throw error;
      options.onWait?.(delayMs, attempt, error);
      await sleep(delayMs);
    }
  }
}
