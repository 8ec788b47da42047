// Integration tests run against real services: make them answer before any test file runs.
import { endpointsEnv, ensureServices } from '../../tools/local-runtime/services';

export default async function setup(): Promise<void> {
  const endpoints = await ensureServices();
  // Test files read endpoints from the environment, like the handlers do.
  Object.assign(process.env, endpointsEnv(endpoints));
}
