// Integration tests run against real services: make them answer before any test file runs.
import { stageFunctionEnvironment } from '../../lib/config/function-environment';
import { loadStageConfig } from '../../lib/config/stage-config';
import { endpointsEnv, ensureServices } from '../../tools/local-runtime/services';

export default async function setup(): Promise<void> {
  const endpoints = await ensureServices();
  // Test files read endpoints from the environment, like the handlers do, and the handlers
  // their settings: the stage config's, as the stacks write them (the readers have no defaults).
  Object.assign(
    process.env,
    stageFunctionEnvironment(loadStageConfig('dev')),
    endpointsEnv(endpoints),
  );
}
