import { beforeAll, describe, expect, it } from 'vitest';
import type { StageName } from '../../lib/config/stage-config';
import {
  allResources,
  props,
  resourcesOfType,
  type SynthesizedPipeline,
  synthPipeline,
} from './synth';

type Json = Record<string, unknown>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** Actions that AWS does not scope to a resource; `*` is the narrowest resource for them. */
const RESOURCE_WILDCARD_ACTIONS = new Set([
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  'ec2:DescribeVpcs',
  'ec2:DescribeSecurityGroups',
  // Active tracing (CDK adds these to every traced function's role).
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
]);

const asList = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** Identity-policy statements: AWS::IAM::Policy documents and roles' inline policies. */
function identityStatements(p: SynthesizedPipeline): Array<{ where: string; s: Statement }> {
  const out: Array<{ where: string; s: Statement }> = [];
  for (const [part, id, r] of allResources(p)) {
    const docs: Json[] = [];
    if (r.Type === 'AWS::IAM::Policy') docs.push(props(r).PolicyDocument as Json);
    if (r.Type === 'AWS::IAM::Role') {
      for (const pol of asList(props(r).Policies as Json[] | undefined))
        docs.push(pol.PolicyDocument as Json);
    }
    for (const doc of docs) {
      for (const s of asList(doc.Statement as Statement[])) out.push({ where: `${part}/${id}`, s });
    }
  }
  return out;
}

describe.each<StageName>(['dev', 'prod', 'localstack'])('security (%s)', (stage) => {
  let p: SynthesizedPipeline;
  beforeAll(() => {
    p = synthPipeline(stage);
  });
  const only = (type: string): Json => {
    const found = resourcesOfType(p, type).filter(([, , r]) => r.Type === type);
    const first = found[0];
    if (!first) throw new Error(`no ${type}`);
    return props(first[2]);
  };

  it('encrypts the database, forces TLS and keeps it private', () => {
    for (const [, , r] of resourcesOfType(p, 'AWS::RDS::DBInstance')) {
      const db = props(r);
      expect(db.PubliclyAccessible).toBe(false);
      if (!db.SourceDBInstanceIdentifier) {
        expect(db).toMatchObject({ StorageEncrypted: true, KmsKeyId: expect.anything() });
        expect(db.EnableIAMDatabaseAuthentication).toBe(true);
      }
    }
    expect(only('AWS::RDS::DBParameterGroup').Parameters).toMatchObject({ 'rds.force_ssl': '1' });
    // End-to-end IAM: no password or secret in the proxy's path at all.
    expect(only('AWS::RDS::DBProxy')).toMatchObject({
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
    });
    expect(only('AWS::RDS::DBProxy').Auth).toBeUndefined();
  });

  it('rotates the database credentials held in Secrets Manager', () => {
    // The localstack stage has no hosted rotation (features.databaseSecretRotation).
    const rotations = p.config.features.databaseSecretRotation ? 1 : 0;
    expect(resourcesOfType(p, 'AWS::SecretsManager::RotationSchedule')).toHaveLength(rotations);
    const secret = resourcesOfType(p, 'AWS::SecretsManager::Secret').find(([, id]) =>
      id.includes('PostgresSecret'),
    );
    expect(secret && props(secret[2]).KmsKeyId).toBeDefined();
    expect(secret && props(secret[2]).GenerateSecretString).toBeDefined();
  });

  it('runs the cache with TLS, AUTH from Secrets Manager and encryption at rest', () => {
    const cache = only('AWS::ElastiCache::ReplicationGroup');
    expect(cache).toMatchObject({
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      KmsKeyId: expect.anything(),
    });
    // A dynamic reference resolved by CloudFormation: the token never appears in the template.
    expect(JSON.stringify(cache.AuthToken)).toContain('{{resolve:secretsmanager:');
  });

  it('runs MSK with TLS only, IAM client auth, encryption at rest and no public access', () => {
    const cluster = only('AWS::MSK::Cluster');
    expect(cluster).toMatchObject({
      EncryptionInfo: {
        EncryptionAtRest: { DataVolumeKMSKeyId: expect.anything() },
        EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true },
      },
      ClientAuthentication: {
        Sasl: { Iam: { Enabled: true }, Scram: { Enabled: false } },
        Unauthenticated: { Enabled: false },
      },
      BrokerNodeGroupInfo: { ConnectivityInfo: { PublicAccess: { Type: 'DISABLED' } } },
    });
    // The localstack stage has no MSK configuration (features.mskConfiguration).
    if (!p.config.features.mskConfiguration) {
      expect(resourcesOfType(p, 'AWS::MSK::Configuration')).toHaveLength(0);
      return;
    }
    const server = String(only('AWS::MSK::Configuration').ServerProperties);
    expect(server).toContain('auto.create.topics.enable=false');
    expect(server).toContain('unclean.leader.election.enable=false');
  });

  it('encrypts the alarm topic and the triage backstop bucket, and rotates every key', () => {
    expect(only('AWS::SNS::Topic').KmsMasterKeyId).toBeDefined();
    const bucket = only('AWS::S3::Bucket');
    expect(JSON.stringify(bucket.BucketEncryption)).toContain('"SSEAlgorithm":"AES256"');
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    for (const [, , r] of resourcesOfType(p, 'AWS::KMS::Key')) {
      expect(props(r).EnableKeyRotation).toBe(true);
    }
  });

  it('denies non-TLS access to the topic and the bucket', () => {
    for (const type of ['AWS::SNS::TopicPolicy', 'AWS::S3::BucketPolicy']) {
      const statements = asList((only(type).PolicyDocument as Json).Statement as Json[]);
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('opens no security group to the internet', () => {
    const ingress = [
      ...resourcesOfType(p, 'AWS::EC2::SecurityGroupIngress').map(([, , r]) => props(r)),
      ...resourcesOfType(p, 'AWS::EC2::SecurityGroup').flatMap(([, , r]) =>
        asList(props(r).SecurityGroupIngress as Json[] | undefined),
      ),
    ];
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.CidrIp).not.toBe('0.0.0.0/0');
      expect(rule.CidrIpv6).not.toBe('::/0');
    }
  });

  it('places functions in private subnets and requires SigV4 on every API route', () => {
    for (const [, , r] of resourcesOfType(p, 'AWS::Lambda::Function')) {
      const vpc = props(r).VpcConfig as Json | undefined;
      // Only CDK's deploy-time provider functions (not VPC-bound) lack a VpcConfig.
      if (vpc) expect(JSON.stringify(vpc.SubnetIds)).not.toMatch(/egressSubnet/);
    }
    for (const [, , r] of resourcesOfType(p, 'AWS::ApiGatewayV2::Route')) {
      expect(props(r).AuthorizationType).toBe('AWS_IAM');
    }
    const stageProps = only('AWS::ApiGatewayV2::Stage');
    expect(stageProps.AccessLogSettings).toBeDefined();
    expect(stageProps.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: p.config.api.throttleRatePerSecond,
      ThrottlingBurstLimit: p.config.api.throttleBurst,
    });
  });

  it('runs every pipeline function with X-Ray active tracing and lets its role write segments', () => {
    const fns = resourcesOfType(p, 'AWS::Lambda::Function')
      .map(([, , r]) => props(r))
      .filter((f) => String(f.FunctionName ?? '').startsWith(p.config.prefix));
    // Every function the stage deploys (localstack has no kafka-topics custom resource).
    const { orderApi, outboxRelay, orderConsumer, dlqTriage, migrate } = p.config.functions;
    expect(fns.map((f) => f.FunctionName)).toEqual(
      expect.arrayContaining(
        [orderApi, outboxRelay, orderConsumer, dlqTriage, migrate].map((f) => f.name),
      ),
    );
    for (const f of fns) {
      expect(f.TracingConfig, String(f.FunctionName)).toEqual({ Mode: 'Active' });
    }
    // One grant per function role, as the construct's role is each function's own.
    const xray = identityStatements(p).filter(({ s }) =>
      asList(s.Action).includes('xray:PutTraceSegments'),
    );
    expect(xray.length).toBeGreaterThanOrEqual(fns.length);
    for (const { s } of xray) {
      expect(s.Effect).toBe('Allow');
      expect(asList(s.Action).sort()).toEqual([
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
  });

  it('grants no wildcard action, and a wildcard resource only where AWS allows nothing narrower', () => {
    const statements = identityStatements(p);
    expect(statements.length).toBeGreaterThan(20);
    const offenders: string[] = [];
    for (const { where, s } of statements) {
      if (s.Effect !== 'Allow') continue;
      const actions = asList(s.Action);
      const resources = asList(s.Resource);
      for (const a of actions)
        if (a === '*' || a.endsWith(':*')) offenders.push(`${where}: action ${a}`);
      if (resources.includes('*')) {
        const broad = actions.filter((a) => !RESOURCE_WILDCARD_ACTIONS.has(a));
        if (broad.length) offenders.push(`${where}: ${broad.join(',')} on *`);
      }
    }
    // CDK's own singleton providers (default-SG restriction, triggers) are not ours to scope.
    const ours = offenders.filter(
      (o) => !/CustomResourceProvider|CustomVpcRestrictDefaultSG/.test(o),
    );
    expect(ours).toEqual([]);
  });

  it('scopes the Kafka data-plane permissions to the cluster, topic and group ARNs', () => {
    const byRole = (fragment: string) =>
      identityStatements(p)
        .filter(({ where }) => where.includes(fragment))
        .map(({ s }) => s);
    const find = (fragment: string, action: string) =>
      byRole(fragment).find((s) => asList(s.Action).includes(action));
    const topicArn = (s: Statement | undefined) => JSON.stringify(s?.Resource);

    expect(topicArn(find('OrderConsumerRole', 'kafka-cluster:ReadData'))).toMatch(
      /:topic\/.*order-events"/,
    );
    expect(topicArn(find('OrderConsumerRole', 'kafka-cluster:AlterGroup'))).toContain(
      `/${p.config.mappings.orderConsumer.consumerGroupId}`,
    );
    expect(topicArn(find('OrderConsumerRole', 'kafka-cluster:WriteData'))).toMatch(
      /order-events-dlq/,
    );
    expect(
      find('OrderConsumerRole', 'kafka-cluster:DescribeClusterDynamicConfiguration'),
    ).toBeDefined();
    expect(find('OutboxRelayRole', 'kafka-cluster:WriteDataIdempotently')).toBeDefined();
    // The consumer dead-letters with an idempotent producer (see test/infra/contracts.test.ts).
    expect(find('OrderConsumerRole', 'kafka-cluster:WriteDataIdempotently')).toBeDefined();
    expect(topicArn(find('OutboxRelayRole', 'kafka-cluster:WriteData'))).toMatch(/order-events"/);
    expect(find('OutboxRelayRole', 'kafka-cluster:ReadData')).toBeUndefined();
    expect(topicArn(find('DlqTriageRole', 'kafka-cluster:ReadData'))).toMatch(/order-events-dlq/);
    expect(find('OrderApiRole', 'kafka-cluster:Connect')).toBeUndefined();
  });

  it("gives each function rds-db:connect as its own database role, and the admin to no one's token", () => {
    const connects = identityStatements(p).filter(({ s }) =>
      asList(s.Action).includes('rds-db:connect'),
    );
    const resourceOf = (fragment: string) =>
      connects
        .filter(({ where }) => where.includes(fragment))
        .map(({ s }) => JSON.stringify(s.Resource));
    const { roles, adminUser } = p.config.database;
    const expected: Record<string, string> = {
      OrderApiRole: roles.orderApi,
      OutboxRelayRole: roles.outboxRelay,
      OrderConsumerRole: roles.orderConsumer,
      DlqTriageRole: roles.dlqTriage,
    };
    for (const [fn, role] of Object.entries(expected)) {
      const granted = resourceOf(fn);
      expect(granted, fn).toHaveLength(1);
      expect(granted[0]).toMatch(new RegExp(`/${role}"`));
    }
    // The proxy logs in to the instance as exactly the functions' roles (end-to-end IAM).
    const proxy = resourceOf('ProxyRole').join(' ');
    for (const role of Object.values(roles)) expect(proxy).toContain(`/${role}`);
    // No token names the admin: the migration function logs in with the rotated password.
    expect(connects.map(({ s }) => JSON.stringify(s.Resource)).join(' ')).not.toContain(
      `/${adminUser}`,
    );
    expect(resourceOf('MigrateRole')).toHaveLength(0);
    // Operators log in through the proxy as the operator role, from a managed policy they attach.
    const operator = resourcesOfType(p, 'AWS::IAM::ManagedPolicy').find(([, id]) =>
      id.includes('OperatorDatabaseAccess'),
    );
    const statements = JSON.stringify(props(operator?.[2] ?? {}).PolicyDocument);
    expect(statements).toContain('rds-db:connect');
    expect(statements).toContain(`/${p.config.database.operatorRole}`);
    expect(proxy).toContain(`/${p.config.database.operatorRole}`);
  });

  it('lets only the migration function read the admin secret and reach the instance', () => {
    const readers = identityStatements(p)
      .filter(({ s }) => asList(s.Action).includes('secretsmanager:GetSecretValue'))
      .map(({ where }) => where);
    expect(readers.some((w) => w.includes('MigrateRole'))).toBe(true);
    for (const fn of ['OrderApiRole', 'OutboxRelayRole', 'DlqTriageRole']) {
      expect(
        readers.some((w) => w.includes(fn)),
        fn,
      ).toBe(false);
    }
    const migrate = resourcesOfType(p, 'AWS::Lambda::Function').find(([, id]) =>
      id.includes('Migrate'),
    );
    const vars = ((props(migrate?.[2] ?? {}).Environment as Json | undefined)?.Variables ??
      {}) as Json;
    expect(vars.PGUSER).toBe(p.config.database.adminUser);
    expect(vars.PG_IAM_AUTH).toBe('false');
    expect(JSON.stringify(vars.PG_SECRET_ARN)).toMatch(/Secret|secret/);
  });

  it('keeps secrets out of function environments', () => {
    for (const [, , r] of resourcesOfType(p, 'AWS::Lambda::Function')) {
      const vars = ((props(r).Environment as Json | undefined)?.Variables ?? {}) as Json;
      for (const [key, value] of Object.entries(vars)) {
        expect(key).not.toMatch(/PASSWORD|TOKEN(?!_)|SECRET(?!_ARN)/);
        expect(JSON.stringify(value)).not.toContain('{{resolve:secretsmanager');
      }
    }
  });
});

describe('network egress per stage', () => {
  it('prod reaches AWS APIs through interface endpoints only: no internet gateway, no NAT', () => {
    const p = synthPipeline('prod');
    expect(resourcesOfType(p, 'AWS::EC2::InternetGateway')).toHaveLength(0);
    expect(resourcesOfType(p, 'AWS::EC2::NatGateway')).toHaveLength(0);
    const services = resourcesOfType(p, 'AWS::EC2::VPCEndpoint').map(([, , r]) =>
      JSON.stringify(props(r).ServiceName),
    );
    for (const s of ['sts', 'secretsmanager', 'kafka', 'lambda', 'logs', 'monitoring', 's3']) {
      expect(services.some((name) => name.includes(`.${s}`))).toBe(true);
    }
  });

  it('dev uses one NAT gateway and no interface endpoints', () => {
    const p = synthPipeline('dev');
    expect(resourcesOfType(p, 'AWS::EC2::NatGateway')).toHaveLength(1);
    const endpoints = resourcesOfType(p, 'AWS::EC2::VPCEndpoint').map(([, , r]) => props(r));
    // Only the free S3 gateway endpoint (the triage backstop), no interface endpoint.
    expect(endpoints.map((e) => e.VpcEndpointType)).toEqual(['Gateway']);
  });

  it.each<StageName>(['dev', 'prod', 'localstack'])(
    '%s: the cluster subnets reach S3 (the triage backstop) through a gateway endpoint',
    (stage) => {
      const p = synthPipeline(stage);
      const [gateway] = resourcesOfType(p, 'AWS::EC2::VPCEndpoint')
        .map(([, , r]) => props(r))
        .filter((e) => e.VpcEndpointType === 'Gateway');
      expect(JSON.stringify(gateway?.ServiceName)).toContain('.s3');
      const routeTables = JSON.stringify(gateway?.RouteTableIds);
      const dataTables = resourcesOfType(p, 'AWS::EC2::RouteTable')
        .map(([, id]) => id)
        .filter((id) => id.includes('data'));
      expect(dataTables.length).toBe(p.config.availabilityZones.length);
      for (const id of dataTables) expect(routeTables).toContain(id);
      // MSK brokers (and so the mappings' pollers) live in those subnets.
      const cluster = resourcesOfType(p, 'AWS::MSK::Cluster').map(([, , r]) => props(r))[0];
      expect(JSON.stringify(cluster?.BrokerNodeGroupInfo)).toMatch(/datasubnet/i);
    },
  );
});

describe('the MSK pollers reach Lambda and STS from the cluster subnets', () => {
  it('dev (NAT): every data subnet routes 0.0.0.0/0 to the NAT gateway', () => {
    const p = synthPipeline('dev');
    const dataTables = resourcesOfType(p, 'AWS::EC2::RouteTable')
      .map(([, id]) => id)
      .filter((id) => id.includes('data'));
    expect(dataTables).toHaveLength(p.config.availabilityZones.length);
    const natRoutes = resourcesOfType(p, 'AWS::EC2::Route')
      .map(([, , r]) => props(r))
      .filter((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.NatGatewayId !== undefined);
    for (const table of dataTables) {
      expect(natRoutes.some((r) => JSON.stringify(r.RouteTableId).includes(table))).toBe(true);
    }
  });

  it('prod (endpoints): Lambda and STS interface endpoints admit the pollers’ security group', () => {
    const p = synthPipeline('prod');
    const services = resourcesOfType(p, 'AWS::EC2::VPCEndpoint').map(([, , r]) =>
      JSON.stringify(props(r).ServiceName),
    );
    for (const s of ['.lambda', '.sts']) expect(services.some((n) => n.includes(s))).toBe(true);
    const ingress = resourcesOfType(p, 'AWS::EC2::SecurityGroupIngress')
      .map(([, , r]) => props(r))
      .filter((r) => r.Description === 'MSK event pollers');
    expect(ingress).toHaveLength(1);
    expect(ingress[0]?.FromPort).toBe(443);
  });
});
