// API Gateway HTTP API (payload 2.0) events as the `ANY /{proxy+}` route delivers them, and a
// minimal Lambda context: how npm start calls the order API handler, and its tests too.
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

export interface HttpEventInput {
  readonly method: string;
  readonly path: string;
  readonly body?: string | object;
  readonly headers?: Record<string, string>;
  readonly base64?: boolean;
}

export function httpEvent(input: HttpEventInput): APIGatewayProxyEventV2 {
  const text =
    input.body === undefined || typeof input.body === 'string'
      ? input.body
      : JSON.stringify(input.body);
  const body = text !== undefined && input.base64 ? Buffer.from(text).toString('base64') : text;
  return {
    version: '2.0',
    routeKey: 'ANY /{proxy+}',
    rawPath: input.path,
    rawQueryString: '',
    headers: {
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'content-type': 'application/json',
      'x-forwarded-proto': 'https',
      ...input.headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method: input.method,
        path: input.path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'order-pipeline-local',
      },
      requestId: 'req-1',
      routeKey: 'ANY /{proxy+}',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 1_767_225_600_000,
    },
    pathParameters: { proxy: input.path.slice(1) },
    isBase64Encoded: input.base64 ?? false,
    ...(body !== undefined ? { body } : {}),
  };
}

export const lambdaContext = {
  functionName: 'order-api',
  awsRequestId: 'aws-req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

export function parseBody(result: { body?: string }): unknown {
  return JSON.parse(result.body ?? 'null');
}
