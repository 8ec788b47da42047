import { RemovalPolicy, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type Environment, redisEnvironment } from '../../lambdas/shared/env';
import type { StageConfig } from '../config/stage-config';
import { acknowledge } from '../constructs/nag';
import { retentionDays } from '../constructs/pipeline-function';
import { type PipelineSecurityGroups, PORTS } from './network-stack';

export interface CacheStackProps extends StackProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly dataSubnets: ec2.SubnetSelection;
  readonly securityGroups: PipelineSecurityGroups;
}

export interface CacheEndpoint {
  readonly host: string;
  readonly port: number;
  readonly authSecret: secretsmanager.ISecret;
}

export function cacheEnvironment(cache: CacheEndpoint): Environment {
  return redisEnvironment({
    host: cache.host,
    port: cache.port,
    tls: true,
    authSecretArn: cache.authSecret.secretArn,
  });
}

/** ElastiCache (Valkey/Redis 7.x): the idempotency fast path. TLS + AUTH, encrypted at rest. */
export class CacheStack extends Stack {
  readonly cache: CacheEndpoint;

  constructor(scope: Construct, id: string, props: CacheStackProps) {
    super(scope, id, props);
    const { config } = props;
    const c = config.cache;

    const key = new kms.Key(this, 'CacheKey', {
      alias: `alias/${config.prefix}/cache`,
      description: 'ElastiCache at-rest encryption',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const authSecret = new secretsmanager.Secret(this, 'AuthToken', {
      secretName: `${config.prefix}/cache/auth-token`,
      description: 'ElastiCache AUTH token',
      // The AWS-managed Secrets Manager key: readers in other stacks are granted by IAM alone;
      // a customer key would make this stack's key policy name the service stack's roles.
      // ElastiCache accepts 16-128 printable characters without @, " or /.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });

    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      cacheSubnetGroupName: `${config.prefix}-cache`,
      description: 'Private data subnets',
      subnetIds: props.vpc.selectSubnets(props.dataSubnets).subnetIds,
    });
    const slowLog = new logs.LogGroup(this, 'SlowLog', {
      retention: retentionDays(config.observability.logRetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const group = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupId: c.replicationGroupId,
      replicationGroupDescription: `${config.prefix} idempotency cache`,
      engine: c.engine,
      engineVersion: c.engineVersion,
      cacheNodeType: c.nodeType,
      numCacheClusters: c.nodes,
      automaticFailoverEnabled: c.nodes > 1,
      multiAzEnabled: c.multiAz,
      port: PORTS.redis,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [props.securityGroups.cache.securityGroupId],
      atRestEncryptionEnabled: true,
      kmsKeyId: key.keyArn,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      // A dynamic reference: CloudFormation resolves it; the template never holds the token.
      authToken: SecretValue.secretsManager(authSecret.secretArn).unsafeUnwrap(),
      snapshotRetentionLimit: c.snapshotRetentionDays,
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: [
        {
          destinationType: 'cloudwatch-logs',
          destinationDetails: { cloudWatchLogsDetails: { logGroup: slowLog.logGroupName } },
          logFormat: 'json',
          logType: 'slow-log',
        },
      ],
    });
    group.addResourceDependency(subnetGroup);

    this.cache = { host: group.attrPrimaryEndPointAddress, port: PORTS.redis, authSecret };

    acknowledge(group, [
      {
        id: 'AwsSolutions-AEC5',
        reason: 'Default port: reachable only from the functions security group.',
      },
      ...(c.multiAz
        ? []
        : [
            {
              id: 'AwsSolutions-AEC4',
              reason: `Stage ${config.stage} runs one cache node by config; losing it costs only cache hits because PostgreSQL holds the idempotency ground truth.`,
            },
          ]),
    ]);
    acknowledge(authSecret, [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotating an ElastiCache AUTH token needs a ROTATE/SET update of the replication group, not a Secrets Manager rotation function; it is rotated by redeploying with a new secret version.',
      },
    ]);
  }
}
