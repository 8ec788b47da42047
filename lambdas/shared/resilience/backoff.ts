// Exponential backoff with full jitter (delay drawn uniformly from [0, min(cap, base·2^n)]):
// spreads retries of many clients instead of having them retry in lockstep.

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

/** Delay before retry number `attempt` (1 = first retry). `random` is injectable for tests. */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 1)
    throw new RangeError(`attempt must be ≥ 1, got ${attempt}`);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
