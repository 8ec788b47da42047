// The AWS side of the smoke test: the credential chain, SigV4 for execute-api, and the three
// read-only control-plane calls (CloudFormation DescribeStacks, CloudWatch DescribeAlarms,
// CloudWatch Logs FilterLogEvents), each turned into the plain data checks.ts judges.
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
} from '@aws-sdk/client-cloudwatch-logs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { alarmNamePrefix, functionLogGroupName } from '../../../lib/config/deployed-names';
import type { StageConfig } from '../../../lib/config/stage-config';
import {
  type AlarmState,
  consumerDeadLetterPattern,
  judgeAlarms,
  judgeDeadLetterLogs,
  type LogLine,
  type SearchWindow,
  type StackView,
  triageDeadLetterPattern,
} from './checks';
import type { RequestSigner } from './http';
import { errorText, type SmokeChecks } from './steps';

export type CredentialProvider = ReturnType<typeof defaultProvider>;

/** The standard chain: environment, shared config and credentials files (SSO too), IMDS/ECS. */
export function standardCredentials(): CredentialProvider {
  return defaultProvider();
}

export const NO_CREDENTIALS =
  'no AWS credentials found through the standard chain (env, shared config/SSO, IMDS)';

export class NoCredentialsError extends Error {
  override readonly name = 'NoCredentialsError';
}

/** Resolves the chain once, before any request, so a missing login fails first and plainly. */
export async function requireCredentials(provider: CredentialProvider): Promise<void> {
  try {
    await provider();
  } catch (error) {
    throw new NoCredentialsError(`${NO_CREDENTIALS}: ${errorText(error)}`);
  }
}

type SignableRequest = Parameters<SignatureV4['sign']>[0];

/** SigV4 for API Gateway's IAM authorizer: service `execute-api`, the stage's region. */
export function sigV4Signer(options: {
  readonly region: string;
  readonly credentials: CredentialProvider;
  /** Fixed signing time (tests). */
  readonly now?: () => Date;
}): RequestSigner {
  const signer = new SignatureV4({
    service: 'execute-api',
    region: options.region,
    credentials: options.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  return async (request) => {
    const { url } = request;
    const signable: SignableRequest = {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      // Host is signed; fetch sends the same value, from the same URL.
      headers: { ...request.headers, host: url.host },
      ...(request.body === undefined ? {} : { body: request.body }),
    };
    const signed = await signer.sign(
      signable,
      options.now === undefined ? undefined : { signingDate: options.now() },
    );
    const { host: _host, ...headers } = signed.headers;
    return headers;
  };
}

export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly cloudWatch: CloudWatchClient;
  readonly logs: CloudWatchLogsClient;
}

export function awsClients(options: {
  readonly region: string;
  readonly credentials: CredentialProvider;
  /** Another endpoint for all three (tests serve recorded responses from one). */
  readonly endpoint?: string;
}): AwsClients {
  const config = {
    region: options.region,
    credentials: options.credentials,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  };
  return {
    cloudFormation: new CloudFormationClient(config),
    cloudWatch: new CloudWatchClient(config),
    logs: new CloudWatchLogsClient(config),
  };
}

/** Pages followed at most per listing: far above what one stage's alarms or a minute of logs take. */
export const MAX_PAGES = 50;

/** The stack's status and outputs (DescribeStacks). */
export async function describeStack(
  client: CloudFormationClient,
  stackName: string,
): Promise<StackView> {
  let stacks: DescribeStacksCommandOutput['Stacks'];
  try {
    ({ Stacks: stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    // CloudFormation answers a missing stack with a ValidationError, not a 404.
    if (error instanceof Error && /does not exist/.test(error.message)) {
      throw new Error(
        `stack ${stackName} does not exist in ${await client.config.region()}: deploy the stage first, or use credentials of the account it is deployed in`,
      );
    }
    throw error;
  }
  const stack = stacks?.find((s) => s.StackName === stackName) ?? stacks?.[0];
  if (stack === undefined) throw new Error(`DescribeStacks returned no stack ${stackName}`);
  const outputs: Record<string, string> = {};
  for (const o of stack.Outputs ?? []) {
    if (o.OutputKey !== undefined && o.OutputValue !== undefined)
      outputs[o.OutputKey] = o.OutputValue;
  }
  return { status: stack.StackStatus ?? 'UNKNOWN', outputs };
}

/** Every metric alarm whose name starts with the prefix (DescribeAlarms, all pages). */
export async function listAlarms(client: CloudWatchClient, prefix: string): Promise<AlarmState[]> {
  const alarms: AlarmState[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const out = await client.send(
      new DescribeAlarmsCommand({
        AlarmNamePrefix: prefix,
        AlarmTypes: ['MetricAlarm'],
        MaxRecords: 100,
        ...(token === undefined ? {} : { NextToken: token }),
      }),
    );
    for (const a of out.MetricAlarms ?? []) {
      alarms.push({
        name: a.AlarmName ?? '(unnamed)',
        state: a.StateValue ?? 'UNKNOWN',
        reason: a.StateReason,
      });
    }
    token = out.NextToken;
    if (token === undefined) return alarms;
  }
  throw new Error(`DescribeAlarms still had more pages after ${MAX_PAGES}`);
}

/**
 * The log events of one group that match the pattern within the window (FilterLogEvents, all
 * pages: a page may be empty while a nextToken says the search goes on).
 */
export async function searchLogs(
  client: CloudWatchLogsClient,
  query: { readonly group: string; readonly pattern: string; readonly window: SearchWindow },
): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    let out: FilterLogEventsCommandOutput;
    try {
      out = await client.send(
        new FilterLogEventsCommand({
          logGroupName: query.group,
          filterPattern: query.pattern,
          startTime: query.window.fromMs,
          endTime: query.window.toMs,
          ...(token === undefined ? {} : { nextToken: token }),
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') {
        throw new Error(`log group ${query.group} does not exist (${error.message})`);
      }
      throw error;
    }
    for (const e of out.events ?? []) {
      if (e.message !== undefined) lines.push({ timestamp: e.timestamp ?? 0, message: e.message });
    }
    token = out.nextToken;
    if (token === undefined) return lines;
  }
  throw new Error(`FilterLogEvents on ${query.group} still had more pages after ${MAX_PAGES}`);
}

/** The stage's checks: its alarms, and dead-letter lines in the consumer's and triage's logs. */
export function awsChecks(config: StageConfig, clients: AwsClients): SmokeChecks {
  const prefix = alarmNamePrefix(config);
  const groups = {
    consumer: functionLogGroupName(config.functions.orderConsumer),
    triage: functionLogGroupName(config.functions.dlqTriage),
  };
  return {
    alarms: async () => judgeAlarms(await listAlarms(clients.cloudWatch, prefix), prefix),
    deadLetters: async (order, window) => {
      const [consumer, triage] = await Promise.all([
        searchLogs(clients.logs, {
          group: groups.consumer,
          pattern: consumerDeadLetterPattern(order.eventIds),
          window,
        }),
        searchLogs(clients.logs, {
          group: groups.triage,
          pattern: triageDeadLetterPattern(order.orderId),
          window,
        }),
      ]);
      return judgeDeadLetterLogs({ consumer, triage }, order, groups);
    },
  };
}
