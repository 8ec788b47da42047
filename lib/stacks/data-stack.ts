import { ArnFormat, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import {
  ENV,
  type Environment,
  migrateEnvironment,
  type PgTimeouts,
  pgEnvironment,
} from '../../lambdas/shared/env';
import { SERVICES } from '../../lambdas/shared/metrics-catalog';
import { migrateSettings, pgTimeouts } from '../config/function-environment';
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
  readonly poolMax: number;
  /** The stage config's client timing (`database.connectTimeoutMs`, `.idleTimeoutMs`). */
  readonly timeouts: PgTimeouts;
}

/**
 * A function's PostgreSQL settings: RDS Proxy with an IAM token, logged in as the function's own
 * role (the stage config's `database.roles`, granted by migration 0010).
 */
export function databaseEnvironment(db: DatabaseEndpoint, role: DatabaseRole): Environment {
  return pgEnvironment({
    host: db.proxy.endpoint,
    port: PORTS.postgres,
    database: db.databaseName,
    user: role,
    iamAuth: true,
    poolMax: db.poolMax,
    timeouts: db.timeouts,
  });
}

/** `rds-db:connect` through the proxy as that role, and no other. */
export function grantDatabaseConnect(
  db: DatabaseEndpoint,
  grantee: iam.IGrantable,
  role: DatabaseRole,
): void {
  db.proxy.grantConnect(grantee, role);
}

type DatabaseRole = StageConfig['database']['roles'][keyof StageConfig['database']['roles']];

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
      description: 'RDS PostgreSQL: reachable from RDS Proxy, secret rotation and migrations only',
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
          reason:
            'Default port: reachable only from the proxy, rotation and migration security groups.',
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

    // The proxy logs in to the instance as the functions' and the operator's roles ("Configuring
    // IAM authentication for RDS Proxy": rds-db:connect on the instance's resource id and user).
    const proxyRole = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
      description: 'RDS Proxy: end-to-end IAM login as the pipeline database roles',
    });
    proxyRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['rds-db:connect'],
        resources: [...Object.values(db.roles), db.operatorRole].map((role) =>
          this.formatArn({
            service: 'rds-db',
            resource: 'dbuser',
            resourceName: `${this.instance.instanceResourceId}/${role}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ),
      }),
    );
    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      dbProxyName: db.proxyName,
      proxyTarget: rds.ProxyTarget.fromInstance(this.instance),
      vpc,
      vpcSubnets: props.dataSubnets,
      securityGroups: [securityGroups.proxy],
      // End-to-end IAM: clients and the proxy both log in with IAM tokens, so the functions'
      // roles need no passwords. The admin keeps its password and never goes through here.
      defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
      role: proxyRole,
      requireTLS: true,
      // Lambda bursts open and close pools; keep headroom for migrations and rotation.
      maxConnectionsPercent: 80,
      borrowTimeout: Duration.seconds(30),
    });
    // What an operator's IAM identity needs for `npm run dlq` and `npm run outbox`: login as
    // the operator role through the proxy, nothing more (docs/OPERATIONS.md).
    const operatorAccess = new iam.ManagedPolicy(this, 'OperatorDatabaseAccess', {
      managedPolicyName: `${config.prefix}-database-operator`,
      description: 'rds-db:connect through RDS Proxy as the pipeline operator database role',
    });
    proxy.grantConnect(operatorAccess, db.operatorRole);

    this.database = {
      proxy,
      databaseName: db.databaseName,
      poolMax: db.poolMaxPerEnvironment,
      timeouts: pgTimeouts(config),
    };

    const migrate = new PipelineFunction(this, 'Migrate', {
      config,
      function: config.functions.migrate,
      service: SERVICES.migrate,
      entry: 'migrate/handler.ts',
      description: 'Applies the schema migrations on deploy (CDK trigger)',
      vpc,
      vpcSubnets: props.appSubnets,
      securityGroups: [securityGroups.migrate],
      // The admin logs in directly to the instance with the rotated password: an `rds_iam`
      // admin could no longer log in with it, and the proxy only speaks IAM.
      environment: {
        ...pgEnvironment({
          host: this.instance.dbInstanceEndpointAddress,
          port: PORTS.postgres,
          database: db.databaseName,
          user: db.adminUser,
          iamAuth: false,
          secretArn: secret.secretArn,
          poolMax: db.poolMaxPerEnvironment,
          timeouts: pgTimeouts(config),
        }),
        ...migrateEnvironment(migrateSettings(config)),
        [ENV.migrationsDir]: '/var/task/migrations',
      },
      copyIntoBundle: [{ from: 'lambdas/migrate/migrations', to: 'migrations' }],
    });
    secret.grantRead(migrate.role);
    this.instance.connections.allowDefaultPortFrom(securityGroups.migrate, 'schema migrations');
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
        reason:
          'Default port: reachable only from the proxy, rotation and migration security groups.',
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
