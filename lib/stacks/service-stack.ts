import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv1 from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import {
  consumerEnvironment,
  type Environment,
  orderApiEnvironment,
  relayEnvironment,
  triageEnvironment,
} from '../../lambdas/shared/env';
import { KAFKA_CLIENTS, type KafkaClientProfile } from '../../lambdas/shared/kafka/clients';
import { SERVICES, type ServiceName } from '../../lambdas/shared/metrics-catalog';
import { SERVICE_STACK_OUTPUTS } from '../config/deployed-names';
import {
  consumerSettings,
  orderApiSettings,
  relaySettings,
  triageSettings,
} from '../config/function-environment';
import { BACKSTOP_METRICS_FILTER } from '../config/signals';
import type {
  DatabaseRoleOf,
  FunctionConfig,
  MappingConfig,
  StageConfig,
} from '../config/stage-config';
import { grantKafka, kafkaAccessFor, kafkaNames } from '../constructs/kafka-access';
import { acknowledge } from '../constructs/nag';
import { PipelineFunction, retentionDays } from '../constructs/pipeline-function';
import { type CacheEndpoint, cacheEnvironment } from './cache-stack';
import { type DatabaseEndpoint, databaseEnvironment, grantDatabaseConnect } from './data-stack';
import type { PipelineSecurityGroups } from './network-stack';
import { clusterEnvironment, type KafkaEndpoint } from './streaming-stack';

export interface ServiceStackProps extends StackProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly appSubnets: ec2.SubnetSelection;
  readonly securityGroups: PipelineSecurityGroups;
  readonly database: DatabaseEndpoint;
  readonly cache: CacheEndpoint;
  readonly kafka: KafkaEndpoint;
}

/** The four pipeline functions, the HTTP API, the relay schedule and both MSK mappings. */
export class ServiceStack extends Stack {
  readonly orderApi: PipelineFunction;
  readonly outboxRelay: PipelineFunction;
  readonly orderConsumer: PipelineFunction;
  readonly dlqTriage: PipelineFunction;
  readonly api: apigw.HttpApi;
  /** The triage mapping's on-failure destination: whole invocation records of discarded batches. */
  readonly triageBackstop: s3.Bucket;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { config, kafka, database } = props;
    const topics = { events: kafka.orderEventsTopic, dlq: kafka.deadLetterTopic };
    const names = kafkaNames(config);

    const fn = (
      id: string,
      service: ServiceName,
      fnConfig: FunctionConfig,
      description: string,
      environment: Environment,
      dbRole: DatabaseRoleOf,
      kafkaClient?: KafkaClientProfile,
    ): PipelineFunction => {
      const f = new PipelineFunction(this, id, {
        config,
        function: fnConfig,
        service,
        entry: `${service}/handler.ts`,
        description,
        vpc: props.vpc,
        vpcSubnets: props.appSubnets,
        securityGroups: [props.securityGroups.functions],
        environment: {
          ...databaseEnvironment(database, config.database.roles[dbRole]),
          ...environment,
        },
      });
      grantDatabaseConnect(database, f.role, config.database.roles[dbRole]);
      // The grants follow from what the code does with Kafka (lambdas/shared/kafka/clients.ts).
      if (kafkaClient) grantKafka(f.role, kafka.arns, kafkaAccessFor(kafkaClient, names));
      return f;
    };

    this.orderApi = fn(
      'OrderApi',
      SERVICES.orderApi,
      config.functions.orderApi,
      'HTTP API: validates order commands and writes order + outbox event in one transaction',
      orderApiEnvironment(orderApiSettings(config)),
      'orderApi',
    );
    this.outboxRelay = fn(
      'OutboxRelay',
      SERVICES.outboxRelay,
      config.functions.outboxRelay,
      'Publishes committed outbox rows to MSK in order with an idempotent producer',
      { ...clusterEnvironment(kafka), ...relayEnvironment(relaySettings(config)) },
      'outboxRelay',
      KAFKA_CLIENTS.outboxRelay,
    );
    this.orderConsumer = fn(
      'OrderConsumer',
      SERVICES.orderConsumer,
      config.functions.orderConsumer,
      'Applies order events idempotently; dead-letters classified failures',
      {
        ...clusterEnvironment(kafka),
        ...cacheEnvironment(props.cache),
        ...consumerEnvironment(consumerSettings(config)),
      },
      'orderConsumer',
      KAFKA_CLIENTS.orderConsumer,
    );
    props.cache.authSecret.grantRead(this.orderConsumer.role);
    this.dlqTriage = fn(
      'DlqTriage',
      SERVICES.dlqTriage,
      config.functions.dlqTriage,
      'Triage of dead letters: redrive with backoff or park',
      { ...clusterEnvironment(kafka), ...triageEnvironment(triageSettings(config)) },
      'dlqTriage',
      KAFKA_CLIENTS.dlqTriage,
    );

    // Relay: every minute, one instance at a time (reserved concurrency in config).
    new events.Rule(this, 'RelaySchedule', {
      description: 'Starts the outbox relay loop; the next tick retries, so no async retries',
      schedule: events.Schedule.rate(
        Duration.minutes(config.functions.outboxRelay.scheduleMinutes),
      ),
      targets: [new targets.LambdaFunction(this.outboxRelay.function, { retryAttempts: 0 })],
    });

    // Consumer mapping: failures that exhaust retries land on the dead-letter topic.
    this.addKafkaMapping(
      this.orderConsumer,
      kafka,
      topics.events,
      config.mappings.orderConsumer,
      config,
      new KafkaDlq(topics.dlq),
    );
    // Triage cannot fall back to its own topic. Its backstop is an S3 bucket: unlike SQS or SNS
    // it receives the whole invocation record (the records, not only their positions), and the
    // cluster's subnets reach it through the S3 gateway endpoint (network stack).
    this.triageBackstop = new s3.Bucket(this, 'TriageBackstop', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      lifecycleRules: [{ expiration: Duration.days(config.triage.backstopRetentionDays) }],
      // Request metrics: PutRequests counts batches written here (the backstop alarm).
      metrics: [{ id: BACKSTOP_METRICS_FILTER }],
      // Records in it may exist nowhere else: deleting the stack keeps the bucket.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.addKafkaMapping(
      this.dlqTriage,
      kafka,
      topics.dlq,
      config.mappings.dlqTriage,
      config,
      new S3Backstop(this.triageBackstop),
    );
    acknowledge(this.triageBackstop, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'Written only by the Lambda service for the triage mapping and read by the dlq recover command; its delivery count is alarmed and objects expire by config.',
      },
    ]);
    if (config.features.kafkaMappingErrorHandling) {
      acknowledge(this.dlqTriage.role, [
        {
          id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.triageBackstop.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
          reason:
            'The S3 on-failure destination writes objects under keys Lambda chooses (aws/lambda/<mapping>/...): PutObject on this bucket only.',
        },
      ]);
    }

    this.api = this.createApi(config);
  }

  private addKafkaMapping(
    target: PipelineFunction,
    kafka: KafkaEndpoint,
    topic: string,
    m: MappingConfig,
    config: StageConfig,
    onFailure: lambda.IEventSourceDlq,
  ): lambda.EventSourceMapping {
    const withErrorHandling = config.features.kafkaMappingErrorHandling;
    // Lambda's own EventSourceMapping instead of ManagedKafkaEventSource: the latter attaches
    // AWSLambdaMSKExecutionRole (kafka:* describe on every cluster); grantKafka scopes it instead.
    const errorHandling = {
      provisionedPollerConfig: {
        minimumPollers: m.minimumPollers,
        maximumPollers: m.maximumPollers,
        // Both mappings share one group's event poller units instead of one EPU each.
        pollerGroupName: config.mappings.pollerGroupName,
      },
      // The mapping's own event counts (polled, dropped, sent to the on-failure destination),
      // for diagnosis; the backstop alarm reads the bucket's documented request metrics.
      metricsConfig: { metrics: [lambda.MetricType.EVENT_COUNT] },
      retryAttempts: m.retryAttempts,
      bisectBatchOnError: m.bisectBatchOnError,
      reportBatchItemFailures: m.reportBatchItemFailures,
      onFailure,
    };
    const mapping = target.function.addEventSourceMapping(`Mapping-${topic}`, {
      eventSourceArn: kafka.clusterArn,
      kafkaTopic: topic,
      kafkaConsumerGroupId: m.consumerGroupId,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: m.batchSize,
      maxBatchingWindow: Duration.seconds(m.maxBatchingWindowSeconds),
      // Off where the target has no such mapping settings (features.kafkaMappingErrorHandling).
      ...(withErrorHandling ? errorHandling : {}),
    });
    // The pollers find the cluster and its brokers with the execution role (the cluster part of
    // AWSLambdaMSKExecutionRole, "Configuring Lambda permissions for Amazon MSK event source
    // mappings"), on this cluster only. The function's code makes no such call.
    target.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MskPollerClusterLookup',
        actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        resources: [kafka.clusterArn],
      }),
    );
    // The pollers describe the VPC to place their ENIs in the cluster's subnets.
    target.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MskPollerNetworking',
        actions: ['ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups'],
        resources: ['*'],
      }),
    );
    return mapping;
  }

  private createApi(config: StageConfig): apigw.HttpApi {
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: retentionDays(config.observability.logRetentionDays),
      removalPolicy: config.observability.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const api = new apigw.HttpApi(this, 'HttpApi', {
      apiName: config.api.name,
      description: 'Order commands into the transactional outbox',
      defaultAuthorizer: new HttpIamAuthorizer(),
      createDefaultStage: false,
    });
    const stage = api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: {
        rateLimit: config.api.throttleRatePerSecond,
        burstLimit: config.api.throttleBurst,
      },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: apigwv1.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.caller',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latency: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    // Routing lives in the handler; every route requires SigV4 (IAM) callers.
    api.addRoutes({
      path: '/{proxy+}',
      methods: [apigw.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('OrderApiIntegration', this.orderApi.function),
    });
    // Where `npm run smoke` finds the stage's API after a deploy (DescribeStacks).
    new CfnOutput(this, SERVICE_STACK_OUTPUTS.apiUrl, {
      value: stage.url,
      description: 'Order API base URL (HTTP API $default stage; IAM-signed requests)',
    });
    return api;
  }
}

/**
 * Lambda's S3 on-failure destination with the documented permissions only (s3:PutObject and
 * s3:ListBucket, per "Capturing discarded batches for Amazon MSK and self-managed Apache Kafka
 * event sources"). CDK's S3OnFailureDestination grants read-write, delete included.
 */
class S3Backstop implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  bind(
    _target: lambda.IEventSourceMapping,
    targetHandler: lambda.IFunction,
  ): lambda.DlqDestinationConfig {
    targetHandler.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    targetHandler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    return { destination: this.bucket.bucketArn };
  }
}
