// Messages between `npm run bench` and its child processes (IPC), and the log sink children
// use: quiet, but warnings and errors are counted and the first few kept for the report.
import type { LogSink } from '../../../lambdas/shared/log-sink';

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
       * One Lambda execution environment: one invocation at a time (the emulator's partition
       * concurrency 1). Without it the emulator's default runs one invocation per partition
       * at once, all in this one process.
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
  | (JobBase & { readonly kind: 'e2e-relay'; readonly topic: string })
  | (JobBase & {
      readonly kind: 'e2e-consumer';
      readonly topic: string;
      readonly deadLetterTopic: string;
      readonly groupId: string;
    })
  | (JobBase & {
      readonly kind: 'e2e-writer';
      readonly runId: string;
      readonly ratePerSec: number;
      readonly durationMs: number;
      /** Orders between an order's placement and its next event (see workloadAction). */
      readonly lag: number;
      readonly poolMax: number;
    });

export type WorkerJobKind = WorkerJob['kind'];

export type ParentMessage =
  | { readonly type: 'start'; readonly job: WorkerJob }
  | { readonly type: 'stop' }
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
