// Messages between `npm run bench` and its child processes (IPC), and the log sink children
// use: quiet, but warnings and errors are counted and the first few kept for the report.
import type { ErrorType } from '../../../lambdas/shared/errors/taxonomy';
import type { LogSink } from '../../../lambdas/shared/log-sink';
import type { MskEvent } from '../../local-runtime/esm-emulator';

interface JobBase {
  /** Endpoints and settings, parsed like a Lambda environment (tools/local-runtime/services endpointsEnv). */
  readonly env: Readonly<Record<string, string>>;
  readonly stage: string;
}

export type WorkerJob =
  | (JobBase & { readonly kind: 'relay'; readonly topic: string; readonly expected: number })
  | (JobBase & {
      readonly kind: 'consumer';
      readonly topic: string;
      readonly deadLetterTopic: string;
      readonly groupId: string;
      readonly expected: number;
      /**
       * One Lambda execution environment in this process: one invocation at a time (the
       * emulator's partition concurrency 1). Without it the emulator runs one invocation per
       * partition at once, each in one of as many execution environments as the topic has
       * partitions, each its own process (`consumer-environment`).
       */
      readonly oneEnvironment?: boolean;
      /** Replaces the stage's consumer.chunkSize (the naive run: 1 record per chunk). */
      readonly chunkSize?: number;
    })
  | (JobBase & {
      readonly kind: 'triage';
      readonly topic: string;
      readonly redriveTopic: string;
      /** The triage backstop's local stand-in. */
      readonly backstopDirectory: string;
      readonly groupId: string;
      readonly expected: number;
    })
  | (JobBase & {
      /**
       * One execution environment of the consumer function, started by a `consumer` or
       * `e2e-consumer` worker (the Lambda service's side: the mapping emulator): builds the
       * runtime as the Lambda does, then runs the handler on each `invoke` until `stop`.
       */
      readonly kind: 'consumer-environment';
      /** Its number among the job's environments (for messages and profiles). */
      readonly index: number;
      readonly deadLetterTopic: string;
      /** As the `consumer` job's (the naive run). */
      readonly chunkSize?: number;
      /** Send each applied event's timestamp and end-to-end latency with the response. */
      readonly reportApplied?: boolean;
    })
  | (JobBase & { readonly kind: 'e2e-relay'; readonly topic: string })
  | (JobBase & {
      readonly kind: 'e2e-consumer';
      readonly topic: string;
      readonly deadLetterTopic: string;
      readonly groupId: string;
      /**
       * Every invocation in this one process (the pipeline module's startConsumerMapping)
       * instead of one process per environment: on two cores the end-to-end run cannot feed
       * six environment processes beside the writers, the relay and the services.
       */
      readonly inProcess?: boolean;
    })
  | (JobBase & {
      readonly kind: 'e2e-writer';
      readonly runId: string;
      readonly ratePerSec: number;
      readonly durationMs: number;
      /** Orders between an order's placement and its next event (see workloadAction). */
      readonly lag: number;
      readonly poolMax: number;
      /** This writer's share of the schedule: the commands of the orders writerOf gives it. */
      readonly shard: number;
      readonly shards: number;
    });

export type WorkerJobKind = WorkerJob['kind'];

/** What an execution environment counted through the consumer's telemetry hooks. */
export interface EnvironmentCounts {
  applied: number;
  duplicates: number;
  deadLettered: number;
  deadLetteredByType: Partial<Record<ErrorType, number>>;
}

/** A `consumer-environment`'s result, once stopped. */
export interface EnvironmentResult {
  readonly index: number;
  /** Invocations it ran (the warm-up set-up not included). */
  readonly invocations: number;
  /** The values of the metrics it kept (chunk durations, breaker changes), for a summary over all. */
  readonly metricValues: Readonly<Record<string, readonly number[]>>;
  readonly log: {
    readonly warnings: number;
    readonly errors: number;
    readonly samples: readonly string[];
  };
  readonly peakRssMb: number;
  /** CPU time it used (ms), set-up included. */
  readonly cpuMs: { readonly user: number; readonly system: number };
}

export type ParentMessage =
  | { readonly type: 'start'; readonly job: WorkerJob }
  /** One invocation of a `consumer-environment`: the MSK event, as JSON like Lambda's invoke. */
  | { readonly type: 'invoke'; readonly id: number; readonly event: MskEvent }
  | { readonly type: 'stop' }
  /** The writers' common schedule start (epoch ms), so their shares interleave. */
  | { readonly type: 'go'; readonly at: number }
  | {
      readonly type: 'finish';
      /** Epoch ms: only events with a timestamp in [from, to) are sampled. */
      readonly windowFrom: number;
      readonly windowTo: number;
      readonly expectedApplied: number;
      readonly timeoutMs: number;
    };

export type ChildMessage =
  | { readonly type: 'ready' }
  | {
      /**
       * What a `consumer-environment` counted since its last message, after its first chunk
       * and then at most every 100 ms while an invocation runs: the bench's counters then move
       * as the consumer commits, not in steps of whole invocations (a rate measured from the
       * first progress seen stays exact).
       */
      readonly type: 'progress';
      readonly counts: EnvironmentCounts;
    }
  | {
      /** A `consumer-environment`'s answer to `invoke` `id`. */
      readonly type: 'invoked';
      readonly id: number;
      /** What the handler returned, or what it threw. */
      readonly outcome:
        | { readonly ok: true; readonly response: unknown }
        | { readonly ok: false; readonly error: string };
      /** Counted since its previous message. */
      readonly counts: EnvironmentCounts;
      /** With `reportApplied`: [event timestamp (epoch ms), end-to-end ms] per applied event. */
      readonly applied?: ReadonlyArray<readonly [number, number]>;
    }
  | { readonly type: 'result'; readonly result: Readonly<Record<string, unknown>> }
  | { readonly type: 'error'; readonly message: string };

export interface CountingLogger extends LogSink {
  readonly warnings: number;
  readonly errors: number;
  /** The first few warning/error messages (no fields: they may hold payloads). */
  readonly samples: readonly string[];
}

export function countingLogger(keep = 5): CountingLogger {
  const samples: string[] = [];
  const state = { warnings: 0, errors: 0 };
  const note = (level: string, message: string) => {
    if (samples.length < keep) samples.push(`${level}: ${message}`);
  };
  return {
    get warnings() {
      return state.warnings;
    },
    get errors() {
      return state.errors;
    },
    samples,
    error(message) {
      state.errors++;
      note('error', message);
    },
    warn(message) {
      state.warnings++;
      note('warn', message);
    },
    info: () => undefined,
    debug: () => undefined,
  };
}
