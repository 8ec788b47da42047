// The real kafka-topics handler (the CDK Provider framework's onEvent function for
// Custom::KafkaTopics) driven with CloudFormation Create, Update and Delete requests written from
// AWS material, against the local broker. Topic names are made unique per run; the replication
// factor is capped to the single local broker. Responses are checked against the framework's
// onEvent contract and the response body CloudFormation accepts.
import { randomUUID } from 'node:crypto';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { Admin, ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testKafka } from '../integration/support';
import { type FixtureName, fixture } from './fixtures';
import {
  cfnCustomResourceRequestSchema,
  cfnCustomResourceResponseSchema,
  providerOnEventResponseSchema,
} from './shapes';

type OnEvent = (event: CloudFormationCustomResourceEvent) => Promise<unknown>;

const RUN = `ct-${randomUUID().slice(0, 8)}`;
const EVENTS = `${RUN}-order-events`;
const DLQ = `${RUN}-order-events-dlq`;
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
// Admin changes reach the broker's metadata asynchronously; read until they show.
const POLL = { timeout: 15_000, interval: 250 };

let handler: OnEvent;
let admin: Admin;

beforeAll(async () => {
  vi.stubEnv('KAFKA_AUTH', 'none');
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'kafka-topics');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  vi.resetModules();
  ({ handler } = (await import('../../lambdas/kafka-topics/handler')) as { handler: OnEvent });
  admin = testKafka().admin();
  await admin.connect();
});

afterAll(async () => {
  if (admin !== undefined) {
    const existing = new Set(await admin.listTopics());
    const mine = [EVENTS, DLQ].filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  }
  vi.unstubAllEnvs();
});

/** The topic names of this run in every Topics string; replication capped to one broker. */
function localTopics(topics: unknown): string {
  const specs = JSON.parse(String(topics)) as Array<{ name: string; replicationFactor: number }>;
  return JSON.stringify(
    specs.map((s) => ({
      ...s,
      name: s.name === 'order-events' ? EVENTS : s.name === 'order-events-dlq' ? DLQ : s.name,
      replicationFactor: 1,
    })),
  );
}

/** A fixture request made local (see localTopics), checked against the CloudFormation schema. */
function request(name: FixtureName): CloudFormationCustomResourceEvent {
  const event = fixture<Record<string, Record<string, unknown> | string>>(name);
  for (const key of ['ResourceProperties', 'OldResourceProperties'] as const) {
    const props = event[key];
    if (typeof props === 'object') props.Topics = localTopics(props.Topics);
  }
  if (typeof event.PhysicalResourceId === 'string') {
    event.PhysicalResourceId = `topics:${[EVENTS, DLQ].sort().join(',')}`;
  }
  const parsed = cfnCustomResourceRequestSchema.safeParse(event);
  expect(parsed.error?.issues ?? [], `${name} is a custom resource request`).toEqual([]);
  return event as unknown as CloudFormationCustomResourceEvent;
}

/**
 * Calls the handler and checks its result twice: as the Provider framework reads it, and as
 * the response body the framework then sends to CloudFormation (its createResponseEvent).
 */
async function onEvent(event: CloudFormationCustomResourceEvent) {
  const result = await handler(event);
  const checked = providerOnEventResponseSchema.safeParse(result);
  expect(checked.error?.issues ?? [], 'onEvent result').toEqual([]);
  const response = checked.data as { PhysicalResourceId: string; Data?: Record<string, unknown> };
  const body = {
    Status: 'SUCCESS',
    PhysicalResourceId: response.PhysicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    ...(response.Data !== undefined ? { Data: response.Data } : {}),
  };
  expect(cfnCustomResourceResponseSchema.safeParse(body).error?.issues ?? []).toEqual([]);
  return response;
}

async function cluster(): Promise<Record<string, { partitions: number; retentionMs?: string }>> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [EVENTS, DLQ] });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [EVENTS, DLQ].map((name) => ({ type: TOPIC_RESOURCE, name })),
  });
  const retention = new Map(
    configs.resources.map((r) => [
      r.resourceName,
      r.configEntries.find((e) => e.configName === 'retention.ms')?.configValue,
    ]),
  );
  return Object.fromEntries(
    topics.map((t) => [
      t.name,
      { partitions: t.partitions.length, retentionMs: retention.get(t.name) },
    ]),
  );
}

describe('kafka-topics onEvent handler with CloudFormation requests', () => {
  it('Create: creates both topics and returns a physical id and TopicNames', async () => {
    expect(await admin.listTopics()).not.toContain(EVENTS);
    const response = await onEvent(request('cfn-custom-resource-create.json'));
    expect(response).toEqual({
      PhysicalResourceId: `topics:${EVENTS},${DLQ}`,
      Data: { TopicNames: `${EVENTS},${DLQ}` },
    });
    await expect.poll(cluster, POLL).toEqual({
      [EVENTS]: { partitions: 6, retentionMs: '604800000' },
      [DLQ]: { partitions: 3, retentionMs: '1209600000' },
    });
  });

  it('Update: applies the new partitions and retention, keeping the physical id', async () => {
    const event = request('cfn-custom-resource-update.json');
    const response = await onEvent(event);
    // The same topic set is the same resource: a changed id would make this a replacement.
    expect(response.PhysicalResourceId).toBe(
      (event as { PhysicalResourceId: string }).PhysicalResourceId,
    );
    await expect.poll(cluster, POLL).toEqual({
      [EVENTS]: { partitions: 12, retentionMs: '1209600000' },
      [DLQ]: { partitions: 3, retentionMs: '1209600000' },
    });
  });

  it('Delete: returns the physical id it was given and keeps the topics', async () => {
    const event = request('cfn-custom-resource-delete.json');
    const response = await onEvent(event);
    // The framework fails a Delete whose onEvent returns another physical id.
    expect(response.PhysicalResourceId).toBe(
      (event as { PhysicalResourceId: string }).PhysicalResourceId,
    );
    await expect
      .poll(async () => Object.keys(await cluster()).sort(), POLL)
      .toEqual([EVENTS, DLQ].sort());
  });

  it('a Create whose Topics property is broken fails before touching Kafka', async () => {
    const event = request('cfn-custom-resource-create.json');
    (event.ResourceProperties as Record<string, unknown>).Topics = '[{"name":"bad name"}]';
    await expect(handler(event)).rejects.toThrow(/not a valid topic name/);
  });
});
