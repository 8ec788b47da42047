import * as path from 'node:path';
import { Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { observabilityEnvironment } from '../../lambdas/shared/env';
import type { ServiceName } from '../../lambdas/shared/metrics-catalog';
import type { FunctionConfig, StageConfig } from '../config/stage-config';
import { acknowledge } from './nag';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * esbuild options of every function bundle. Exported so that `npm run bench` builds exactly
 * what gets deployed (tools/verification/bench/bundles.ts maps them onto esbuild's API).
 */
export const PIPELINE_BUNDLING = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  platform: 'node',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  // Bundle everything, the AWS SDK included: pinned versions, not whatever the runtime ships.
  // One exception, which no code path on Node.js loads: `bowser`, the browser user-agent
  // parser of @aws-sdk/core. Its only use is a dynamic import() in the browser-only
  // createUserAgentStringParsingProvider, kept in the Kafka functions' bundles (34.7 KB each)
  // because @aws-sdk/credential-providers' fromInstanceMetadata dynamically imports the whole
  // `@aws-sdk/core/client` namespace once aws-msk-iam-sasl-signer-js require()s that package.
  // Externalised, the import() stays in the bundle and is never executed.
  externalModules: ['bowser'],
  // CJS dependencies (kafkajs, pg) call require() for Node built-ins inside an ESM bundle.
  banner:
    "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
} as const satisfies nodejs.BundlingOptions;

export interface PipelineFunctionProps {
  readonly config: StageConfig;
  readonly function: FunctionConfig;
  /** Powertools service name and the `Service` cost tag. */
  readonly service: ServiceName;
  /** Path under `lambdas/`, e.g. `order-consumer/handler.ts`. */
  readonly entry: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
  readonly environment?: Record<string, string>;
  /** Folders (repo-relative) copied next to the bundle, e.g. SQL migrations. */
  readonly copyIntoBundle?: readonly { readonly from: string; readonly to: string }[];
  readonly description: string;
}

/**
 * The one place that holds function defaults: esbuild ESM bundle for Node.js 22 on arm64,
 * source maps, an explicit log group with retention, the Powertools environment, X-Ray active
 * tracing, and an execution role scoped to this function's own log group (no AWS managed
 * policies).
 */
export class PipelineFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    const { config, function: fnConfig } = props;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${fnConfig.name}`,
      retention: retentionDays(config.observability.logRetentionDays),
      removalPolicy: config.observability.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${fnConfig.name}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    // Lambda manages the VPC ENIs with the execution role; EC2 offers no resource-level scoping here.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ManageVpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );

    const copies = props.copyIntoBundle ?? [];
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: fnConfig.name,
      description: props.description,
      entry: path.join(REPO_ROOT, 'lambdas', props.entry),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: fnConfig.memoryMiB,
      timeout: Duration.seconds(fnConfig.timeoutSeconds),
      reservedConcurrentExecutions: fnConfig.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      // X-Ray active tracing; CDK grants xray:PutTraceSegments and PutTelemetryRecords.
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[config.observability.logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...observabilityEnvironment({
          stage: config.stage,
          serviceName: props.service,
          metricsNamespace: config.observability.metricsNamespace,
          logLevel: config.observability.logLevel,
        }),
        ...props.environment,
      },
      bundling: {
        ...PIPELINE_BUNDLING,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) =>
            copies.map(
              (c) => `cp -R "${path.join(inputDir, c.from)}" "${path.join(outputDir, c.to)}"`,
            ),
        },
      },
    });

    Tags.of(this).add('Service', props.service);

    acknowledge(this.function, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'Node.js 22 is the pinned runtime: code is built and tested on Node 20/22; a runtime upgrade is a deliberate change.',
      },
    ]);
    acknowledge(this.role, [
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Lambda creates and deletes its VPC network interfaces with the execution role, and active tracing sends segments to X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords, added by CDK); none of these actions supports resource-level permissions.',
      },
    ]);
  }
}

const RETENTION: Record<number, logs.RetentionDays> = {
  1: logs.RetentionDays.ONE_DAY,
  3: logs.RetentionDays.THREE_DAYS,
  5: logs.RetentionDays.FIVE_DAYS,
  7: logs.RetentionDays.ONE_WEEK,
  14: logs.RetentionDays.TWO_WEEKS,
  30: logs.RetentionDays.ONE_MONTH,
  60: logs.RetentionDays.TWO_MONTHS,
  90: logs.RetentionDays.THREE_MONTHS,
  180: logs.RetentionDays.SIX_MONTHS,
  365: logs.RetentionDays.ONE_YEAR,
};

/** CloudWatch accepts only certain retention values; reject others at synth time. */
export function retentionDays(days: number): logs.RetentionDays {
  const value = RETENTION[days];
  if (value === undefined) {
    throw new Error(
      `Unsupported log retention ${days} days; use one of ${Object.keys(RETENTION).join(', ')}`,
    );
  }
  return value;
}
