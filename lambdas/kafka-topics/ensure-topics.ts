// Declarative Kafka topics: parse the desired set, compare with the cluster, apply the difference.
// The planning step is pure; only `describeTopics` and `applyTopicPlan` talk to Kafka.
import type { Admin, ConfigResourceTypes, ITopicConfig } from 'kafkajs';
import type { LogSink } from '../shared/log-sink';

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

/** What the cluster has now. `configs` holds only topic-level overrides, not broker defaults. */
export interface TopicState {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export type TopicAction =
  | { readonly kind: 'create'; readonly topic: TopicSpec }
  | {
      readonly kind: 'addPartitions';
      readonly topic: string;
      readonly from: number;
      readonly to: number;
    }
  | {
      readonly kind: 'alterConfigs';
      readonly topic: string;
      /** The complete override set to write (non-incremental AlterConfigs replaces all). */
      readonly configs: Readonly<Record<string, string>>;
      readonly changed: readonly string[];
      readonly removed: readonly string[];
    };

export interface TopicPlan {
  readonly actions: readonly TopicAction[];
  /** Changes Kafka cannot make in place; any error means nothing is applied. */
  readonly errors: readonly string[];
}

export class TopicSpecError extends Error {
  override name = 'TopicSpecError';
}

// --- parsing -----------------------------------------------------------------------------

// Kafka's own rule: [a-zA-Z0-9._-], at most 249 characters, not "." or "..".
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

function positiveInt(value: unknown, what: string): number {
  // CloudFormation delivers every scalar as a string, so "6" and 6 are both accepted.
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\s*\d+\s*$/.test(text)) {
    throw new TopicSpecError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new TopicSpecError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseConfigs(value: unknown, topic: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TopicSpecError(`topic ${topic}: configs must be an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!/^[a-z0-9._-]+$/.test(key)) {
      throw new TopicSpecError(`topic ${topic}: config name "${key}" is not a Kafka config name`);
    }
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
    else throw new TopicSpecError(`topic ${topic}: config ${key} must be a string`);
  }
  return out;
}

/** Validates the custom resource's `Topics` property (a JSON string or an already-parsed array). */
export function parseTopicSpecs(input: unknown): TopicSpec[] {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new TopicSpecError('Topics is not valid JSON');
    }
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new TopicSpecError('Topics must be a non-empty array');
  }
  const seen = new Set<string>();
  return value.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) {
      throw new TopicSpecError(`Topics[${i}] must be an object`);
    }
    const t = item as Record<string, unknown>;
    const name = t.name;
    if (typeof name !== 'string' || !TOPIC_NAME.test(name) || name === '.' || name === '..') {
      throw new TopicSpecError(
        `Topics[${i}].name is not a valid topic name: ${JSON.stringify(name)}`,
      );
    }
    if (seen.has(name)) throw new TopicSpecError(`topic ${name} is listed twice`);
    seen.add(name);
    return {
      name,
      partitions: positiveInt(t.partitions, `topic ${name}: partitions`),
      replicationFactor: positiveInt(t.replicationFactor, `topic ${name}: replicationFactor`),
      configs: parseConfigs(t.configs, name),
    };
  });
}

/** Stable for a given topic set regardless of order, so reordering is not a replacement. */
export function topicsPhysicalId(specs: readonly TopicSpec[]): string {
  return `topics:${specs
    .map((s) => s.name)
    .sort()
    .join(',')}`;
}

// --- planning (pure) ---------------------------------------------------------------------

/**
 * Compares desired topics with the cluster. `previous` (the last deployed specs) lets a config
 * key removed from the spec revert to the broker default; overrides set outside this resource
 * are kept.
 */
export function planTopicChanges(
  desired: readonly TopicSpec[],
  actual: readonly TopicState[],
  previous: readonly TopicSpec[] = [],
): TopicPlan {
  const actualByName = new Map(actual.map((t) => [t.name, t]));
  const previousByName = new Map(previous.map((t) => [t.name, t]));
  const actions: TopicAction[] = [];
  const errors: string[] = [];

  for (const spec of desired) {
    const current = actualByName.get(spec.name);
    if (current === undefined) {
      actions.push({ kind: 'create', topic: spec });
      continue;
    }
    if (current.replicationFactor !== spec.replicationFactor) {
      errors.push(
        `topic ${spec.name}: replication factor is ${current.replicationFactor}, desired ` +
          `${spec.replicationFactor}; changing it needs a partition reassignment, not a deploy`,
      );
    }
    if (spec.partitions < current.partitions) {
      errors.push(
        `topic ${spec.name}: has ${current.partitions} partitions, desired ${spec.partitions}; ` +
          'Kafka cannot reduce partitions (recreate the topic or keep the count)',
      );
    } else if (spec.partitions > current.partitions) {
      actions.push({
        kind: 'addPartitions',
        topic: spec.name,
        from: current.partitions,
        to: spec.partitions,
      });
    }

    const changed = Object.keys(spec.configs)
      .filter((key) => current.configs[key] !== spec.configs[key])
      .sort();
    const previouslyManaged = Object.keys(previousByName.get(spec.name)?.configs ?? {});
    const removed = previouslyManaged
      .filter((key) => !(key in spec.configs) && key in current.configs)
      .sort();
    if (changed.length > 0 || removed.length > 0) {
      const configs: Record<string, string> = { ...current.configs, ...spec.configs };
      for (const key of removed) delete configs[key];
      actions.push({ kind: 'alterConfigs', topic: spec.name, configs, changed, removed });
    }
  }
  return { actions, errors };
}

// --- Kafka I/O ---------------------------------------------------------------------------

/** The kafkajs admin operations used here (a fake implements it in tests). */
export type TopicAdmin = Pick<
  Admin,
  | 'listTopics'
  | 'fetchTopicMetadata'
  | 'describeConfigs'
  | 'createTopics'
  | 'createPartitions'
  | 'alterConfigs'
>;

// kafkajs' ConfigResourceTypes/ConfigSource are not named ESM exports at runtime (CJS module).
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
const CONFIG_SOURCE_TOPIC = 1;

/** Current partitions, replication factor and topic-level overrides of the named topics. */
export async function describeTopics(
  admin: TopicAdmin,
  names: readonly string[],
): Promise<TopicState[]> {
  const existing = new Set(await admin.listTopics());
  const present = names.filter((n) => existing.has(n));
  if (present.length === 0) return [];

  const [{ topics }, configs] = await Promise.all([
    admin.fetchTopicMetadata({ topics: present }),
    admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({ type: TOPIC_RESOURCE, name })),
    }),
  ]);
  const overrides = new Map<string, Record<string, string>>();
  for (const resource of configs.resources) {
    if (resource.errorCode !== 0) {
      throw new Error(
        `describeConfigs for topic ${resource.resourceName} failed: ${resource.errorMessage}`,
      );
    }
    const own: Record<string, string> = {};
    for (const entry of resource.configEntries) {
      if (entry.configSource === CONFIG_SOURCE_TOPIC) own[entry.configName] = entry.configValue;
    }
    overrides.set(resource.resourceName, own);
  }
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.length,
    // Max over partitions: a partially reassigned topic still reports its intended factor.
    replicationFactor: Math.max(0, ...t.partitions.map((p) => p.replicas.length)),
    configs: overrides.get(t.name) ?? {},
  }));
}

const toEntries = (configs: Readonly<Record<string, string>>) =>
  Object.entries(configs).map(([name, value]) => ({ name, value }));

export async function applyTopicPlan(admin: TopicAdmin, plan: TopicPlan): Promise<void> {
  const creates: ITopicConfig[] = [];
  const partitions: { topic: string; count: number }[] = [];
  const alters: { topic: string; configs: Readonly<Record<string, string>> }[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'create') {
      creates.push({
        topic: action.topic.name,
        numPartitions: action.topic.partitions,
        replicationFactor: action.topic.replicationFactor,
        configEntries: toEntries(action.topic.configs),
      });
    } else if (action.kind === 'addPartitions') {
      partitions.push({ topic: action.topic, count: action.to });
    } else {
      alters.push({ topic: action.topic, configs: action.configs });
    }
  }
  if (creates.length > 0) {
    // Wait for leaders so producers started right after the deploy do not see missing topics.
    await admin.createTopics({ topics: creates, waitForLeaders: true });
  }
  if (partitions.length > 0) {
    await admin.createPartitions({ topicPartitions: partitions });
  }
  if (alters.length > 0) {
    await admin.alterConfigs({
      validateOnly: false,
      resources: alters.map((a) => ({
        type: TOPIC_RESOURCE,
        name: a.topic,
        configEntries: toEntries(a.configs),
      })),
    });
  }
}

/** Brings the cluster to the desired topics or throws without changing anything. */
export async function ensureTopics(
  admin: TopicAdmin,
  desired: readonly TopicSpec[],
  options: { previous?: readonly TopicSpec[]; logger?: Pick<LogSink, 'info'> } = {},
): Promise<TopicPlan> {
  const actual = await describeTopics(
    admin,
    desired.map((t) => t.name),
  );
  const plan = planTopicChanges(desired, actual, options.previous);
  if (plan.errors.length > 0) {
    throw new Error(`Refusing to change Kafka topics: ${plan.errors.join('; ')}`);
  }
  options.logger?.info('kafka topic plan', { actions: plan.actions });
  await applyTopicPlan(admin, plan);
  return plan;
}
