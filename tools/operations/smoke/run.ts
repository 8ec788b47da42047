// One smoke run per mode, from the parsed command to the exit code: a deployed stage (its API
// from the stack outputs, signed requests, alarms and logs read from AWS) or `npm start`'s
// local API. The transports are built here; the sequence and verdicts are steps.ts and checks.ts.
import { randomUUID } from 'node:crypto';
import { parsePgEndpointEnv } from '../../../lambdas/shared/env';
import { SERVICE_STACK_OUTPUTS, stackName } from '../../../lib/config/deployed-names';
import { loadStageConfig } from '../../../lib/config/stage-config';
import { EXIT, type Output } from '../cli';
import type { Command } from './args';
import {
  awsChecks,
  awsClients,
  type CredentialProvider,
  describeStack,
  NoCredentialsError,
  requireCredentials,
  sigV4Signer,
  standardCredentials,
} from './aws';
import { apiUrlFromStack } from './checks';
import { httpOrderApi } from './http';
import { localChecks } from './local';
import {
  type Clock,
  errorText,
  formatElapsed,
  runSmoke,
  type SmokeResult,
  summaryLine,
  systemClock,
} from './steps';

export interface RunOverrides {
  readonly clock?: Clock;
  readonly pollIntervalMs?: number;
  /** AWS mode: the credential chain and one endpoint for the control-plane calls (tests). */
  readonly credentials?: CredentialProvider;
  readonly awsEndpoint?: string;
}

export async function runAws(
  command: Extract<Command, { kind: 'aws' }>,
  output: Output,
  overrides: RunOverrides = {},
): Promise<number> {
  const clock = overrides.clock ?? systemClock;
  const config = loadStageConfig(command.stage);
  const credentials = overrides.credentials ?? standardCredentials();
  try {
    await requireCredentials(credentials);
  } catch (error) {
    if (!(error instanceof NoCredentialsError)) throw error;
    output.err(`smoke: ${error.message}`);
    return EXIT.usage;
  }
  const startedAt = clock.now();
  const clients = awsClients({
    region: config.region,
    credentials,
    ...(overrides.awsEndpoint === undefined ? {} : { endpoint: overrides.awsEndpoint }),
  });
  const name = stackName(config, 'service');
  output.out(`smoke: stage ${config.stage} (${config.region}), stack ${name}`);
  let located: ReturnType<typeof apiUrlFromStack>;
  try {
    const stack = await describeStack(clients.cloudFormation, name);
    located = apiUrlFromStack(stack, name, SERVICE_STACK_OUTPUTS.apiUrl);
    if (located.ok) {
      output.out(
        `${formatElapsed(clock.now() - startedAt)} DescribeStacks ${name} (${stack.status}) -> ${located.url}`,
      );
    }
  } catch (error) {
    located = { ok: false, reason: `DescribeStacks ${name}: ${errorText(error)}` };
  }
  if (!located.ok) {
    output.err(`smoke: FAILED: ${located.reason}`);
    return EXIT.failure;
  }
  const api = httpOrderApi({
    baseUrl: located.url,
    correlationId: `smoke-${randomUUID()}`,
    sign: sigV4Signer({ region: config.region, credentials }),
  });
  const result = await runSmoke(
    { api, checks: awsChecks(config, clients), print: output.out, clock },
    smokeOptions(command.timeoutMs, startedAt, overrides),
  );
  return finish(result, output);
}

export async function runLocal(
  command: Extract<Command, { kind: 'local' }>,
  output: Output,
  overrides: RunOverrides = {},
): Promise<number> {
  const clock = overrides.clock ?? systemClock;
  const pgEnv = parsePgEndpointEnv(process.env);
  output.out(
    `smoke: local order API ${command.url} (unsigned); dead letters from PostgreSQL ${pgEnv.host}:${pgEnv.port}/${pgEnv.database}`,
  );
  const api = httpOrderApi({ baseUrl: command.url, correlationId: `smoke-${randomUUID()}` });
  const result = await runSmoke(
    { api, checks: localChecks(pgEnv), print: output.out, clock },
    smokeOptions(command.timeoutMs, clock.now(), overrides),
  );
  return finish(result, output);
}

function smokeOptions(timeoutMs: number, startedAt: number, overrides: RunOverrides) {
  return {
    timeoutMs,
    startedAt,
    ...(overrides.pollIntervalMs === undefined ? {} : { pollIntervalMs: overrides.pollIntervalMs }),
  };
}

function finish(result: SmokeResult, output: Output): number {
  if (result.passed) {
    output.out(summaryLine(result));
    return EXIT.ok;
  }
  output.err(summaryLine(result));
  return EXIT.failure;
}
