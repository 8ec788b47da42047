import { describe, expect, it } from 'vitest';
import type { TopicSpec, TopicState } from '../../../lambdas/kafka-topics/ensure-topics';
import {
  describeTopics,
  ensureTopics,
  parseTopicSpecs,
  planTopicChanges,
  TopicSpecError,
  topicsPhysicalId,
} from '../../../lambdas/kafka-topics/ensure-topics';
import { FakeTopicAdmin } from './fake-topic-admin';

const spec = (over: Partial<TopicSpec> = {}): TopicSpec => ({
  name: 'order-events',
  partitions: 6,
  replicationFactor: 3,
  configs: { 'min.insync.replicas': '2' },
  ...over,
});
const state = (over: Partial<TopicState> = {}): TopicState => ({
  name: 'order-events',
  partitions: 6,
  replicationFactor: 3,
  configs: { 'min.insync.replicas': '2' },
  ...over,
});

describe('parseTopicSpecs', () => {
  it('parses the JSON string CloudFormation passes, numbers as strings', () => {
    const raw = JSON.stringify([
      {
        name: 'order-events',
        partitions: '6',
        replicationFactor: '3',
        configs: { 'retention.ms': '604800000', 'min.insync.replicas': 2 },
      },
      { name: 'order-events-dlq', partitions: 1, replicationFactor: 1 },
    ]);
    expect(parseTopicSpecs(raw)).toEqual([
      {
        name: 'order-events',
        partitions: 6,
        replicationFactor: 3,
        configs: { 'retention.ms': '604800000', 'min.insync.replicas': '2' },
      },
      { name: 'order-events-dlq', partitions: 1, replicationFactor: 1, configs: {} },
    ]);
  });

  it('accepts an already parsed array', () => {
    expect(parseTopicSpecs([{ name: 't', partitions: '1', replicationFactor: '1' }])).toHaveLength(
      1,
    );
  });

  it.each([
    ['not JSON', '[{', /not valid JSON/],
    ['an empty list', '[]', /non-empty array/],
    ['an object', { name: 't' }, /non-empty array/],
    ['a non-object item', ['t'], /Topics\[0\] must be an object/],
    [
      'a bad name',
      [{ name: 'a b', partitions: 1, replicationFactor: 1 }],
      /not a valid topic name/,
    ],
    ['name ".."', [{ name: '..', partitions: 1, replicationFactor: 1 }], /not a valid topic name/],
    ['a missing name', [{ partitions: 1, replicationFactor: 1 }], /not a valid topic name/],
    [
      'zero partitions',
      [{ name: 't', partitions: '0', replicationFactor: 1 }],
      /partitions must be/,
    ],
    [
      'fractional partitions',
      [{ name: 't', partitions: '1.5', replicationFactor: 1 }],
      /partitions/,
    ],
    ['text partitions', [{ name: 't', partitions: 'six', replicationFactor: 1 }], /partitions/],
    ['missing replication', [{ name: 't', partitions: 1 }], /replicationFactor must be/],
    ['array configs', [{ name: 't', partitions: 1, replicationFactor: 1, configs: [] }], /configs/],
    [
      'a nested config value',
      [{ name: 't', partitions: 1, replicationFactor: 1, configs: { 'retention.ms': {} } }],
      /config retention.ms must be a string/,
    ],
    [
      'a bad config name',
      [{ name: 't', partitions: 1, replicationFactor: 1, configs: { 'Retention MS': '1' } }],
      /not a Kafka config name/,
    ],
    [
      'a duplicate topic',
      [
        { name: 't', partitions: 1, replicationFactor: 1 },
        { name: 't', partitions: 2, replicationFactor: 1 },
      ],
      /listed twice/,
    ],
  ])('rejects %s', (_what, input, message) => {
    expect(() => parseTopicSpecs(input)).toThrow(TopicSpecError);
    expect(() => parseTopicSpecs(input)).toThrow(message);
  });
});

describe('topicsPhysicalId', () => {
  it('names the topics independent of their order', () => {
    const a = spec({ name: 'order-events' });
    const b = spec({ name: 'order-events-dlq' });
    expect(topicsPhysicalId([b, a])).toBe('topics:order-events,order-events-dlq');
    expect(topicsPhysicalId([a, b])).toBe(topicsPhysicalId([b, a]));
  });
});

describe('planTopicChanges', () => {
  it('creates a missing topic with its configs', () => {
    expect(planTopicChanges([spec()], [])).toEqual({
      actions: [{ kind: 'create', topic: spec() }],
      errors: [],
    });
  });

  it('does nothing when the cluster already matches', () => {
    expect(planTopicChanges([spec()], [state()])).toEqual({ actions: [], errors: [] });
  });

  it('ignores topics on the cluster that are not desired', () => {
    const plan = planTopicChanges([spec()], [state(), state({ name: 'other', partitions: 1 })]);
    expect(plan).toEqual({ actions: [], errors: [] });
  });

  it('raises a lower partition count', () => {
    expect(planTopicChanges([spec({ partitions: 12 })], [state()]).actions).toEqual([
      { kind: 'addPartitions', topic: 'order-events', from: 6, to: 12 },
    ]);
  });

  it('refuses to shrink partitions', () => {
    const plan = planTopicChanges([spec({ partitions: 3 })], [state()]);
    expect(plan.actions).toEqual([]);
    expect(plan.errors).toHaveLength(1);
    expect(plan.errors[0]).toMatch(/order-events: has 6 partitions, desired 3.*cannot reduce/);
  });

  it('refuses to change the replication factor', () => {
    const plan = planTopicChanges([spec({ replicationFactor: 2 })], [state()]);
    expect(plan.errors).toHaveLength(1);
    expect(plan.errors[0]).toMatch(/replication factor is 3, desired 2.*reassignment/);
  });

  it('reports every impossible change at once', () => {
    const plan = planTopicChanges(
      [spec({ partitions: 1, replicationFactor: 1 }), spec({ name: 'dlq', partitions: 1 })],
      [state(), state({ name: 'dlq', partitions: 2 })],
    );
    expect(plan.errors).toHaveLength(3);
  });

  it('writes changed configs together with the overrides it does not manage', () => {
    const plan = planTopicChanges(
      [spec({ configs: { 'min.insync.replicas': '2', 'retention.ms': '86400000' } })],
      [state({ configs: { 'min.insync.replicas': '1', 'segment.bytes': '1048576' } })],
    );
    expect(plan.actions).toEqual([
      {
        kind: 'alterConfigs',
        topic: 'order-events',
        configs: {
          'min.insync.replicas': '2',
          'retention.ms': '86400000',
          'segment.bytes': '1048576',
        },
        changed: ['min.insync.replicas', 'retention.ms'],
        removed: [],
      },
    ]);
  });

  it('reverts a config key dropped from the spec since the last deploy', () => {
    const previous = [spec({ configs: { 'min.insync.replicas': '2', 'retention.ms': '1000' } })];
    const plan = planTopicChanges(
      [spec()],
      [state({ configs: { 'min.insync.replicas': '2', 'retention.ms': '1000', 'x.y': '1' } })],
      previous,
    );
    expect(plan.actions).toEqual([
      {
        kind: 'alterConfigs',
        topic: 'order-events',
        configs: { 'min.insync.replicas': '2', 'x.y': '1' },
        changed: [],
        removed: ['retention.ms'],
      },
    ]);
  });

  it('does not touch a dropped key that is no longer overridden', () => {
    const previous = [spec({ configs: { 'min.insync.replicas': '2', 'retention.ms': '1000' } })];
    expect(planTopicChanges([spec()], [state()], previous).actions).toEqual([]);
  });

  it('combines partition and config changes for one topic and plans topics independently', () => {
    const plan = planTopicChanges(
      [spec({ partitions: 8, configs: {} }), spec({ name: 'dlq', partitions: 1 })],
      [state({ configs: { 'cleanup.policy': 'delete' } })],
    );
    expect(plan.errors).toEqual([]);
    expect(plan.actions.map((a) => a.kind)).toEqual(['addPartitions', 'create']);
  });
});

describe('ensureTopics against an in-memory admin', () => {
  const desired = parseTopicSpecs([
    {
      name: 'order-events',
      partitions: '6',
      replicationFactor: '3',
      configs: { 'min.insync.replicas': '2' },
    },
    { name: 'order-events-dlq', partitions: '1', replicationFactor: '3', configs: {} },
  ]);

  it('creates everything on an empty cluster, then is a no-op', async () => {
    const admin = new FakeTopicAdmin();
    const first = await ensureTopics(admin, desired);
    expect(first.actions.map((a) => a.kind)).toEqual(['create', 'create']);
    expect(admin.topics.get('order-events')).toEqual({
      partitions: 6,
      replicationFactor: 3,
      overrides: { 'min.insync.replicas': '2' },
    });
    admin.calls.length = 0;
    const second = await ensureTopics(admin, desired);
    expect(second.actions).toEqual([]);
    expect(admin.calls.filter((c) => !/^(listTopics|fetch|describe)/.test(c))).toEqual([]);
  });

  it('adds partitions and fixes configs on an existing topic', async () => {
    const admin = new FakeTopicAdmin({
      'order-events': { partitions: 3, replicationFactor: 3, overrides: { 'retention.ms': '5' } },
      'order-events-dlq': { partitions: 1, replicationFactor: 3, overrides: {} },
    });
    await ensureTopics(admin, desired);
    expect(admin.topics.get('order-events')).toEqual({
      partitions: 6,
      replicationFactor: 3,
      overrides: { 'retention.ms': '5', 'min.insync.replicas': '2' },
    });
  });

  it('changes nothing when any topic needs an impossible change', async () => {
    const admin = new FakeTopicAdmin({
      'order-events': { partitions: 12, replicationFactor: 3, overrides: {} },
    });
    await expect(ensureTopics(admin, desired)).rejects.toThrow(
      /Refusing to change Kafka topics: topic order-events: has 12 partitions/,
    );
    expect(admin.topics.has('order-events-dlq')).toBe(false);
    expect(admin.calls.some((c) => c.startsWith('create') || c.startsWith('alter'))).toBe(false);
  });

  it('reads only topic-level overrides as current configs', async () => {
    const admin = new FakeTopicAdmin({
      'order-events': {
        partitions: 6,
        replicationFactor: 3,
        overrides: { 'cleanup.policy': 'delete' },
      },
    });
    expect(await describeTopics(admin, ['order-events', 'missing'])).toEqual([
      {
        name: 'order-events',
        partitions: 6,
        replicationFactor: 3,
        configs: { 'cleanup.policy': 'delete' },
      },
    ]);
  });

  it('surfaces a describeConfigs error for a topic', async () => {
    const admin = new FakeTopicAdmin({
      'order-events': { partitions: 6, replicationFactor: 3, overrides: {} },
    });
    admin.describeConfigs = async () => ({
      throttleTime: 0,
      resources: [
        {
          errorCode: 29,
          errorMessage: 'Topic authorization failed',
          resourceName: 'order-events',
          resourceType: 2,
          configEntries: [],
        },
      ],
    });
    await expect(describeTopics(admin, ['order-events'])).rejects.toThrow(
      /order-events failed: Topic authorization failed/,
    );
  });
});
