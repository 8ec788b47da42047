// Lambda adapter: one pool and one router per execution environment; behaviour is in http.ts
// (routing, status codes) and commands.ts (validation, the transaction). `createOrderApiHandler`
// is the handler itself over a router factory, so local runs invoke the same function.
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { getPool } from '../shared/db/pool';
import { getFunctionEnv, isDeployed } from '../shared/env';
import { logger, metrics, tracer } from '../shared/powertools';
import { captureLambdaHandler } from '../shared/tracing/lambda-handler';
import { orderCommands } from './commands';
import { createOrderApi, type OrderApi } from './http';

export type OrderApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface OrderApiHandlerOptions {
  /** Builds the router once per execution environment. */
  readonly api: () => OrderApi;
  readonly flushMetrics?: () => void;
}

export function createOrderApiHandler(options: OrderApiHandlerOptions): OrderApiHandler {
  const flush = options.flushMetrics ?? (() => metrics.publishStoredMetrics());
  let api: OrderApi | undefined;
  return async (event, context) => {
    api ??= options.api();
    try {
      return await api(event, context);
    } finally {
      flush();
    }
  };
}

// Deployed, parsed at module load: a missing variable fails the cold start, naming it. Local
// processes import this module for its handler factory and bring their own settings (none has
// a local default), so they parse nothing here.
if (isDeployed(process.env)) getFunctionEnv('orderApi');

export const handler = captureLambdaHandler(
  tracer,
  createOrderApiHandler({
    api: () =>
      createOrderApi({
        // The execution environment's pool, from the same PG* variables parsed above.
        commands: orderCommands(getPool(), { logger }),
        logger,
        metrics,
        limits: getFunctionEnv('orderApi').api,
        // Set by Lambda per invocation (active tracing): the event continues the API call's trace.
        xrayTraceHeader: () => process.env._X_AMZN_TRACE_ID,
      }),
  }),
);
