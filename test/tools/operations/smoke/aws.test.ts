// The AWS side of the smoke test through the real SDK clients, against recorded responses served
// over HTTP in each service's wire format (recorded-aws.ts, test/fixtures/aws/smoke/SOURCE.md),
// and SigV4 checked by an independent implementation of the documented algorithm.
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import type { Output } from '../../../../tools/operations/cli';
import {
  awsChecks,
  awsClients,
  describeStack,
  listAlarms,
  NO_CREDENTIALS,
  NoCredentialsError,
  requireCredentials,
  searchLogs,
  sigV4Signer,
} from '../../../../tools/operations/smoke/aws';
import { apiUrlFromStack, judgeAlarms } from '../../../../tools/operations/smoke/checks';
import { httpOrderApi } from '../../../../tools/operations/smoke/http';
import { runAws } from '../../../../tools/operations/smoke/run';
import { type StandIn, startStandIn } from './order-api-standin';
import { type RecordedAws, startRecordedAws, TEST_CREDENTIALS } from './recorded-aws';

const ORDER_ID = '7d0f3c2e-5b1a-4e8f-9c6d-2a4b8e1f0c37';
const EVENT_IDS = [
  '0c9e4a7b-2d1f-4c3e-8a5b-6f7e8d9c0b1a',
  '3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9',
  '5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b',
];
const RECORDED_API_URL = 'https://k7d2m9q4xa.execute-api.eu-west-1.amazonaws.com/';
const STACK = 'order-pipeline-dev-service';
const GROUPS = {
  consumer: '/aws/lambda/order-pipeline-dev-order-consumer',
  triage: '/aws/lambda/order-pipeline-dev-dlq-triage',
};
const credentials = async () => TEST_CREDENTIALS;
const config = loadStageConfig('dev');

let aws: RecordedAws;
beforeEach(async () => {
  aws = await startRecordedAws();
});
afterEach(async () => {
  await aws.close();
});
const clients = () => awsClients({ region: 'eu-west-1', credentials, endpoint: aws.endpoint });

describe('CloudFormation DescribeStacks (query protocol: form request, XML response)', () => {
  it('reads the service stack’s status and outputs', async () => {
    aws.queue('DescribeStacks', { file: 'describe-stacks-service.xml' });
    const stack = await describeStack(clients().cloudFormation, STACK);
    expect(stack).toEqual({ status: 'UPDATE_COMPLETE', outputs: { ApiUrl: RECORDED_API_URL } });
    expect(apiUrlFromStack(stack, STACK, 'ApiUrl')).toEqual({ ok: true, url: RECORDED_API_URL });
    expect(aws.calls).toHaveLength(1);
    expect(aws.calls[0]?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(aws.calls[0]?.params).toEqual({
      Action: 'DescribeStacks',
      Version: '2010-05-15',
      StackName: STACK,
    });
  });

  it('a stack whose deploy of this version rolled back has no ApiUrl output', async () => {
    aws.queue('DescribeStacks', { file: 'describe-stacks-no-api-url.xml' });
    const stack = await describeStack(clients().cloudFormation, STACK);
    expect(stack).toEqual({ status: 'UPDATE_ROLLBACK_COMPLETE', outputs: {} });
    expect(apiUrlFromStack(stack, STACK, 'ApiUrl')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('has no ApiUrl output'),
    });
  });

  it('a missing stack (ValidationError) says to deploy it, naming the region', async () => {
    aws.queue('DescribeStacks', { file: 'describe-stacks-missing.xml', status: 400 });
    await expect(describeStack(clients().cloudFormation, STACK)).rejects.toThrow(
      `stack ${STACK} does not exist in eu-west-1: deploy the stage first, or use credentials of the account it is deployed in`,
    );
  });
});

describe('CloudWatch DescribeAlarms (AWS JSON 1.0, as the pinned client speaks it)', () => {
  it('lists the stage’s metric alarms over every page', async () => {
    aws.queue(
      'DescribeAlarms',
      { file: 'describe-alarms-page-1.json' },
      { file: 'describe-alarms-page-2.json' },
    );
    const alarms = await listAlarms(clients().cloudWatch, 'order-pipeline-dev-');
    expect(alarms.map((a) => [a.name, a.state])).toEqual([
      ['order-pipeline-dev-consumer-lag-warning', 'OK'],
      ['order-pipeline-dev-dead-lettered-critical', 'OK'],
      ['order-pipeline-dev-outbox-oldest-pending-critical', 'OK'],
      ['order-pipeline-dev-db-cpu-critical', 'OK'],
      ['order-pipeline-dev-lambda-errors-migrate-critical', 'INSUFFICIENT_DATA'],
    ]);
    expect(judgeAlarms(alarms, 'order-pipeline-dev-')).toEqual({
      kind: 'passed',
      summary: '5 alarms, none in ALARM (INSUFFICIENT_DATA 1, OK 4)',
    });
    expect(aws.calls.map((c) => c.headers['x-amz-target'])).toEqual([
      'GraniteServiceVersion20100801.DescribeAlarms',
      'GraniteServiceVersion20100801.DescribeAlarms',
    ]);
    expect(aws.calls[0]?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(aws.calls.map((c) => c.params)).toEqual([
      { AlarmNamePrefix: 'order-pipeline-dev-', AlarmTypes: ['MetricAlarm'], MaxRecords: 100 },
      {
        AlarmNamePrefix: 'order-pipeline-dev-',
        AlarmTypes: ['MetricAlarm'],
        MaxRecords: 100,
        NextToken:
          'eyJhbGFybU5hbWUiOiJvcmRlci1waXBlbGluZS1kZXYtb3V0Ym94LW9sZGVzdC1wZW5kaW5nLWNyaXRpY2FsIn0=',
      },
    ]);
  });

  it('an alarm in ALARM fails the check with its state reason', async () => {
    aws.queue('DescribeAlarms', { file: 'describe-alarms-firing.json' });
    const alarms = await listAlarms(clients().cloudWatch, 'order-pipeline-dev-');
    expect(judgeAlarms(alarms, 'order-pipeline-dev-')).toEqual({
      kind: 'failed',
      reason: '1 of 2 alarms in ALARM: order-pipeline-dev-lambda-errors-order-consumer-critical',
      details: [
        'order-pipeline-dev-lambda-errors-order-consumer-critical: Threshold Crossed: 1 datapoint [2.0 (03/12/26 10:14:00)] was greater than the threshold (0.0).',
      ],
    });
  });
});

describe('CloudWatch Logs FilterLogEvents (AWS JSON 1.1)', () => {
  const window = { fromMs: 1_796_292_667_000, toMs: 1_796_293_022_000 };

  it('follows nextToken through an empty page to the last one', async () => {
    aws.queue(
      'FilterLogEvents',
      { file: 'filter-log-events-empty-page.json' },
      { file: 'filter-log-events-consumer-dead-lettered.json' },
    );
    const lines = await searchLogs(clients().logs, {
      group: GROUPS.consumer,
      pattern: '{ $.eventId = "3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9" }',
      window,
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.timestamp).toBe(1_796_292_931_204);
    expect(JSON.parse(lines[0]?.message ?? '{}')).toMatchObject({
      message: 'event dead-lettered',
      eventId: EVENT_IDS[1],
    });
    expect(aws.calls.map((c) => c.headers['x-amz-target'])).toEqual([
      'Logs_20140328.FilterLogEvents',
      'Logs_20140328.FilterLogEvents',
    ]);
    expect(aws.calls[0]?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(aws.calls[0]?.params).toEqual({
      logGroupName: GROUPS.consumer,
      filterPattern: '{ $.eventId = "3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9" }',
      startTime: window.fromMs,
      endTime: window.toMs,
    });
    expect(aws.calls[1]?.params.nextToken).toBe(
      'Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI-Jr7E4Rl7Q1nKqD2cCI_0J8xHqbYw7kLrKz2uQ',
    );
  });

  it('names a log group that does not exist (ResourceNotFoundException)', async () => {
    aws.queue('FilterLogEvents', { file: 'filter-log-events-no-group.json', status: 400 });
    await expect(
      searchLogs(clients().logs, { group: GROUPS.triage, pattern: 'x', window }),
    ).rejects.toThrow(
      `log group ${GROUPS.triage} does not exist (The specified log group does not exist.)`,
    );
  });

  it('the dead-letter check searches both groups for the order and fails on what it finds', async () => {
    aws.route('FilterLogEvents', (params) => ({
      file:
        params.logGroupName === GROUPS.consumer
          ? 'filter-log-events-consumer-dead-lettered.json'
          : 'filter-log-events-triage-redriven.json',
    }));
    const result = await awsChecks(config, clients()).deadLetters(
      { orderId: ORDER_ID, eventIds: EVENT_IDS },
      window,
    );
    expect(result).toEqual({
      kind: 'failed',
      reason: `2 dead-letter log line(s) for order ${ORDER_ID}`,
      details: [
        `2026-12-03T10:15:31.204Z ${GROUPS.consumer}: event dead-lettered TRANSIENT event ${EVENT_IDS[1]}: delivered 3 times without success: connection terminated unexpectedly`,
        `2026-12-03T10:15:33.918Z ${GROUPS.triage}: dead letter redriven to its source topic TRANSIENT PaymentCaptured event ${EVENT_IDS[1]}`,
      ],
    });
    const byGroup = Object.fromEntries(
      aws.calls.map((c) => [c.params.logGroupName, c.params.filterPattern]),
    );
    expect(byGroup).toEqual({
      [GROUPS.consumer]: `{ $.message = "event dead-lettered" && (${EVENT_IDS.map((id) => `$.eventId = "${id}"`).join(' || ')}) }`,
      [GROUPS.triage]: `{ $.aggregateId = "${ORDER_ID}" }`,
    });
  });
});

// --- SigV4 ----------------------------------------------------------------------------------

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) =>
  createHmac('sha256', key).update(data, 'utf8').digest();
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/**
 * Checks a request's signature the way AWS documents it ("Create a signed AWS API request",
 * IAM user guide): canonical request (each path segment encoded twice outside S3), string to
 * sign, the HMAC chain over date, region, service. Written apart from the signer under test.
 */
function verifySigV4(
  request: { method: string; path: string; headers: IncomingHttpHeaders; body: string },
  secret: string,
): { valid: boolean; scope: string; signedHeaders: string[] } {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : (value ?? '');
  };
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      header('authorization'),
    );
  if (auth === null) return { valid: false, scope: '', signedHeaders: [] };
  const [, , date, region, service, signed, signature] = auth as unknown as string[];
  const names = (signed as string).split(';');
  const canonicalRequest = [
    request.method,
    request.path
      .split('/')
      .map((segment) => rfc3986(rfc3986(decodeURIComponent(segment))))
      .join('/'),
    '',
    names.map((n) => `${n}:${header(n).trim().replace(/\s+/g, ' ')}\n`).join(''),
    signed,
    sha256(request.body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    header('x-amz-date'),
    scope,
    sha256(canonicalRequest),
  ].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${secret}`, date as string), region as string), service as string),
    'aws4_request',
  );
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return { valid: expected === signature, scope, signedHeaders: names };
}

describe('SigV4 for execute-api', () => {
  it('signs method, path, host, body and the session token for the stage’s region', async () => {
    const received: Array<{
      method: string;
      path: string;
      headers: IncomingHttpHeaders;
      body: string;
    }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const api = httpOrderApi({
        baseUrl: `http://127.0.0.1:${port}/`,
        correlationId: 'smoke-sig',
        sign: sigV4Signer({
          region: 'eu-west-1',
          credentials,
          now: () => new Date('2026-12-03T10:15:00.000Z'),
        }),
      });
      const answer = await api.request('POST', `orders/${ORDER_ID}/events`, {
        eventType: 'OrderShipped',
      });
      await api.request('GET', `orders/${ORDER_ID}`);
      expect(answer).toEqual({ status: 202, body: { ok: true } });

      const [post, get] = received;
      for (const request of [post, get]) {
        const check = verifySigV4(
          request as NonNullable<typeof post>,
          TEST_CREDENTIALS.secretAccessKey,
        );
        expect(check.valid).toBe(true);
        expect(check.scope).toBe('20261203/eu-west-1/execute-api/aws4_request');
        expect(check.signedHeaders).toEqual(
          expect.arrayContaining([
            'host',
            'x-amz-date',
            'x-amz-security-token',
            'x-correlation-id',
          ]),
        );
        expect(request?.headers['x-amz-date']).toBe('20261203T101500Z');
        expect(request?.headers['x-amz-security-token']).toBe(TEST_CREDENTIALS.sessionToken);
        expect(request?.headers.authorization).toContain(
          `Credential=${TEST_CREDENTIALS.accessKeyId}/`,
        );
      }
      expect(post?.body).toBe('{"eventType":"OrderShipped"}');
      expect(
        verifySigV4(post as NonNullable<typeof post>, TEST_CREDENTIALS.secretAccessKey)
          .signedHeaders,
      ).toContain('content-type');
      // A changed body no longer matches the signature.
      expect(
        verifySigV4(
          { ...(post as NonNullable<typeof post>), body: '{}' },
          TEST_CREDENTIALS.secretAccessKey,
        ).valid,
      ).toBe(false);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('credentials', () => {
  it('a chain that finds nothing is a NoCredentialsError with the chain’s reason', async () => {
    const empty = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };
    const error = await requireCredentials(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoCredentialsError);
    expect((error as Error).message).toBe(
      `${NO_CREDENTIALS}: Could not load credentials from any providers`,
    );
    await expect(requireCredentials(credentials)).resolves.toBeUndefined();
  });
});

// --- a whole stage run ----------------------------------------------------------------------

function capture(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/** Answers 403 like API Gateway's IAM authorizer unless the request is validly signed. */
function requireSignature(event: APIGatewayProxyEventV2) {
  const check = verifySigV4(
    {
      method: event.requestContext.http.method,
      path: event.rawPath,
      headers: event.headers,
      body: event.body ?? '',
    },
    TEST_CREDENTIALS.secretAccessKey,
  );
  return check.valid && check.scope.endsWith('/eu-west-1/execute-api/aws4_request')
    ? undefined
    : { statusCode: 403, body: '{"message":"Forbidden"}' };
}

describe('npm run smoke -- --stage dev, with recorded control-plane answers', () => {
  let standIn: StandIn | undefined;
  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  const startApi = async () => {
    standIn = await startStandIn({
      orderIds: [ORDER_ID],
      requestIds: [...EVENT_IDS],
      gate: requireSignature,
    });
    // The recorded stack's ApiUrl, pointed at the local stand-in for the data plane.
    aws.queue('DescribeStacks', {
      file: 'describe-stacks-service.xml',
      edit: (xml) => xml.replace(RECORDED_API_URL, standIn?.url ?? ''),
    });
    return standIn;
  };

  it('passes: stack output, signed order steps, alarms and both log groups', async () => {
    const api = await startApi();
    aws.queue(
      'DescribeAlarms',
      { file: 'describe-alarms-page-1.json' },
      { file: 'describe-alarms-page-2.json' },
    );
    aws.route('FilterLogEvents', () => ({ file: 'filter-log-events-none.json' }));
    const output = capture();
    const code = await runAws({ kind: 'aws', stage: 'dev', timeoutMs: 10_000 }, output, {
      credentials,
      awsEndpoint: aws.endpoint,
      pollIntervalMs: 5,
    });
    expect(output.stderr).toEqual([]);
    expect(code).toBe(0);
    const steps = output.stdout.map((l) => l.replace(/^\[ *\d+\.\d s\] /, ''));
    expect(steps).toEqual([
      'smoke: stage dev (eu-west-1), stack order-pipeline-dev-service',
      `DescribeStacks order-pipeline-dev-service (UPDATE_COMPLETE) -> ${api.url}`,
      `POST /orders -> 202 order ${ORDER_ID}`,
      'POST /orders/7d0f3c2e…/events PaymentCaptured -> 202',
      'POST /orders/7d0f3c2e…/events OrderShipped -> 202',
      'GET /orders/7d0f3c2e… -> 200 PAYMENT_CAPTURED v2',
      'GET /orders/7d0f3c2e… -> 200 SHIPPED v3 (2 polls)',
      'alarms: 5 alarms, none in ALARM (INSUFFICIENT_DATA 1, OK 4)',
      `dead letters: none for order 7d0f3c2e… (CloudWatch Logs: ${GROUPS.consumer}, ${GROUPS.triage})`,
      expect.stringMatching(new RegExp(`^smoke: passed in \\d+\\.\\d s \\(order ${ORDER_ID}\\)$`)),
    ]);
    expect(output.stdout[1]).toMatch(/^\[ +\d+\.\d s\] DescribeStacks/);
    // Every order request reached the API signed (the gate answers 403 otherwise).
    expect(api.events).toHaveLength(5);
    expect(aws.calls.map((c) => c.operation)).toEqual([
      'DescribeStacks',
      'DescribeAlarms',
      'DescribeAlarms',
      'FilterLogEvents',
      'FilterLogEvents',
    ]);
    const search = aws.calls.filter((c) => c.operation === 'FilterLogEvents');
    expect(search.map((c) => c.params.logGroupName).sort()).toEqual(
      [GROUPS.triage, GROUPS.consumer].sort(),
    );
    for (const c of search) {
      const { startTime, endTime } = c.params as { startTime: number; endTime: number };
      expect(endTime - startTime).toBeGreaterThanOrEqual(120_000);
      expect(endTime - startTime).toBeLessThan(180_000);
    }
  });

  it('fails with every reason: an alarm in ALARM and the order’s dead-letter lines', async () => {
    await startApi();
    aws.queue('DescribeAlarms', { file: 'describe-alarms-firing.json' });
    aws.route('FilterLogEvents', (params) => ({
      file:
        params.logGroupName === GROUPS.consumer
          ? 'filter-log-events-consumer-dead-lettered.json'
          : 'filter-log-events-triage-redriven.json',
    }));
    const output = capture();
    const code = await runAws({ kind: 'aws', stage: 'dev', timeoutMs: 10_000 }, output, {
      credentials,
      awsEndpoint: aws.endpoint,
      pollIntervalMs: 5,
    });
    expect(code).toBe(1);
    expect(output.stderr).toEqual([
      expect.stringMatching(
        new RegExp(
          `^smoke: FAILED in \\d+\\.\\d s \\(order ${ORDER_ID}\\): alarms: 1 of 2 alarms in ALARM: order-pipeline-dev-lambda-errors-order-consumer-critical; dead letters: 2 dead-letter log line\\(s\\) for order ${ORDER_ID}$`,
        ),
      ),
    ]);
    expect(output.stdout.join('\n')).toContain('event dead-lettered TRANSIENT event 3b2a1c0d');
  });

  it('stops before any order request when the stack is missing', async () => {
    aws.queue('DescribeStacks', { file: 'describe-stacks-missing.xml', status: 400 });
    const output = capture();
    const code = await runAws({ kind: 'aws', stage: 'dev', timeoutMs: 10_000 }, output, {
      credentials,
      awsEndpoint: aws.endpoint,
    });
    expect(code).toBe(1);
    expect(output.stderr).toEqual([
      'smoke: FAILED: DescribeStacks order-pipeline-dev-service: stack order-pipeline-dev-service does not exist in eu-west-1: deploy the stage first, or use credentials of the account it is deployed in',
    ]);
    expect(aws.calls.map((c) => c.operation)).toEqual(['DescribeStacks']);
  });

  it('exits 2 without credentials, before any request', async () => {
    const output = capture();
    const code = await runAws({ kind: 'aws', stage: 'dev', timeoutMs: 10_000 }, output, {
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
      awsEndpoint: aws.endpoint,
    });
    expect(code).toBe(2);
    expect(output.stderr).toEqual([
      `smoke: ${NO_CREDENTIALS}: Could not load credentials from any providers`,
    ]);
    expect(output.stdout).toEqual([]);
    expect(aws.calls).toEqual([]);
  });
});
