// Circuit breaker per downstream dependency (docs/ARCHITECTURE.md §3): failureThreshold counted
// failures within windowMs open it; open fails fast; openMs later one trial call goes through;
// its success closes it. The numbers are the stage config's `breaker`, through the environment.
// Failing fast lets the mapping retry the batch later instead of flooding the dead-letter topic.
import { CircuitOpenError, classify } from '../errors/taxonomy';
import type { LogSink } from '../log-sink';
import { METRICS } from '../metrics-catalog';

export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface CircuitBreakerOptions {
  /** The dependency, e.g. "postgres"; shown in logs and in CircuitOpenError. */
  readonly name: string;
  readonly failureThreshold: number;
  /** Rolling window in which `failureThreshold` failures open the breaker. */
  readonly windowMs: number;
  /** How long the breaker stays open before one trial call. */
  readonly openMs: number;
  /** Epoch ms; injectable so tests never wait. */
  readonly now?: () => number;
  /** Which errors say the dependency is unhealthy; others pass through uncounted. */
  readonly isFailure?: (error: unknown) => boolean;
}

/**
 * A schema violation or a constraint error means the dependency answered: only TRANSIENT
 * errors count. Another breaker's CircuitOpenError says nothing about this dependency.
 */
export function isDependencyFailure(error: unknown): boolean {
  return !(error instanceof CircuitOpenError) && classify(error).errorType === 'TRANSIENT';
}

export interface BreakerStateChange {
  readonly name: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Epoch ms from the breaker's clock. */
  readonly at: number;
  readonly reason: string;
}

export type BreakerListener = (change: BreakerStateChange) => void;

export class CircuitBreaker {
  readonly name: string;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly listeners = new Set<BreakerListener>();

  private current: BreakerState = 'CLOSED';
  /** Times of counted failures still inside the window (CLOSED only). */
  private failures: number[] = [];
  private openedAt = 0;
  private trialStartedAt = 0;
  // Bumped on every transition: a call that started in an earlier state cannot decide the
  // current one (e.g. a slow CLOSED call finishing during the half-open trial).
  private generation = 0;

  constructor(options: CircuitBreakerOptions) {
    this.name = options.name;
    this.threshold = options.failureThreshold;
    this.windowMs = options.windowMs;
    this.openMs = options.openMs;
    this.now = options.now ?? Date.now;
    this.isFailure = options.isFailure ?? isDependencyFailure;
    for (const [key, value] of [
      ['failureThreshold', this.threshold],
      ['windowMs', this.windowMs],
      ['openMs', this.openMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
  }

  /** The stored state: an OPEN breaker whose open period has passed turns HALF_OPEN on the next call. */
  get state(): BreakerState {
    return this.current;
  }

  /** Returns a function that removes the listener. */
  onStateChange(listener: BreakerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    const isTrial = this.admit();
    const generation = this.generation;
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      this.settle(generation, isTrial, this.isFailure(error) ? { error } : undefined);
      throw error;
    }
    this.settle(generation, isTrial, undefined);
    return result;
  }

  /** Throws CircuitOpenError when the call must not be made; true for the half-open trial. */
  private admit(): boolean {
    if (this.current === 'CLOSED') return false;
    const retryAt = this.openedAt + this.openMs;
    const now = this.now();
    if (this.current === 'OPEN' && now >= retryAt) {
      this.trialStartedAt = now;
      this.transition('HALF_OPEN', `open for ${this.openMs} ms: letting one trial call through`);
      return true;
    }
    if (this.current === 'HALF_OPEN') {
      // A trial that never settles (e.g. frozen by a Lambda timeout) must not wedge the
      // breaker: after another open period a new trial replaces it, and the old one's
      // result is ignored.
      const trialRetryAt = this.trialStartedAt + this.openMs;
      if (now < trialRetryAt) throw new CircuitOpenError(this.name, trialRetryAt);
      this.trialStartedAt = now;
      this.generation++;
      return true;
    }
    throw new CircuitOpenError(this.name, retryAt);
  }

  /** `failure` holds a counted error; undefined for success or an uncounted error. */
  private settle(
    generation: number,
    isTrial: boolean,
    failure: { readonly error: unknown } | undefined,
  ): void {
    if (generation !== this.generation) return;
    if (isTrial) {
      if (failure === undefined) {
        this.failures = [];
        this.transition('CLOSED', 'trial call succeeded');
      } else {
        this.open(`trial call failed: ${classify(failure.error).message}`);
      }
      return;
    }
    if (this.current !== 'CLOSED' || failure === undefined) return;
    const at = this.now();
    // Rolling window: a failure exactly windowMs old no longer counts.
    this.failures = this.failures.filter((t) => t > at - this.windowMs);
    this.failures.push(at);
    if (this.failures.length >= this.threshold) {
      this.open(
        `${this.failures.length} failures within ${this.windowMs} ms, last: ${classify(failure.error).message}`,
      );
    }
  }

  private open(reason: string): void {
    this.openedAt = this.now();
    this.failures = [];
    this.transition('OPEN', reason);
  }

  private transition(to: BreakerState, reason: string): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    const change: BreakerStateChange = { name: this.name, from, to, at: this.now(), reason };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // Telemetry must never change the outcome of the call being protected.
      }
    }
  }
}

/** One breaker per dependency name, sharing options (clock, thresholds, listener). */
export function breakers<const N extends string>(
  names: readonly N[],
  options: Omit<CircuitBreakerOptions, 'name'> & { readonly onStateChange?: BreakerListener },
): Readonly<Record<N, CircuitBreaker>> {
  const { onStateChange, ...shared } = options;
  const out = {} as Record<N, CircuitBreaker>;
  for (const name of names) {
    const breaker = new CircuitBreaker({ ...shared, name });
    if (onStateChange !== undefined) breaker.onStateChange(onStateChange);
    out[name] = breaker;
  }
  return out;
}

/** The slice of Powertools Metrics used here; tests pass a fake. */
export interface BreakerMetricsSink {
  addMetric(name: string, unit: 'Count', value: number): unknown;
}

/**
 * Logs every state change and counts it (no per-breaker dimension: the alarm fires on any
 * open breaker; the log line names it).
 */
export function breakerTelemetry(logger: LogSink, metrics: BreakerMetricsSink): BreakerListener {
  return (change) => {
    const fields = {
      breaker: change.name,
      from: change.from,
      to: change.to,
      at: new Date(change.at).toISOString(),
      reason: change.reason,
    };
    const text = `circuit breaker "${change.name}" ${change.from} -> ${change.to}`;
    if (change.to === 'CLOSED') logger.info(text, fields);
    else logger.warn(text, fields);
    metrics.addMetric(METRICS.circuitBreakerStateChange, 'Count', 1);
    if (change.to === 'OPEN') metrics.addMetric(METRICS.circuitBreakerOpened, 'Count', 1);
  };
}
