import { ArnFormat, Fn, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type {
  KafkaClientProfile,
  MappingRole,
  TopicRole,
} from '../../lambdas/shared/kafka/clients';
import type { StageConfig } from '../config/stage-config';

/**
 * MSK data-plane ARNs derived from the cluster ARN
 * (`arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID`). CDK adds none of these permissions.
 */
export class KafkaArns {
  private readonly clusterUuid: string;

  constructor(
    private readonly stack: Stack,
    readonly clusterArn: string,
    readonly clusterName: string,
  ) {
    this.clusterUuid = Fn.select(2, Fn.split('/', clusterArn));
  }

  topic(name: string): string {
    return this.arn('topic', name);
  }

  group(name: string): string {
    return this.arn('group', name);
  }

  private arn(resource: 'topic' | 'group', name: string): string {
    return this.stack.formatArn({
      service: 'kafka',
      resource,
      resourceName: `${this.clusterName}/${this.clusterUuid}/${name}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }
}

export interface KafkaAccess {
  /** Topics the principal produces to. */
  readonly writeTopics?: readonly string[];
  /** kafkajs `idempotent: true`: InitProducerId needs WriteDataIdempotently on the cluster. */
  readonly idempotentProducer?: boolean;
  /** Topics consumed through a consumer group (event source mapping or local consumer). */
  readonly readTopics?: readonly string[];
  readonly groups?: readonly string[];
  /** Topic administration (the deploy-time topic provider). */
  readonly manageTopics?: readonly string[];
}

/** The stage's physical names of the topic and mapping roles the client profiles use. */
export interface KafkaNames {
  readonly topics: Readonly<Record<TopicRole, string>>;
  readonly groups: Readonly<Record<MappingRole, string>>;
}

export function kafkaNames(config: StageConfig): KafkaNames {
  return {
    topics: {
      orderEvents: config.kafka.topics.orderEvents.name,
      deadLetter: config.kafka.topics.deadLetter.name,
    },
    groups: {
      orderConsumer: config.mappings.orderConsumer.consumerGroupId,
      dlqTriage: config.mappings.dlqTriage.consumerGroupId,
    },
  };
}

/** The access a client profile (what the code does with Kafka) needs, in physical names. */
export function kafkaAccessFor(client: KafkaClientProfile, names: KafkaNames): KafkaAccess {
  return {
    writeTopics: client.writes.map((t) => names.topics[t]),
    idempotentProducer: client.idempotentProducer,
    readTopics: client.reads.map((t) => names.topics[t]),
    groups: client.mapping === undefined ? [] : [names.groups[client.mapping]],
    manageTopics: client.manages.map((t) => names.topics[t]),
  };
}

/** Least-privilege `kafka-cluster:*` statements for one principal. */
export function grantKafka(grantee: iam.IGrantable, arns: KafkaArns, access: KafkaAccess): void {
  const statements: iam.PolicyStatement[] = [];
  const clusterActions = ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'];
  if (access.idempotentProducer) clusterActions.push('kafka-cluster:WriteDataIdempotently');
  // The MSK event pollers read the cluster's dynamic configuration before they consume.
  if (access.groups?.length)
    clusterActions.push('kafka-cluster:DescribeClusterDynamicConfiguration');
  // No control-plane (kafka:*) action: the code gets the brokers from its environment, resolved
  // at deploy time (streaming stack). The MSK event source mappings' own needs are granted
  // with each mapping (service stack).
  statements.push(
    new iam.PolicyStatement({ actions: clusterActions, resources: [arns.clusterArn] }),
  );
  if (access.writeTopics?.length) {
    statements.push(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
        resources: access.writeTopics.map((t) => arns.topic(t)),
      }),
    );
  }
  if (access.readTopics?.length) {
    statements.push(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: access.readTopics.map((t) => arns.topic(t)),
      }),
    );
  }
  if (access.groups?.length) {
    statements.push(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: access.groups.map((g) => arns.group(g)),
      }),
    );
  }
  if (access.manageTopics?.length) {
    statements.push(
      new iam.PolicyStatement({
        actions: [
          'kafka-cluster:CreateTopic',
          'kafka-cluster:DescribeTopic',
          'kafka-cluster:AlterTopic',
          'kafka-cluster:DescribeTopicDynamicConfiguration',
          'kafka-cluster:AlterTopicDynamicConfiguration',
        ],
        resources: access.manageTopics.map((t) => arns.topic(t)),
      }),
    );
  }
  for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
}
