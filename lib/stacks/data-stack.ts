import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { ENV, type Environment, pgEnvironment } from '../../lambdas/shared/env';
import { SERVICES } from '../../lambdas/shared/metrics-catalog';
import type { StageConfig } from '../config/stage-config';
import { acknowledge } from '../constructs/nag';
import { PipelineFunction } from '../constructs/pipeline-function';
import type { PipelineSecurityGroups } from './network-stack';
import { PORTS } from './network-stack';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly appSubnets: ec2.SubnetSelection;
  readonly dataSubnets: ec2.SubnetSelection;
  readonly securityGroups: PipelineSecurityGroups;
}

/** What functions need to reach PostgreSQL: the proxy endpoint and IAM database auth. */
export interface DatabaseEndpoint {
  readonly proxy: rds.DatabaseProxy;
  readonly databaseName: string;
  readonly user: string;
  readonly poolMax: number;
}

/** Environment for a function that talks to PostgreSQL through RDS Proxy with an IAM token. */
export function databaseEnvironment(db: DatabaseEndpoint): Environment {
  return pgEnvironment({
    host: db.proxy.endpoint,
    port: PORTS.postgres,
    database: db.databaseName,
    user: db.user,
    iamAuth: true,
    poolMax: db.poolMax,
  });
}

export function grantDatabaseConnect(db: DatabaseEndpoint, grantee: iam.IGrantable): void {
  db.proxy.grantConnect(grantee, db.user);
}

/**
 * RDS PostgreSQL 17 (encrypted, private, TLS forced), its credentials in Secrets Manager
 * with rotation, RDS Proxy with IAM auth and TLS, a read replica where configured, and the
 * schema migrations applied on every deploy by a trigger.
 */
export class DataStack extends Stack {
  readonly database: DatabaseEndpoint;
  readonly instance: rds.DatabaseInstance;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config, vpc, securityGroups } = props;
    const db = config.database;

    const key = new kms.Key(this, 'DatabaseKey', {
      alias: `alias/${config.prefix}/rds`,
      description: 'RDS storage, snapshots and the admin secret',
      enableKeyRotation: true,
      removalPolicy: db.removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    const databaseSg = new ec2.SecurityGroup(this, 'DatabaseSg', {
      vpc,
      description: 'RDS PostgreSQL: reachable from RDS Proxy and secret rotation only',
      allowAllOutbound: false,
    });

    const engine = rds.DatabaseInstanceEngine.postgres({
      version: rds.PostgresEngineVersion.of(db.engineVersion, db.engineMajorVersion),
    });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'TLS only; slow statements logged',
      parameters: {
        'rds.force_ssl': '1',
        log_min_duration_statement: '1000',
        log_connections: '1',
        log_disconnections: '1',
      },
    });

    const removalPolicy = {
      destroy: RemovalPolicy.DESTROY,
      snapshot: RemovalPolicy.SNAPSHOT,
      retain: RemovalPolicy.RETAIN,
    }[db.removal];

    // What the primary and its replicas share: placement, TLS CA, logs, IAM auth, parameters.
    const shared = {
      instanceType: new ec2.InstanceType(db.instanceType),
      vpc,
      vpcSubnets: props.dataSubnets,
      securityGroups: [databaseSg],
      port: PORTS.postgres,
      publiclyAccessible: false,
      parameterGroup,
      deletionProtection: db.deletionProtection,
      autoMinorVersionUpgrade: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      iamAuthentication: true,
    };

    this.instance = new rds.DatabaseInstance(this, 'Postgres', {
      ...shared,
      instanceIdentifier: db.instanceIdentifier,
      engine,
      databaseName: db.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret(db.adminUser, {
        secretName: `${config.prefix}/rds/admin`,
        encryptionKey: key,
      }),
      storageEncrypted: true,
      storageEncryptionKey: key,
      storageType: rds.StorageType.GP3,
      allocatedStorage: db.allocatedStorageGiB,
      maxAllocatedStorage: db.maxAllocatedStorageGiB,
      multiAz: db.multiAz,
      backupRetention: Duration.days(db.backupRetentionDays),
      removalPolicy,
      copyTagsToSnapshot: true,
    });

    for (let i = 1; i <= db.readReplicas; i++) {
      // Encryption is inherited from the source instance (and its key) in the same region;
      // a replica cannot snapshot on deletion, so it is retained or destroyed.
      const replica = new rds.DatabaseInstanceReadReplica(this, `ReadReplica${i}`, {
        ...shared,
        instanceIdentifier: `${db.instanceIdentifier}-replica-${i}`,
        sourceDatabaseInstance: this.instance,
        removalPolicy: db.removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      });
      acknowledge(replica, [
        {
          id: 'AwsSolutions-RDS11',
          reason: 'Default port: reachable only from the proxy and rotation security groups.',
        },
        {
          id: 'AwsSolutions-RDS3',
          reason: 'A read replica; Multi-AZ durability is the primary instance setting.',
        },
        {
          id: 'AwsSolutions-RDS2',
          reason:
            'A same-region replica inherits the encrypted storage and KMS key of its source; CloudFormation rejects StorageEncrypted on replicas.',
        },
      ]);
    }

    const secret = this.instance.secret;
    if (!secret) throw new Error('generated admin secret missing');
    if (config.features.databaseSecretRotation) {
      this.instance.connections.allowDefaultPortFrom(securityGroups.rotation, 'secret rotation');
      secret.addRotationSchedule('Rotation', {
        automaticallyAfter: Duration.days(db.rotationDays),
        hostedRotation: secretsmanager.HostedRotation.postgreSqlSingleUser({
          functionName: `${config.prefix}-rds-rotation`,
          vpc,
          vpcSubnets: props.appSubnets,
          securityGroups: [securityGroups.rotation],
        }),
      });
    } else {
      // `instance.secret` is the attachment; the finding is on the generated secret itself.
      const generated = this.instance.node.findChild('Secret');
      acknowledge(generated, [
        {
          id: 'AwsSolutions-SMG4',
          reason: `Stage ${config.stage} has no hosted rotation by config (features.databaseSecretRotation): it needs the AWS::SecretsManager-2024-09-16 transform, which LocalStack does not run.`,
        },
      ]);
    }

    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      dbProxyName: db.proxyName,
      proxyTarget: rds.ProxyTarget.fromInstance(this.instance),
      secrets: [secret],
      vpc,
      vpcSubnets: props.dataSubnets,
      securityGroups: [securityGroups.proxy],
      iamAuth: true,
      requireTLS: true,
      // Lambda bursts open and close pools; keep headroom for migrations and rotation.
      maxConnectionsPercent: 80,
      borrowTimeout: Duration.seconds(30),
    });
    this.database = {
      proxy,
      databaseName: db.databaseName,
      user: db.adminUser,
      poolMax: db.poolMaxPerEnvironment,
    };

    const migrate = new PipelineFunction(this, 'Migrate', {
      config,
      function: config.functions.migrate,
      service: SERVICES.migrate,
      entry: 'migrate/handler.ts',
      description: 'Applies the schema migrations on deploy (CDK trigger)',
      vpc,
      vpcSubnets: props.appSubnets,
      securityGroups: [securityGroups.functions],
      environment: {
        ...databaseEnvironment(this.database),
        [ENV.migrationsDir]: '/var/task/migrations',
      },
      copyIntoBundle: [{ from: 'lambdas/migrate/migrations', to: 'migrations' }],
    });
    grantDatabaseConnect(this.database, migrate.role);
    if (config.features.migrateOnDeploy) {
      new triggers.Trigger(this, 'MigrateOnDeploy', {
        handler: migrate.function,
        executeAfter: [proxy, this.instance],
        executeOnHandlerChange: true,
        timeout: Duration.seconds(config.functions.migrate.timeoutSeconds),
      });
    }

    this.suppressFindings(config);
  }

  private suppressFindings(config: StageConfig): void {
    const db = config.database;
    acknowledge(this.instance, [
      {
        id: 'AwsSolutions-RDS11',
        reason: 'Default port: reachable only from the proxy and rotation security groups.',
      },
      ...(db.multiAz
        ? []
        : [
            {
              id: 'AwsSolutions-RDS3',
              reason: `Stage ${config.stage} runs single-AZ by config (database.multiAz); recovery is from automated backups.`,
            },
          ]),
      ...(db.deletionProtection
        ? []
        : [
            {
              id: 'AwsSolutions-RDS10',
              reason: `Stage ${config.stage} must be deletable without manual steps (database.deletionProtection off).`,
            },
          ]),
    ]);
  }
}
