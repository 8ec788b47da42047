// Lambda adapter: one relay runtime per execution environment; each scheduled invocation
// loops until just before its time runs out (the next tick starts a new loop).
import type { Context } from 'aws-lambda';
import { getKafkaEnv, getPgEnv, getRelayEnv } from '../shared/env';
import type { RelaySummary } from './relay';
import { runRelay } from './relay';
import { createRelayRuntime, type RelayRuntime, relayOptions } from './runtime';

let runtime: Promise<RelayRuntime> | undefined;

export const handler = async (_event: unknown, context: Context): Promise<RelaySummary> => {
  runtime ??= createRelayRuntime({
    pgEnv: getPgEnv(),
    kafkaEnv: getKafkaEnv(),
    relayEnv: getRelayEnv(),
  }).catch((error: unknown) => {
    runtime = undefined; // retry the set-up on the next invocation
    throw error;
  });
  const rt = await runtime;
  const margin = rt.env.stopBeforeTimeoutMs;
  return runRelay(
    rt.deps,
    relayOptions(rt.env, {
      shouldContinue: () => context.getRemainingTimeInMillis() > margin,
      maxWaitMs: () => context.getRemainingTimeInMillis() - margin,
    }),
  );
};
