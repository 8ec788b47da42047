// Reads the AWS-shaped fixtures (test/fixtures/aws); each call returns a fresh copy, so a test
// may derive a mutated event from one without affecting another.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';

export const FIXTURES_DIR = join(__dirname, '..', 'fixtures', 'aws');

export type FixtureName =
  | 'apigw-http-v2-post-orders.json'
  | 'apigw-http-v2-post-orders-base64.json'
  | 'apigw-http-v2-get-health.json'
  | 'apigw-http-v2-response.json'
  | 'cfn-custom-resource-create.json'
  | 'cfn-custom-resource-update.json'
  | 'cfn-custom-resource-delete.json'
  | 'emf-metrics.json'
  | 'msk-event.json'
  | 'kafka-batch-response.json';

export function fixture<T = Record<string, unknown>>(name: FixtureName): T {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, name), 'utf8')) as T;
}

/** A Lambda context with every member of the `Context` type (@types/aws-lambda handler.d.ts). */
export function lambdaContext(functionName: string, remainingMs = 30_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: '8f5c1d2e-3b4a-4c6d-9e7f-0a1b2c3d4e5f',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/12/03/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
