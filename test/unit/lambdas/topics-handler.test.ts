import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { makeTopicsHandler } from '../../../lambdas/kafka-topics/handler';
import type { FakeTopic } from './fake-topic-admin';
import { FakeTopicAdmin } from './fake-topic-admin';

const TOPICS = JSON.stringify([
  {
    name: 'order-events',
    partitions: '6',
    replicationFactor: '3',
    configs: { 'retention.ms': '1000' },
  },
  { name: 'order-events-dlq', partitions: '1', replicationFactor: '3', configs: {} },
]);

const common = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
  ResponseURL: 'https://example.invalid/response',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
  RequestId: 'r-1',
  LogicalResourceId: 'KafkaTopics',
  ResourceType: 'Custom::KafkaTopics',
};

function setup(initial: Record<string, FakeTopic> = {}) {
  const admin = new FakeTopicAdmin(initial);
  const createAdmin = vi.fn(() => admin);
  return { admin, createAdmin, handler: makeTopicsHandler({ createAdmin }) };
}

describe('kafka-topics handler', () => {
  it('creates the topics and returns a stable id and the names', async () => {
    const { admin, handler } = setup();
    const event: CloudFormationCustomResourceEvent = {
      ...common,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: common.ServiceToken, Topics: TOPICS },
    };
    await expect(handler(event)).resolves.toEqual({
      PhysicalResourceId: 'topics:order-events,order-events-dlq',
      Data: { TopicNames: 'order-events,order-events-dlq' },
    });
    expect([...admin.topics.keys()].sort()).toEqual(['order-events', 'order-events-dlq']);
    expect(admin.connected).toBe(false);
  });

  it('keeps topics on delete and never connects', async () => {
    const { createAdmin, handler } = setup();
    const event: CloudFormationCustomResourceEvent = {
      ...common,
      RequestType: 'Delete',
      PhysicalResourceId: 'topics:order-events,order-events-dlq',
      ResourceProperties: { ServiceToken: common.ServiceToken, Topics: TOPICS },
    };
    await expect(handler(event)).resolves.toEqual({
      PhysicalResourceId: 'topics:order-events,order-events-dlq',
    });
    expect(createAdmin).not.toHaveBeenCalled();
  });

  it('uses the old properties on update to revert a dropped config', async () => {
    const { admin, handler } = setup({
      'order-events': {
        partitions: 6,
        replicationFactor: 3,
        overrides: { 'retention.ms': '1000' },
      },
      'order-events-dlq': { partitions: 1, replicationFactor: 3, overrides: {} },
    });
    const next = JSON.stringify([
      { name: 'order-events', partitions: '8', replicationFactor: '3', configs: {} },
      { name: 'order-events-dlq', partitions: '1', replicationFactor: '3', configs: {} },
    ]);
    const event: CloudFormationCustomResourceEvent = {
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: 'topics:order-events,order-events-dlq',
      ResourceProperties: { ServiceToken: common.ServiceToken, Topics: next },
      OldResourceProperties: { ServiceToken: common.ServiceToken, Topics: TOPICS },
    };
    await handler(event);
    expect(admin.topics.get('order-events')).toEqual({
      partitions: 8,
      replicationFactor: 3,
      overrides: {},
    });
  });

  it('rejects invalid properties before connecting', async () => {
    const { createAdmin, handler } = setup();
    const event: CloudFormationCustomResourceEvent = {
      ...common,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: common.ServiceToken, Topics: '[{"name":"t"}]' },
    };
    await expect(handler(event)).rejects.toThrow(/partitions must be a positive integer/);
    expect(createAdmin).not.toHaveBeenCalled();
  });

  it('fails on an impossible change and still disconnects', async () => {
    const { admin, handler } = setup({
      'order-events': { partitions: 6, replicationFactor: 1, overrides: {} },
    });
    const event: CloudFormationCustomResourceEvent = {
      ...common,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: common.ServiceToken, Topics: TOPICS },
    };
    await expect(handler(event)).rejects.toThrow(/replication factor is 1, desired 3/);
    expect(admin.connected).toBe(false);
    expect(admin.topics.has('order-events-dlq')).toBe(false);
  });
});
