import {
  type CfnElement,
  CustomResource,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import {
  type Environment,
  kafkaClientEnvironment,
  kafkaEnvironment,
} from '../../lambdas/shared/env';
import { KAFKA_CLIENTS } from '../../lambdas/shared/kafka/clients';
import { SERVICES } from '../../lambdas/shared/metrics-catalog';
import { kafkaClientSettings } from '../config/function-environment';
import type { StageConfig } from '../config/stage-config';
import { topicSpecs } from '../config/topics';
import { grantKafka, KafkaArns, kafkaAccessFor, kafkaNames } from '../constructs/kafka-access';
import { acknowledge } from '../constructs/nag';
import { PipelineFunction, retentionDays } from '../constructs/pipeline-function';
import type { PipelineSecurityGroups } from './network-stack';

export interface StreamingStackProps extends StackProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly appSubnets: ec2.SubnetSelection;
  readonly dataSubnets: ec2.SubnetSelection;
  readonly securityGroups: PipelineSecurityGroups;
}

export interface KafkaEndpoint {
  /** The cluster, for the IAM grants and the event source mappings; no function reads it. */
  readonly clusterArn: string;
  /**
   * The cluster's SASL/IAM bootstrap brokers (`BootstrapBrokerStringSaslIam`), resolved once per
   * deployment by a custom resource: a deploy-time token the functions get as KAFKA_BROKERS.
   */
  readonly bootstrapBrokers: string;
  readonly arns: KafkaArns;
  readonly orderEventsTopic: string;
  readonly deadLetterTopic: string;
}

/** MSK IAM auth against this cluster's brokers (the topics are each function's own settings). */
export function clusterEnvironment(kafka: Pick<KafkaEndpoint, 'bootstrapBrokers'>): Environment {
  return kafkaEnvironment({ auth: 'iam', bootstrapBrokers: kafka.bootstrapBrokers });
}

/**
 * The field of Kafka's GetBootstrapBrokers response that lists the SASL/IAM (port 9098) brokers
 * (AWS SDK for Java, `GetBootstrapBrokersResult.getBootstrapBrokerStringSaslIam`; Amazon MSK
 * developer guide, "Get the bootstrap brokers using the API").
 */
export const BOOTSTRAP_BROKERS_FIELD = 'BootstrapBrokerStringSaslIam';

/** Broker settings that must hold on the cluster (docs/ARCHITECTURE.md §4). */
export function serverProperties(config: StageConfig): string {
  const k = config.kafka;
  return [
    'auto.create.topics.enable=false',
    `default.replication.factor=${k.defaultReplicationFactor}`,
    `min.insync.replicas=${k.minInsyncReplicas}`,
    'unclean.leader.election.enable=false',
    `num.partitions=${k.topics.orderEvents.partitions}`,
    'delete.topic.enable=true',
  ].join('\n');
}

/**
 * MSK provisioned cluster (TLS only, IAM client auth, KMS at rest, explicit EBS size) with a
 * configuration that forbids topic auto-creation, and the two topics declared as a custom
 * resource that creates them through the Kafka admin API.
 */
export class StreamingStack extends Stack {
  readonly kafka: KafkaEndpoint;
  /** The deploy-time topic provider; absent where the stage leaves it out. */
  topicsFunction: PipelineFunction | undefined;
  readonly cluster: msk.CfnCluster;

  constructor(scope: Construct, id: string, props: StreamingStackProps) {
    super(scope, id, props);
    const { config, vpc, securityGroups } = props;
    const k = config.kafka;

    const key = new kms.Key(this, 'KafkaKey', {
      alias: `alias/${config.prefix}/msk`,
      description: 'MSK broker data volumes',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', {
      logGroupName: `/aws/msk/${k.clusterName}`,
      retention: retentionDays(config.observability.logRetentionDays),
      removalPolicy: config.observability.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const configuration = config.features.mskConfiguration
      ? new msk.CfnConfiguration(this, 'Configuration', {
          name: `${k.clusterName}-config`,
          description: 'No topic auto-creation; replication and ISR from stage config',
          kafkaVersionsList: [k.mskVersion],
          serverProperties: serverProperties(config),
        })
      : undefined;

    this.cluster = new msk.CfnCluster(this, 'Cluster', {
      clusterName: k.clusterName,
      kafkaVersion: k.mskVersion,
      numberOfBrokerNodes: k.brokers,
      enhancedMonitoring: k.enhancedMonitoring,
      brokerNodeGroupInfo: {
        instanceType: k.brokerInstanceType,
        clientSubnets: vpc.selectSubnets(props.dataSubnets).subnetIds,
        securityGroups: [securityGroups.kafka.securityGroupId],
        // Set explicitly: MSK's L2 defaults to 1000 GiB per broker.
        storageInfo: { ebsStorageInfo: { volumeSize: k.ebsVolumeGiB } },
        connectivityInfo: { publicAccess: { type: 'DISABLED' } },
      },
      clientAuthentication: {
        sasl: { iam: { enabled: true }, scram: { enabled: false } },
        unauthenticated: { enabled: false },
      },
      encryptionInfo: {
        encryptionAtRest: { dataVolumeKmsKeyId: key.keyArn },
        encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
      },
      // The configuration's latest revision, not a literal: a changed ServerProperties updates
      // the configuration in place as a new revision, and the GetAtt then moves the cluster to
      // it. A literal `revision: 1` pinned the brokers to the first properties ever deployed.
      ...(configuration
        ? {
            configurationInfo: {
              arn: configuration.attrArn,
              revision: configuration.attrLatestRevisionRevision,
            },
          }
        : {}),
      loggingInfo: {
        brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } },
      },
    });

    const arns = new KafkaArns(this, this.cluster.attrArn, k.clusterName);
    this.kafka = {
      clusterArn: this.cluster.attrArn,
      bootstrapBrokers: this.resolveBootstrapBrokers(config),
      arns,
      orderEventsTopic: k.topics.orderEvents.name,
      deadLetterTopic: k.topics.deadLetter.name,
    };

    if (config.features.kafkaTopicsResource) this.createTopics(config, props, arns);
  }

  /**
   * The cluster's IAM bootstrap brokers, read once per deployment. AWS::MSK::Cluster returns only
   * its ARN (no broker attribute), so a custom resource calls Kafka GetBootstrapBrokers on this
   * cluster, as `@aws-cdk/aws-msk-alpha`'s `Cluster.bootstrapBrokersSaslIam` does. Create and
   * update both read, and the physical id is the cluster ARN: a replaced cluster changes the
   * call, so the update reads again (the service stack imports the value like the ARN). Without
   * it, every Kafka function looked the brokers up at cold start (a control-plane call that
   * could be throttled, and @aws-sdk/client-kafka in every bundle).
   */
  private resolveBootstrapBrokers(config: StageConfig): string {
    const getBootstrapBrokers: cr.AwsSdkCall = {
      service: 'kafka',
      action: 'GetBootstrapBrokers',
      parameters: { ClusterArn: this.cluster.attrArn },
      physicalResourceId: cr.PhysicalResourceId.of(this.cluster.attrArn),
      outputPaths: [BOOTSTRAP_BROKERS_FIELD],
    };
    const lookup = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      resourceType: 'Custom::MskBootstrapBrokers',
      onCreate: getBootstrapBrokers,
      onUpdate: getBootstrapBrokers,
      // kafka:GetBootstrapBrokers on this cluster only.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.cluster.attrArn] }),
      // The Lambda runtime's SDK v3: no npm install at deploy time (offline, deterministic).
      installLatestAwsSdk: false,
      logGroup: new logs.LogGroup(this, 'BootstrapBrokersLogs', {
        retention: retentionDays(config.observability.logRetentionDays),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    // The singleton function behind every AwsCustomResource of the stack, and its role.
    const provider = this.node.findChild(
      `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
    );
    acknowledge(provider, [
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'CDK AwsCustomResource provider function: its role uses AWSLambdaBasicExecutionRole for its own logs.',
      },
      {
        id: 'AwsSolutions-L1',
        reason:
          'CDK AwsCustomResource provider function: its runtime is chosen by aws-cdk-lib, not by this project.',
      },
    ]);
    return lookup.getResponseField(BOOTSTRAP_BROKERS_FIELD);
  }

  /** The topics, created and updated at deploy time by a custom resource over the admin API. */
  private createTopics(config: StageConfig, props: StreamingStackProps, arns: KafkaArns): void {
    const topicsFn = new PipelineFunction(this, 'KafkaTopics', {
      config,
      function: config.functions.kafkaTopics,
      service: SERVICES.kafkaTopics,
      entry: 'kafka-topics/handler.ts',
      description: 'Deploy-time provider: creates and updates the pipeline topics',
      vpc: props.vpc,
      vpcSubnets: props.appSubnets,
      securityGroups: [props.securityGroups.functions],
      environment: {
        ...clusterEnvironment(this.kafka),
        ...kafkaClientEnvironment(kafkaClientSettings(config)),
      },
    });
    this.topicsFunction = topicsFn;
    const specs = topicSpecs(config);
    grantKafka(topicsFn.role, arns, kafkaAccessFor(KAFKA_CLIENTS.kafkaTopics, kafkaNames(config)));

    const provider = new cr.Provider(this, 'TopicsProvider', {
      onEventHandler: topicsFn.function,
      logGroup: new logs.LogGroup(this, 'TopicsProviderLogs', {
        retention: retentionDays(config.observability.logRetentionDays),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    const topics = new CustomResource(this, 'Topics', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopics',
      properties: { Topics: JSON.stringify(specs) },
    });
    topics.node.addDependency(this.cluster);

    acknowledge(provider, [
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'CDK Provider framework function: its role uses AWSLambdaBasicExecutionRole for its own logs.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(topicsFn.function.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason:
          'CDK Provider framework function: may invoke only the topics function and its versions (`:*`).',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'CDK Provider framework function: its runtime is pinned by aws-cdk-lib.',
      },
    ]);
  }
}
