// Pure bookkeeping of the bench's consumer execution environments (environments.ts): which
// environment takes the next invocation, and the counters the environments send back.
// No I/O: unit-tested (test/tools/verification/bench/environment-slots.test.ts).
import type { EnvironmentCounts } from './protocol';

/**
 * N execution environments, each running one invocation at a time, as Lambda runs a
 * function's concurrent invocations: an invocation takes any free environment (the lowest
 * numbered), or waits for the first one freed (first come, first served).
 */
export class EnvironmentSlots {
  private readonly busy: boolean[];
  private readonly waiting: Array<{
    resolve: (slot: number) => void;
    reject: (error: Error) => void;
  }> = [];
  private failure: Error | undefined;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`environments must be a positive integer, got ${size}`);
    }
    this.busy = Array.from({ length: size }, () => false);
  }

  /** Environments running an invocation now. */
  get inUse(): number {
    return this.busy.filter(Boolean).length;
  }

  /** A free environment, marked busy; waits while every environment is busy. */
  acquire(): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const free = this.busy.indexOf(false);
    if (free >= 0) {
      this.busy[free] = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** The invocation on `slot` ended: the environment takes the next waiting one, or is free. */
  release(slot: number): void {
    if (this.busy[slot] !== true) throw new Error(`environment ${slot} is not running anything`);
    const next = this.waiting.shift();
    if (next !== undefined) next.resolve(slot);
    else this.busy[slot] = false;
  }

  /** No environment will take invocations any more: waiting and later acquires reject. */
  fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}

export function emptyCounts(): EnvironmentCounts {
  return { applied: 0, duplicates: 0, deadLettered: 0, deadLetteredByType: {} };
}

/** Adds `delta` (one invocation's counts, sent with its response) into `total`, in place. */
export function addCounts(total: EnvironmentCounts, delta: EnvironmentCounts): void {
  total.applied += delta.applied;
  total.duplicates += delta.duplicates;
  total.deadLettered += delta.deadLettered;
  for (const [type, n] of Object.entries(delta.deadLetteredByType) as Array<
    [keyof EnvironmentCounts['deadLetteredByType'], number]
  >) {
    total.deadLetteredByType[type] = (total.deadLetteredByType[type] ?? 0) + n;
  }
}

/** The counts since the last call: returns them and leaves `counts` empty. */
export function takeCounts(counts: EnvironmentCounts): EnvironmentCounts {
  const taken = { ...counts, deadLetteredByType: { ...counts.deadLetteredByType } };
  counts.applied = 0;
  counts.duplicates = 0;
  counts.deadLettered = 0;
  counts.deadLetteredByType = {};
  return taken;
}

/** Every environment's values of each metric, concatenated (for one summary over all). */
export function mergeMetricValues(
  perEnvironment: ReadonlyArray<Readonly<Record<string, readonly number[]>>>,
): Record<string, number[]> {
  const merged: Record<string, number[]> = {};
  for (const values of perEnvironment) {
    for (const [name, v] of Object.entries(values)) {
      const into = merged[name] ?? [];
      // A loop, not push(...v): a naive run has thousands of values per environment.
      for (const x of v) into.push(x);
      merged[name] = into;
    }
  }
  return merged;
}
