// The consumer function's execution environments for the bench's consumer runs, as Lambda
// runs them: the mapping emulator (the Lambda service's side) stays in the worker process and
// invokes the handler in separate processes, one per concurrent invocation, each with its own
// runtime (PostgreSQL pool, Redis connection, dead-letter producer, breakers).

import type { MappingHandler } from '../../local-runtime/esm-emulator';
import { type ConsumerCounters, emptyConsumerCounters } from '../../local-runtime/pipeline';
import { type ChildOptions, type RunningEnvironment, startEnvironment } from './children';
import { addCounts, EnvironmentSlots } from './environment-slots';
import type { EnvironmentCounts, EnvironmentResult, WorkerJob } from './protocol';

type EnvironmentJob = Extract<WorkerJob, { kind: 'consumer-environment' }>;

export interface EnvironmentsOptions {
  /** The worker bundle (run with the `consumer-environment` job). */
  readonly file: string;
  readonly count: number;
  readonly job: Omit<EnvironmentJob, 'index'>;
  readonly child: ChildOptions;
  /** Each applied event's timestamp (epoch ms) and end-to-end latency (needs reportApplied). */
  readonly onApplied?: (timestampMs: number, endToEndMs: number) => void;
}

export interface Environments {
  /**
   * Totals of the counts the environments sent (after each chunk, and with each answer);
   * errors: failed invocations.
   */
  readonly counters: Readonly<ConsumerCounters>;
  /** The mapping's handler: each invocation on a free environment. */
  readonly handler: MappingHandler;
  /** Rejects with the first environment failure; never resolves. */
  readonly failed: Promise<never>;
  failure(): Error | undefined;
  /** Asks every environment to close its runtime; resolves with their results once exited. */
  stop(): Promise<EnvironmentResult[]>;
  /** Kills every environment still running. */
  kill(): void;
}

/** Starts `count` environments and resolves once every one has set its runtime up. */
export async function startEnvironments(options: EnvironmentsOptions): Promise<Environments> {
  const counters = emptyConsumerCounters();
  const count = (delta: EnvironmentCounts) => addCounts(counters, delta);
  const started: RunningEnvironment[] = Array.from({ length: options.count }, (_, index) =>
    startEnvironment(options.file, { ...options.job, index }, options.child, count),
  );
  const kill = () => {
    for (const e of started) e.kill();
  };
  const slots = new EnvironmentSlots(options.count);
  let failure: Error | undefined;
  const failed = Promise.race(started.map((e) => e.failed));
  failed.catch((error: unknown) => {
    failure = error instanceof Error ? error : new Error(String(error));
    slots.fail(failure);
  });
  try {
    await Promise.all(started.map((e) => e.ready));
  } catch (error) {
    kill();
    throw error;
  }
  const handler: MappingHandler = async (event) => {
    const slot = await slots.acquire();
    try {
      const answer = await (started[slot] as RunningEnvironment).invoke(event);
      count(answer.counts);
      if (options.onApplied !== undefined) {
        for (const [timestampMs, endToEndMs] of answer.applied ?? []) {
          options.onApplied(timestampMs, endToEndMs);
        }
      }
      if (!answer.outcome.ok) throw new Error(answer.outcome.error);
      return answer.outcome.response;
    } catch (error) {
      // Lambda's Errors: invocations that failed (the handler threw, or its environment died).
      counters.errors++;
      throw error;
    } finally {
      slots.release(slot);
    }
  };
  return {
    counters,
    handler,
    failed,
    failure: () => failure,
    async stop() {
      try {
        return await Promise.all(started.map((e) => e.stop()));
      } catch (error) {
        kill();
        throw error;
      }
    },
    kill,
  };
}

/** The largest of the environments' peak RSS (each is one Lambda environment). */
export function maxPeakRssMb(results: readonly EnvironmentResult[]): number | null {
  return results.length === 0 ? null : Math.max(...results.map((r) => r.peakRssMb));
}
