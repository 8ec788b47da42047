import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv1 from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaDlq, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SERVICES, type ServiceName } from '../../lambdas/shared/metrics-catalog';
import { relaySettings, triageSettings } from '../config/function-environment';
import type { FunctionConfig, MappingConfig, StageConfig } from '../config/stage-config';
import { grantKafka, type KafkaAccess } from '../constructs/kafka-access';
import { acknowledge } from '../constructs/nag';
import { PipelineFunction, retentionDays } from '../constructs/pipeline-function';
import { type CacheEndpoint, cacheEnvironment } from './cache-stack';
import { type DatabaseEndpoint, databaseEnvironment, grantDatabaseConnect } from './data-stack';
import type { PipelineSecurityGroups } from './network-stack';
import { type KafkaEndpoint, kafkaEnvironment } from './streaming-stack';

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
  readonly triageFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { config, kafka, database } = props;
    const topics = { events: kafka.orderEventsTopic, dlq: kafka.deadLetterTopic };
    const groups = {
      consumer: config.mappings.orderConsumer.consumerGroupId,
      triage: config.mappings.dlqTriage.consumerGroupId,
    };

    const fn = (
      id: string,
      service: ServiceName,
      fnConfig: FunctionConfig,
      description: string,
      environment: Record<string, string>,
      kafkaAccess: KafkaAccess,
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
        environment: { ...databaseEnvironment(database), ...environment },
      });
      grantDatabaseConnect(database, f.role);
      if (Object.keys(kafkaAccess).length > 0) grantKafka(f.role, kafka.arns, kafkaAccess);
      return f;
    };

    this.orderApi = fn(
      'OrderApi',
      SERVICES.orderApi,
      config.functions.orderApi,
      'HTTP API: validates order commands and writes order + outbox event in one transaction',
      {},
      {},
    );
    this.outboxRelay = fn(
      'OutboxRelay',
      SERVICES.outboxRelay,
      config.functions.outboxRelay,
      'Publishes committed outbox rows to MSK in order with an idempotent producer',
      { ...kafkaEnvironment(kafka), ...relaySettings(config) },
      { writeTopics: [topics.events], idempotentProducer: true },
    );
    this.orderConsumer = fn(
      'OrderConsumer',
      SERVICES.orderConsumer,
      config.functions.orderConsumer,
      'Applies order events idempotently; dead-letters classified failures',
      { ...kafkaEnvironment(kafka), ...cacheEnvironment(props.cache) },
      // Reads through its mapping; writes dead letters itself (and the mapping's backstop does).
      { readTopics: [topics.events], groups: [groups.consumer], writeTopics: [topics.dlq] },
    );
    props.cache.authSecret.grantRead(this.orderConsumer.role);
    this.dlqTriage = fn(
      'DlqTriage',
      SERVICES.dlqTriage,
      config.functions.dlqTriage,
      'Triage of dead letters: redrive with backoff or park',
      { ...kafkaEnvironment(kafka), ...triageSettings(config) },
      { readTopics: [topics.dlq], groups: [groups.triage], writeTopics: [topics.events] },
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
      new KafkaDlq(topics.dlq),
      config.features.kafkaMappingErrorHandling,
    );
    // Triage cannot fall back to its own topic: its backstop is an encrypted queue with an alarm.
    const queueKey = new kms.Key(this, 'TriageFailuresKey', {
      alias: `alias/${config.prefix}/triage-failures`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.triageFailures = new sqs.Queue(this, 'TriageFailures', {
      queueName: config.triage.failureQueueName,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.addKafkaMapping(
      this.dlqTriage,
      kafka,
      topics.dlq,
      config.mappings.dlqTriage,
      new SqsDlq(this.triageFailures),
      config.features.kafkaMappingErrorHandling,
    );
    if (config.features.kafkaMappingErrorHandling) {
      acknowledge(this.dlqTriage.role, [
        ...['kms:GenerateDataKey*', 'kms:ReEncrypt*'].map((action) => ({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason:
            'CDK queue grant for the on-failure destination: KMS action families on that queue key only.',
        })),
      ]);
    }
    acknowledge(this.triageFailures, [
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter destination of the triage mapping.',
      },
    ]);

    this.api = this.createApi(config);
  }

  private addKafkaMapping(
    target: PipelineFunction,
    kafka: KafkaEndpoint,
    topic: string,
    m: MappingConfig,
    onFailure: lambda.IEventSourceDlq,
    withErrorHandling: boolean,
  ): lambda.EventSourceMapping {
    // Lambda's own EventSourceMapping instead of ManagedKafkaEventSource: the latter attaches
    // AWSLambdaMSKExecutionRole (kafka:* describe on every cluster); grantKafka scopes it instead.
    const errorHandling = {
      provisionedPollerConfig: {
        minimumPollers: m.minimumPollers,
        maximumPollers: m.maximumPollers,
      },
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
    api.addStage('DefaultStage', {
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
    return api;
  }
}
