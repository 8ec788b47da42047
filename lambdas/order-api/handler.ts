// Lambda adapter: one pool and one router per execution environment; behaviour is in http.ts
// (routing, status codes) and commands.ts (validation, the transaction).
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { getPool } from '../shared/db/pool';
import { logger, metrics } from '../shared/powertools';
import { orderCommands } from './commands';
import { createOrderApi, type OrderApi } from './http';

let api: OrderApi | undefined;

export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  api ??= createOrderApi({ commands: orderCommands(getPool(), { logger }), logger, metrics });
  try {
    return await api(event, context);
  } finally {
    metrics.publishStoredMetrics();
  }
};
