// Lambda adapter: one relay runtime per execution environment; each scheduled invocation loops
// until just before its time runs out (the next tick starts a new loop). `createRelayHandler`
// is the handler itself over a runtime factory, so local runs invoke the same function.
import type { Context } from 'aws-lambda';
import { type FunctionEnv, getFunctionEnv, isDeployed } from '../shared/env';
import { perEnvironment } from '../shared/per-environment';
import { tracer } from '../shared/powertools';
import { captureLambdaHandler } from '../shared/tracing/lambda-handler';
import type { RelaySummary } from './relay';
import { runRelay } from './relay';
import { createRelayRuntime, type RelayRuntime, relayOptions } from './runtime';

export type RelayHandler = (event: unknown, context: Context) => Promise<RelaySummary>;

export interface RelayHandlerOptions {
  /** Builds the runtime once per execution environment; a failed set-up is retried next time. */
  readonly runtime: () => Promise<RelayRuntime>;
  /** Ends the loop early (a local run stopping); Lambda only ends it at the time margin. */
  readonly keepRunning?: () => boolean;
}

export function createRelayHandler(options: RelayHandlerOptions): RelayHandler {
  const keepRunning = options.keepRunning ?? (() => true);
  const runtime = perEnvironment(options.runtime);
  return async (_event, context) => {
    const rt = await runtime();
    const margin = rt.env.stopBeforeTimeoutMs;
    return runRelay(
      rt.deps,
      relayOptions(rt.env, {
        shouldContinue: () => keepRunning() && context.getRemainingTimeInMillis() > margin,
        maxWaitMs: () => context.getRemainingTimeInMillis() - margin,
      }),
    );
  };
}

/** The production runtime from the function's environment. */
export function relayRuntimeFromEnv(env: FunctionEnv<'outboxRelay'>): Promise<RelayRuntime> {
  return createRelayRuntime({ pgEnv: env.pg, kafkaEnv: env.kafka, relayEnv: env.relay });
}

// Deployed, parsed at module load: a missing variable fails the cold start, naming it. Local
// processes import this module for createRelayHandler and bring their settings themselves
// (none has a local default), so they parse nothing here.
if (isDeployed(process.env)) getFunctionEnv('outboxRelay');

export const handler = captureLambdaHandler(
  tracer,
  createRelayHandler({
    runtime: () => relayRuntimeFromEnv(getFunctionEnv('outboxRelay')),
  }),
);
