// CDK custom resource (Provider framework `onEvent`): creates and updates the Kafka topics.
// Delete keeps the topics: they hold data, and deleting the cluster removes them anyway.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { getFunctionEnv, isDeployed } from '../shared/env';
import { createKafka } from '../shared/kafka/client';
import { KAFKA_CLIENTS } from '../shared/kafka/clients';
import { logger } from '../shared/powertools';
import type { TopicAdmin, TopicSpec } from './ensure-topics';
import { ensureTopics, parseTopicSpecs, topicsPhysicalId } from './ensure-topics';

/** What the Provider framework expects back from `onEvent`. */
export interface OnEventResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

export interface ConnectedAdmin extends TopicAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface TopicsHandlerDeps {
  createAdmin: () => ConnectedAdmin;
}

function previousSpecs(event: CloudFormationCustomResourceEvent): TopicSpec[] {
  if (event.RequestType !== 'Update') return [];
  try {
    return parseTopicSpecs(event.OldResourceProperties.Topics);
  } catch {
    // Only used to revert removed config keys; an unreadable old value just skips that.
    return [];
  }
}

export function makeTopicsHandler(deps: TopicsHandlerDeps) {
  return async (event: CloudFormationCustomResourceEvent): Promise<OnEventResponse> => {
    logger.info('kafka-topics event', {
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
    });
    if (event.RequestType === 'Delete') {
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    // Validate before connecting so a bad property fails fast with its own message.
    const desired = parseTopicSpecs(event.ResourceProperties.Topics);
    const admin = deps.createAdmin();
    await admin.connect();
    try {
      const plan = await ensureTopics(admin, desired, { previous: previousSpecs(event), logger });
      logger.info('kafka topics in desired state', { actionsApplied: plan.actions.length });
    } finally {
      await admin.disconnect();
    }
    return {
      PhysicalResourceId: topicsPhysicalId(desired),
      Data: { TopicNames: desired.map((t) => t.name).join(',') },
    };
  };
}

// Deployed, parsed at module load: a missing variable fails the cold start, naming it. Local
// processes (tests) import this module for makeTopicsHandler and bring their own admin, so
// they parse nothing here: the client settings have no local default.
if (isDeployed(process.env)) getFunctionEnv('kafkaTopics');

export const handler = makeTopicsHandler({
  createAdmin: () => {
    const functionEnv = getFunctionEnv('kafkaTopics');
    return createKafka({
      clientId: KAFKA_CLIENTS.kafkaTopics.clientId,
      connection: functionEnv.kafka,
      client: functionEnv.kafkaClient,
    }).admin();
  },
});
