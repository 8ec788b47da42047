// What the synthesized stages promise the code: each function's environment parses with that
// function's own reader into the stage config's values, every Kafka client's role has the
// MSK IAM actions its code needs (an idempotent producer's InitProducerId needs
// WriteDataIdempotently on the cluster), and the Kafka functions get the cluster's IAM brokers
// from a deploy-time lookup instead of calling MSK's control plane at cold start.
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
import { BOOTSTRAP_BROKERS_FIELD } from '../../lib/stacks/streaming-stack';
import { allResources, resourcesOfType, type SynthesizedPipeline, synthPipeline } from './synth';

type Json = Record<string, unknown>;
const props = (r: Json) => (r.Properties ?? {}) as Json;
const asList = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

const IAM_BROKERS =
  'b-1.resolved.kafka.eu-west-1.amazonaws.com:9098,b-2.resolved.kafka.eu-west-1.amazonaws.com:9098';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:resolved-AbCdEf';

/** A deploy-time token (Ref, GetAtt, a cross-stack output) stands for a value of its kind. */
function resolved(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (name === ENV.kafkaBrokers) return IAM_BROKERS;
  if (name === ENV.redisAuthSecretArn) return SECRET;
  return 'resolved.example.internal';
}

/** A function's environment as synthesized: literals, and tokens as CloudFormation writes them. */
function rawEnvironmentOf(p: SynthesizedPipeline, functionName: string): Json {
  const found = resourcesOfType(p, 'AWS::Lambda::Function').find(
    ([, , r]) => props(r).FunctionName === functionName,
  );
  if (found === undefined) throw new Error(`no function named ${functionName}`);
  return ((props(found[2]).Environment as Json | undefined)?.Variables ?? {}) as Json;
}

function environmentOf(p: SynthesizedPipeline, functionName: string): Record<string, string> {
  const vars = rawEnvironmentOf(p, functionName);
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolved(k, v)]));
}

/** A cross-stack `Fn::ImportValue`, followed to the value its export names; anything else as is. */
function followImport(p: SynthesizedPipeline, value: unknown): unknown {
  const name = (value as Json | undefined)?.['Fn::ImportValue'];
  if (typeof name !== 'string') return value;
  for (const t of Object.values(p.templates)) {
    const outputs = ((t.toJSON() as Json).Outputs ?? {}) as Record<string, Json>;
    for (const o of Object.values(outputs)) {
      if ((o.Export as Json | undefined)?.Name === name) return o.Value;
    }
  }
  throw new Error(`no export named ${name}`);
}

function streamingResource(p: SynthesizedPipeline, logicalId: string): Json {
  const found = allResources(p).find(([part, id]) => part === 'streaming' && id === logicalId);
  if (found === undefined) throw new Error(`no streaming resource ${logicalId}`);
  return found[2];
}

/** The MSK cluster's ARN as its own stack references it. */
function clusterArnRef(p: SynthesizedPipeline): Json {
  const clusters = resourcesOfType(p, 'AWS::MSK::Cluster');
  expect(clusters).toHaveLength(1);
  return { 'Fn::GetAtt': [clusters[0]?.[1], 'Arn'] };
}

/** Stands for the cluster's ARN in a decoded AwsCustomResource call. */
const CLUSTER = '<cluster ARN>';

/** An AwsCustomResource call (a JSON string joined around tokens), decoded. */
function sdkCall(p: SynthesizedPipeline, value: unknown): unknown {
  const cluster = JSON.stringify(clusterArnRef(p));
  const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = join[1]
    .map((part) => {
      if (typeof part === 'string') return part;
      if (JSON.stringify(part) === cluster) return CLUSTER;
      throw new Error(`unexpected token ${JSON.stringify(part)}`);
    })
    .join(join[0]);
  return JSON.parse(text);
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

/** The functions that connect to Kafka. */
const KAFKA_FUNCTIONS: readonly FunctionName[] = [
  'outboxRelay',
  'orderConsumer',
  'dlqTriage',
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
    if ('kafka' in read) {
      expect(read.kafka).toEqual({
        auth: 'iam',
        brokers: IAM_BROKERS.split(','),
        region: p.config.region,
      });
    }
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
      // MSK control plane: nothing for the code, which gets its brokers from the environment.
      // Only a function with an MSK event source mapping has the two lookups the mapping's
      // pollers make with its role (AWSLambdaMSKExecutionRole's cluster part), on this cluster.
      const controlPlane = statements.filter((st) =>
        asList(st.Action as string | string[]).some((a) => a.startsWith('kafka:')),
      );
      if (profile.mapping === undefined) {
        expect(controlPlane).toEqual([]);
      } else {
        expect(
          controlPlane.map((st) => ({ ...st, Resource: followImport(p, st.Resource) })),
        ).toEqual([
          {
            Sid: 'MskPollerClusterLookup',
            Effect: 'Allow',
            Action: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
            Resource: clusterArnRef(p),
          },
        ]);
      }
    },
  );

  it('resolves the IAM brokers once per deployment: GetBootstrapBrokers on this cluster only', () => {
    const lookups = resourcesOfType(p, 'Custom::MskBootstrapBrokers');
    expect(lookups).toHaveLength(1);
    const [part, , lookup] = lookups[0] as [string, string, Json];
    expect(part).toBe('streaming');
    const call = {
      service: 'kafka',
      action: 'GetBootstrapBrokers',
      parameters: { ClusterArn: CLUSTER },
      // The cluster's ARN: a replaced cluster changes it, so the update reads again.
      physicalResourceId: { id: CLUSTER },
      outputPaths: [BOOTSTRAP_BROKERS_FIELD],
    };
    expect(sdkCall(p, props(lookup).Create)).toEqual(call);
    expect(sdkCall(p, props(lookup).Update)).toEqual(call);
    expect(props(lookup).Delete).toBeUndefined();
    // The Lambda runtime's SDK: no npm install during the deployment.
    expect(props(lookup).InstallLatestAwsSdk).toBe(false);

    // Its provider function may call that one action on that one cluster, and logs with the
    // stage's retention.
    const providerId = (props(lookup).ServiceToken as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];
    const provider = streamingResource(p, providerId);
    const roleId = (props(provider).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const granted = allResources(p)
      .filter(([, , r]) => r.Type === 'AWS::IAM::Policy')
      .filter(([, , r]) => asList(props(r).Roles as Json[]).some((ref) => ref.Ref === roleId))
      .flatMap(([, , r]) => asList((props(r).PolicyDocument as Json).Statement as Json[]));
    expect(granted).toEqual([
      { Action: 'kafka:GetBootstrapBrokers', Effect: 'Allow', Resource: clusterArnRef(p) },
    ]);
    const logGroupId = ((props(provider).LoggingConfig as Json).LogGroup as { Ref: string }).Ref;
    expect(props(streamingResource(p, logGroupId)).RetentionInDays).toBe(
      p.config.observability.logRetentionDays,
    );
  });

  it.each(KAFKA_FUNCTIONS)('%s: KAFKA_BROKERS is the deploy-time lookup, with IAM auth', (name) => {
    const vars = rawEnvironmentOf(p, p.config.functions[name].name);
    expect(vars[ENV.kafkaAuth]).toBe('iam');
    const lookupId = resourcesOfType(p, 'Custom::MskBootstrapBrokers')[0]?.[1];
    expect(followImport(p, vars[ENV.kafkaBrokers])).toEqual({
      'Fn::GetAtt': [lookupId, BOOTSTRAP_BROKERS_FIELD],
    });
    expect(vars.KAFKA_CLUSTER_ARN).toBeUndefined();
  });

  it('grants kafka:GetBootstrapBrokers to the lookup and the MSK mappings only', () => {
    const holders = allResources(p)
      .filter(([, , r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      .filter(([, , r]) =>
        asList((props(r).PolicyDocument as Json).Statement as Json[]).some((st) =>
          asList(st.Action as string | string[]).includes('kafka:GetBootstrapBrokers'),
        ),
      )
      .map(([, id]) => id.replace(/[0-9A-F]{8}$/, ''));
    expect(holders.sort()).toEqual(
      [
        'BootstrapBrokersCustomResourcePolicy',
        'DlqTriageRoleDefaultPolicy',
        'OrderConsumerRoleDefaultPolicy',
      ].sort(),
    );
  });

  it('both MSK mappings name the same poller group', () => {
    const groups = resourcesOfType(p, 'AWS::Lambda::EventSourceMapping').map(
      ([, , r]) => (props(r).ProvisionedPollerConfig as Json | undefined)?.PollerGroupName,
    );
    expect(groups).toEqual([p.config.mappings.pollerGroupName, p.config.mappings.pollerGroupName]);
  });
});
