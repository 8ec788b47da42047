// The figures every drill reports and the checks it starts from, over the shared ground truth
// (../ground-truth.ts): published, on topic, applied once, applied twice, dead-lettered (with
// the type the dead-letter record carries; records the mapping's backstop wrote raw carry
// none), parked, lost.
import type { Pool } from 'pg';
import type { KafkaEnv } from '../../../lambdas/shared/env';
import type { PipelineTopics } from '../../local-runtime/pipeline';
import {
  appliedTwice,
  type ExpectedOrder,
  extraRows,
  extraTransitions,
  isLost,
  nameOf,
  readGroundTruth,
  UNTYPED,
  whereStuck,
  wrongState,
} from '../ground-truth';
import type { DrillInput, Expectation } from './inputs';

export interface AccountingSources {
  readonly pool: Pool;
  readonly kafkaEnv: KafkaEnv;
  readonly topics: Pick<PipelineTopics, 'orderEvents' | 'deadLetter'>;
}

export interface Misfiled {
  readonly id: string;
  readonly label: string;
  readonly expected: Expectation;
  /** What happened instead: "applied", "lost" or the dead-letter types seen. */
  readonly got: string;
}

export interface LabelRow {
  readonly label: string;
  readonly expected: Expectation;
  produced: number;
  applied: number;
  deadLettered: Record<string, number>;
  lost: number;
}

export interface Accounting {
  readonly produced: number;
  readonly published: number;
  /** Distinct inputs found on the source topic. */
  readonly onTopic: number;
  /** Records on the source topic for the inputs: more than onTopic means redelivered copies. */
  readonly topicCopies: number;
  readonly appliedOnce: number;
  readonly appliedTwice: number;
  /** Inputs not applied that are on the dead-letter topic or parked (distinct inputs). */
  readonly deadLettered: number;
  readonly deadLetteredByType: Readonly<Record<string, number>>;
  /** Dead-letter records for the inputs, copies included (redrives, redeliveries). */
  readonly deadLetterCopies: number;
  /** The most dead-letter records any one input has (a redrive loop shows here). */
  readonly maxDeadLetterCopies: number;
  readonly lost: number;
  /** Inputs parked by triage in dead_letters, by type (distinct inputs). */
  readonly parkedByType: Readonly<Record<string, number>>;
  /** Bad inputs (expected a type) that were not dead-lettered with it, or were applied. */
  readonly misfiled: readonly Misfiled[];
  /** Bad inputs not parked by triage with their expected type (only meaningful with triage). */
  readonly parkedMisfiled: readonly Misfiled[];
  /**
   * Good inputs that ended dead-lettered instead of applied (not lost), by the sequence of
   * types their dead letters carried (e.g. TRANSIENT→INVALID_TRANSITION).
   */
  readonly goodDeadLetteredByType: Readonly<Record<string, number>>;
  /** Orders whose every event applied but whose final state or version is not the plan's. */
  readonly stateMismatches: readonly string[];
  /** Orders that no good input should have created. */
  readonly unexpectedOrders: number;
  readonly byLabel: readonly LabelRow[];
  /** Up to 10 examples per failing figure, for the report. */
  readonly examples: Readonly<Record<string, readonly string[]>>;
}

function add(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}

export async function account(
  inputs: readonly DrillInput[],
  orders: readonly ExpectedOrder[],
  sources: AccountingSources,
): Promise<Accounting> {
  const truth = await readGroundTruth(inputs, orders, {
    pool: sources.pool,
    topic: sources.topics.orderEvents,
    topics: { kafkaEnv: sources.kafkaEnv, deadLetter: sources.topics.deadLetter },
  });

  let appliedOnce = 0;
  let lost = 0;
  let deadLettered = 0;
  const deadLetteredByType: Record<string, number> = {};
  const goodDeadLetteredByType: Record<string, number> = {};
  const parkedByType: Record<string, number> = {};
  const misfiled: Misfiled[] = [];
  const parkedMisfiled: Misfiled[] = [];
  const labels = new Map<string, LabelRow>();
  const examples: Record<string, string[]> = {};
  const example = (figure: string, text: string) => {
    const list = examples[figure] ?? [];
    if (list.length < 10) list.push(text);
    examples[figure] = list;
  };

  for (const t of truth.events) {
    const input = t.event;
    const id = nameOf(input);
    const miss = (got: string): Misfiled => ({
      id,
      label: input.label,
      expected: input.expected,
      got,
    });
    const row = labels.get(input.label) ?? {
      label: input.label,
      expected: input.expected,
      produced: 0,
      applied: 0,
      deadLettered: {},
      lost: 0,
    };
    labels.set(input.label, row);
    row.produced++;
    if (t.parkedAs !== undefined) add(parkedByType, t.parkedAs);
    if (input.expected !== 'apply' && t.parkedAs !== input.expected) {
      parkedMisfiled.push(miss(t.parkedAs ?? 'not parked'));
    }

    if (t.outcome === 'processed') {
      row.applied++;
      if (extraRows(t) > 0) {
        example('appliedTwice', `${input.label} ${id}: ${t.appliedRows} processed_events rows`);
      } else {
        appliedOnce++;
      }
      if (input.expected !== 'apply') misfiled.push(miss('applied'));
      continue;
    }
    if (!isLost(t.outcome)) {
      deadLettered++;
      // Every copy of an input sits in one dead-letter partition (same key), in the order it
      // was written: the last typed one is the type it ended with (after redrives). A parked
      // input whose record the topic no longer holds has its row's type.
      const types = t.deadLetterTypes.length > 0 ? t.deadLetterTypes : [t.parkedAs ?? UNTYPED];
      const typed = types.filter((type) => type !== UNTYPED);
      const type = typed.at(-1) ?? UNTYPED;
      add(deadLetteredByType, type);
      add(row.deadLettered, type);
      // For good events the path tells why, e.g. TRANSIENT→INVALID_TRANSITION.
      if (input.expected === 'apply') add(goodDeadLetteredByType, types.join('→'));
      else if (!types.includes(input.expected) || typed.length > 1) {
        misfiled.push(miss(types.join('+')));
      }
      continue;
    }
    lost++;
    row.lost++;
    const stuck = whereStuck(t);
    example(
      'lost',
      `${input.label} ${id} (expected ${input.expected}${stuck ? `; ${stuck}` : ''})`,
    );
    if (input.expected !== 'apply') misfiled.push(miss('lost'));
  }

  const stateMismatches: string[] = [];
  let unexpectedOrders = 0;
  for (const order of truth.orders) {
    if (extraTransitions(order) > 0) {
      example(
        'appliedTwice',
        `order ${order.id}: version ${order.version} after ${order.applied} distinct applied events`,
      );
    }
    const plan = order.planned;
    if (plan === undefined) {
      unexpectedOrders++;
      example('unexpectedOrders', `order ${order.id} (${order.status})`);
      continue;
    }
    if (wrongState(order)) {
      stateMismatches.push(order.id);
      example(
        'stateMismatches',
        `order ${order.id}: ${order.status} v${order.version}, planned ${plan.finalState} v${plan.events}`,
      );
    }
  }

  const deadLetterCopies = truth.events.map((t) => t.deadLetterCopies);
  return {
    produced: inputs.length,
    // Outbox inputs count once marked published; injected ones once the broker holds them.
    published: truth.events.filter((t) =>
      t.outbox !== undefined ? t.outbox === 'published' : t.topicCopies > 0,
    ).length,
    onTopic: truth.events.filter((t) => t.topicCopies > 0).length,
    topicCopies: truth.events.reduce((n, t) => n + t.topicCopies, 0),
    appliedOnce,
    appliedTwice: appliedTwice(truth),
    deadLettered,
    deadLetteredByType,
    deadLetterCopies: deadLetterCopies.reduce((n, c) => n + c, 0),
    maxDeadLetterCopies: Math.max(0, ...deadLetterCopies),
    lost,
    parkedByType,
    misfiled,
    parkedMisfiled,
    goodDeadLetteredByType,
    stateMismatches,
    unexpectedOrders,
    byLabel: [...labels.values()],
    examples,
  };
}

/** The conditions every drill must meet; drills add their own. */
export function baseChecks(
  a: Accounting,
): Array<{ readonly name: string; readonly ok: boolean; readonly advisory?: boolean }> {
  const goodParked = Object.values(a.goodDeadLetteredByType).reduce((n, v) => n + v, 0);
  return [
    { name: '0 lost', ok: a.lost === 0 },
    { name: '0 applied twice', ok: a.appliedTwice === 0 },
    { name: 'every bad input dead-lettered with its type', ok: a.misfiled.length === 0 },
    { name: 'every order in its planned final state', ok: a.stateMismatches.length === 0 },
    { name: 'no order created by a bad input', ok: a.unexpectedOrders === 0 },
    {
      name: `every good event applied (${goodParked} dead-lettered instead)`,
      ok: goodParked === 0,
      advisory: true,
    },
  ];
}
