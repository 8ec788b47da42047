// The decisions of `npm run deploy:localstack`, as pure functions: what is missing, where
// LocalStack should answer, what its health report says, and which commands to run.
// deploy.ts does the I/O (HTTP probe, spawning cdklocal).
import { z } from 'zod';
import { loadStageConfig } from '../../../lib/config/stage-config';
import { paidServices } from './coverage';

export type Env = Readonly<Record<string, string | undefined>>;

export const STAGE = 'localstack';
export const TOKEN_VARIABLE = 'LOCALSTACK_AUTH_TOKEN';
export const TOKEN_PAGE = 'https://app.localstack.cloud/workspace/auth-token';
export const START_LOCALSTACK = 'docker compose --profile localstack up -d localstack';
/** Where cdklocal sends requests unless AWS_ENDPOINT_URL says otherwise (aws-cdk-local 3.0.4). */
export const CDKLOCAL_ENDPOINT = 'http://localhost.localstack.cloud:4566';
/** The same port by address, for when the name above does not resolve. */
export const LOOPBACK_ENDPOINT = 'http://127.0.0.1:4566';
export const HEALTH_PATH = '/_localstack/health';

export interface Command {
  /** What the user reads before it runs. */
  readonly title: string;
  readonly args: readonly string[];
}

export type Plan =
  | { readonly ok: false; readonly message: string }
  | {
      readonly ok: true;
      /** Probed in order; the first one must be where cdklocal will send its requests. */
      readonly endpoints: readonly string[];
      readonly commands: readonly Command[];
      /** The environment of the cdklocal processes: the auth token is not passed on. */
      readonly childEnv: Env;
    };

const present = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** The message when there is no token: what is needed, where to get it, what runs without it. */
export function missingTokenMessage(): string {
  const paid = paidServices().map(
    (s) => `    - ${s.service}: ${s.plan}${s.note ? ` (${s.note})` : ''}`,
  );
  return [
    `npm run deploy:${STAGE} needs a LocalStack auth token: ${TOKEN_VARIABLE} is not set.`,
    '',
    `  Every LocalStack image asks for one. Get yours at ${TOKEN_PAGE}, then:`,
    `    export ${TOKEN_VARIABLE}=<your token>`,
    `    ${START_LOCALSTACK}`,
    `    npm run deploy:${STAGE}`,
    '',
    `  The ${STAGE} stage uses services from LocalStack's paid plans:`,
    ...paid,
    '    and its CloudFormation custom resources need the Pro image.',
    '',
    '  Without LocalStack, `npm start` runs the whole pipeline on this machine against real',
    '  Kafka, PostgreSQL and Redis.',
    '',
    'Nothing was deployed.',
  ].join('\n');
}

/**
 * What to do, before touching the network. `cdklocal` is the path of aws-cdk-local's bin
 * script and `node` the interpreter to run it with.
 */
export function plan(env: Env, tools: { node: string; cdklocal: string }): Plan {
  if (!present(env[TOKEN_VARIABLE])) return { ok: false, message: missingTokenMessage() };

  const custom = env.AWS_ENDPOINT_URL;
  if (present(custom) && !present(env.AWS_ENDPOINT_URL_S3)) {
    // cdklocal stops with the same rule; say it before anything runs.
    return {
      ok: false,
      message: [
        `AWS_ENDPOINT_URL is set (${custom}) but AWS_ENDPOINT_URL_S3 is not.`,
        '  cdklocal needs both: the S3 endpoint for the deploy assets must contain `.s3.`,',
        '  e.g. AWS_ENDPOINT_URL_S3=http://s3.localhost.localstack.cloud:4566.',
        'Nothing was deployed.',
      ].join('\n'),
    };
  }

  const { [TOKEN_VARIABLE]: _token, ...childEnv } = env;
  const cdk = (title: string, ...args: string[]): Command => ({
    title,
    args: [tools.node, tools.cdklocal, ...args],
  });
  const stage = ['-c', `stage=${STAGE}`];
  return {
    ok: true,
    endpoints: present(custom) ? [custom] : [CDKLOCAL_ENDPOINT, LOOPBACK_ENDPOINT],
    commands: [
      // The stage's env (region, account from LocalStack's credentials) picks what to bootstrap.
      cdk('cdklocal bootstrap', 'bootstrap', ...stage),
      cdk('cdklocal deploy', 'deploy', '--all', ...stage, '--require-approval', 'never'),
    ],
    childEnv,
  };
}

export function healthUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}${HEALTH_PATH}`;
}

/** The outcome of one GET of the health URL. */
export type Probe =
  | {
      readonly endpoint: string;
      readonly ok: true;
      readonly status: number;
      readonly body: unknown;
    }
  | { readonly endpoint: string; readonly ok: false; readonly error: string };

const healthSchema = z.object({
  services: z.record(z.string(), z.string()),
  edition: z.string().optional(),
  version: z.string().optional(),
});

/** LocalStack's names for the services the stage and the CDK bootstrap stack use. */
export const REQUIRED_SERVICES: readonly string[] = [
  'cloudformation',
  's3',
  'ssm',
  'ecr',
  'iam',
  'sts',
  'lambda',
  'kafka',
  'rds',
  'elasticache',
  'apigateway',
  'ec2',
  'kms',
  'secretsmanager',
  'events',
  'cloudwatch',
  'logs',
  'sqs',
  'sns',
];
const USABLE = new Set(['available', 'running']);

export type HealthVerdict =
  | { readonly ok: false; readonly message: string }
  | {
      readonly ok: true;
      readonly endpoint: string;
      readonly version: string | undefined;
      /** Not fatal: the report's service names and states vary between LocalStack releases. */
      readonly warnings: readonly string[];
    };

const describeProbe = (p: Probe): string =>
  p.ok ? `HTTP ${p.status}` : p.error.replace(/\s+/g, ' ').trim();

/** Reads the probes of `plan().endpoints` (same order) and decides whether to deploy. */
export function assessHealth(probes: readonly Probe[]): HealthVerdict {
  const answered = probes.find((p) => p.ok && p.status >= 200 && p.status < 300);
  if (!answered?.ok) {
    const tried = probes.map((p) => `    ${healthUrl(p.endpoint)}: ${describeProbe(p)}`);
    return {
      ok: false,
      message: [
        'LocalStack does not answer:',
        ...tried,
        `  Start it (with ${TOKEN_VARIABLE} exported) and run this again once it is healthy:`,
        `    ${START_LOCALSTACK}`,
        '  If it runs elsewhere, set AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3 to it.',
        'Nothing was deployed.',
      ].join('\n'),
    };
  }
  const first = probes[0];
  if (first && answered.endpoint !== first.endpoint) {
    return {
      ok: false,
      message: [
        `LocalStack answers at ${answered.endpoint} but not at ${first.endpoint} (${describeProbe(first)}).`,
        '  cdklocal sends its requests to localhost.localstack.cloud, a public DNS name for',
        '  127.0.0.1: check that it resolves (it needs a DNS server; /etc/hosts cannot map the',
        '  bucket subdomains), or set AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3 yourself.',
        'Nothing was deployed.',
      ].join('\n'),
    };
  }
  const parsed = healthSchema.safeParse(answered.body);
  if (!parsed.success) {
    return {
      ok: false,
      message: [
        `${healthUrl(answered.endpoint)} answered, but not with LocalStack's health report`,
        '  (no "services" map). Is something else listening on that port?',
        'Nothing was deployed.',
      ].join('\n'),
    };
  }
  const services = parsed.data.services;
  const unusable = REQUIRED_SERVICES.filter((s) => !USABLE.has(services[s] ?? 'missing'));
  const warnings =
    unusable.length === 0
      ? []
      : [
          `LocalStack reports these services as missing or not available: ${unusable
            .map((s) => `${s} (${services[s] ?? 'missing'})`)
            .join(', ')}. The deploy may fail where the stage uses them; check that your`,
          'license plan includes them.',
        ];
  return { ok: true, endpoint: answered.endpoint, version: parsed.data.version, warnings };
}

/** The region the stage deploys to, from the stage config. */
export function stageRegion(): string {
  return loadStageConfig(STAGE).region;
}
