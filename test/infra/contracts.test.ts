// What the synthesized stages promise the code: each function's environment parses with that
// function's own reader into the stage config's values, and every Kafka client's role has the
// MSK IAM actions its code needs (an idempotent producer's InitProducerId needs
// WriteDataIdempotently on the cluster).
import { Stack } from 'aws-cdk-lib';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV, type EnvRecord, FUNCTION_ENV, type FunctionName } from '../../lambdas/shared/env';
import { KAFKA_CLIENTS, type KafkaClientName } from '../../lambdas/shared/kafka/clients';
import {
  consumerSettings,
  kafkaClientSettings,
  migrateSettings,
  orderApiSettings,
  pgTimeouts,
  relaySettings,
  triageSettings,
} from '../../lib/config/function-environment';
import type { StageName } from '../../lib/config/stage-config';
import type { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { allResources, resourcesOfType, type SynthesizedPipeline, synthPipeline } from './synth';

type Json = Record<string, unknown>;
const props = (r: Json) => (r.Properties ?? {}) as Json;
const asList = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/resolved/0000-1111';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:resolved-AbCdEf';

/** A deploy-time token (Ref, GetAtt, a cross-stack output) stands for a value of its kind. */
function resolved(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (name === ENV.kafkaClusterArn) return ARN;
  if (name === ENV.redisAuthSecretArn) return SECRET;
  return 'resolved.example.internal';
}

function environmentOf(p: SynthesizedPipeline, functionName: string): Record<string, string> {
  const found = resourcesOfType(p, 'AWS::Lambda::Function').find(
    ([, , r]) => props(r).FunctionName === functionName,
  );
  if (found === undefined) throw new Error(`no function named ${functionName}`);
  const vars = ((props(found[2]).Environment as Json | undefined)?.Variables ?? {}) as Json;
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolved(k, v)]));
}

/** What Lambda adds to every function's environment. */
function lambdaProvided(p: SynthesizedPipeline, functionName: string): EnvRecord {
  return { AWS_REGION: p.config.region, AWS_LAMBDA_FUNCTION_NAME: functionName };
}

const FUNCTIONS: readonly FunctionName[] = [
  'orderApi',
  'outboxRelay',
  'orderConsumer',
  'dlqTriage',
  'migrate',
  'kafkaTopics',
];

/** Variables a reader may do without (Powertools' own precedence, a path with a default). */
const OPTIONAL = new Set<string>([ENV.logLevel, ENV.migrationsDir, 'NODE_OPTIONS']);

describe.each<StageName>(['dev', 'prod'])('contracts (%s)', (stage) => {
  let p: SynthesizedPipeline;
  beforeAll(() => {
    p = synthPipeline(stage);
  });

  it.each(FUNCTIONS)('%s: its synthesized environment parses into the stage config', (name) => {
    const fn = p.config.functions[name];
    const env = { ...environmentOf(p, fn.name), ...lambdaProvided(p, fn.name) };
    const read = FUNCTION_ENV[name](env);
    expect(read.observability).toMatchObject({
      stage: p.config.stage,
      metricsNamespace: p.config.observability.metricsNamespace,
      logLevel: p.config.observability.logLevel,
    });
    if ('pg' in read) {
      const { roles, adminUser } = p.config.database;
      const role = name in roles ? roles[name as keyof typeof roles] : undefined;
      expect(read.pg).toMatchObject({
        database: p.config.database.databaseName,
        port: 5432,
        poolMax: p.config.database.poolMaxPerEnvironment,
        timeouts: pgTimeouts(p.config),
        region: p.config.region,
        // Each function logs in as its own role with an IAM token; only migrate as the admin,
        // with the password from Secrets Manager.
        ...(name === 'migrate'
          ? { user: adminUser, iamAuth: false, secretArn: expect.any(String) }
          : { user: role, iamAuth: true }),
      });
      expect(name === 'migrate' || role !== undefined, name).toBe(true);
    }
    if ('kafka' in read)
      expect(read.kafka).toEqual({ auth: 'iam', clusterArn: ARN, region: p.config.region });
    if ('api' in read) expect(read.api).toEqual(orderApiSettings(p.config));
    if ('relay' in read) expect(read.relay).toEqual(relaySettings(p.config));
    if ('consumer' in read) expect(read.consumer).toEqual(consumerSettings(p.config));
    if ('redis' in read) expect(read.redis).toMatchObject({ tls: true, authSecretArn: SECRET });
    if ('triage' in read) expect(read.triage).toEqual(triageSettings(p.config));
    if ('migrate' in read) expect(read.migrate).toEqual(migrateSettings(p.config));
    if ('kafkaClient' in read) expect(read.kafkaClient).toEqual(kafkaClientSettings(p.config));
  });

  it.each(FUNCTIONS)('%s: without any one of its variables, the cold start fails', (name) => {
    const fn = p.config.functions[name];
    const written = environmentOf(p, fn.name);
    const required = Object.keys(written).filter((v) => !OPTIONAL.has(v));
    expect(required.length).toBeGreaterThan(2);
    for (const variable of required) {
      const env: Record<string, string | undefined> = {
        ...written,
        ...lambdaProvided(p, fn.name),
      };
      delete env[variable];
      expect(() => FUNCTION_ENV[name](env), `${name} without ${variable}`).toThrow(variable);
    }
  });

  /** The statements of every policy attached to a function's role. */
  function roleStatements(fn: PipelineFunction): Json[] {
    const stack = Stack.of(fn.role);
    const roleId = stack.getLogicalId(fn.role.node.defaultChild as CfnRole);
    const statements: Json[] = [];
    for (const [, , r] of allResources(p)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const roles = asList(props(r).Roles as Json[] | undefined);
      if (!roles.some((ref) => ref.Ref === roleId)) continue;
      const doc = props(r).PolicyDocument as Json;
      statements.push(...asList(doc.Statement as Json[]));
    }
    return statements;
  }

  const FUNCTION_OF: Record<
    Exclude<KafkaClientName, 'dlqOperator'>,
    (p: SynthesizedPipeline) => PipelineFunction | undefined
  > = {
    outboxRelay: (x) => x.stacks.service.outboxRelay,
    orderConsumer: (x) => x.stacks.service.orderConsumer,
    dlqTriage: (x) => x.stacks.service.dlqTriage,
    kafkaTopics: (x) => x.stacks.streaming.topicsFunction,
  };

  it.each(Object.keys(FUNCTION_OF) as Array<keyof typeof FUNCTION_OF>)(
    '%s: its role has what its Kafka profile does, idempotent producer included',
    (client) => {
      const profile = KAFKA_CLIENTS[client];
      const fn = FUNCTION_OF[client](p);
      if (fn === undefined) throw new Error(`no function for ${client}`);
      const statements = roleStatements(fn);
      const allowing = (action: string) =>
        statements.filter((s) => asList(s.Action as string | string[]).includes(action));
      const idempotent = allowing('kafka-cluster:WriteDataIdempotently');
      if (profile.idempotentProducer) {
        // On the cluster itself (the cluster ARN, not a topic).
        expect(idempotent).toHaveLength(1);
        expect(JSON.stringify(idempotent[0]?.Resource)).not.toContain(':topic/');
      } else {
        expect(idempotent).toEqual([]);
      }
      const writes = JSON.stringify(allowing('kafka-cluster:WriteData').map((s) => s.Resource));
      for (const topic of profile.writes) {
        expect(writes).toContain(`/${p.config.kafka.topics[topic].name}"`);
      }
      if (profile.writes.length === 0) expect(writes).toBe('[]');
      const reads = JSON.stringify(allowing('kafka-cluster:ReadData').map((s) => s.Resource));
      for (const topic of profile.reads) {
        expect(reads).toContain(`/${p.config.kafka.topics[topic].name}"`);
      }
      if (profile.reads.length === 0) expect(reads).toBe('[]');
    },
  );

  it('both MSK mappings name the same poller group', () => {
    const groups = resourcesOfType(p, 'AWS::Lambda::EventSourceMapping').map(
      ([, , r]) => (props(r).ProvisionedPollerConfig as Json | undefined)?.PollerGroupName,
    );
    expect(groups).toEqual([p.config.mappings.pollerGroupName, p.config.mappings.pollerGroupName]);
  });
});
