// The accounting every drill ends with, read from ground truth only, never from the
// components' own counters:
//   published      outbox rows marked published (outbox drills) / records acknowledged on the
//                  topic (injected records), and the topic itself read end to end
//   applied        processed_events rows (the consumer's PostgreSQL ground truth)
//   applied twice  an event with more than one processed_events row, or an order whose version
//                  (bumped once per applied transition) exceeds the number of its distinct
//                  applied events: a transition that ran more often than there were events
//   dead-lettered  records on the dead-letter topic, with the error type they carry; records
//                  the mapping's on-failure backstop wrote there raw carry no type
//   lost           produced − (applied + dead-lettered): neither in PostgreSQL nor on the DLQ
import { Buffer } from 'node:buffer';
import type { Pool } from 'pg';
import { decodeDeadLetter } from '../../../lambdas/shared/dead-letter/message';
import type { KafkaEnv } from '../../../lambdas/shared/env';
import type { OrderState } from '../../../lambdas/shared/events/state-machine';
import type { PipelineTopics } from '../../local-runtime/pipeline';
import { DRILL_INPUT_HEADER, type DrillInput, type Expectation } from './inputs';
import { readTopic, type TopicRecord } from './topic-reader';

/** The type of a dead letter the mapping's backstop wrote raw (no consumer classification). */
export const UNTYPED = 'UNTYPED';

export interface ExpectedOrder {
  readonly orderId: string;
  readonly finalState: OrderState;
  /** Events that must apply (each bumps the version once; creation sets version 1). */
  readonly events: number;
}

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
  /** Inputs not applied that are on the dead-letter topic (distinct inputs). */
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

function headerValue(headers: readonly { key: string; value: unknown }[], key: string) {
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i];
    if (h?.key !== key || h.value === null || h.value === undefined) continue;
    const v = h.value;
    return typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('utf8');
  }
  return undefined;
}

/** The input a source-topic record carries. */
function sourceId(record: TopicRecord): string | undefined {
  return headerValue(record.headers, DRILL_INPUT_HEADER) ?? headerValue(record.headers, 'eventId');
}

interface DeadLetterSeen {
  readonly id: string | undefined;
  readonly type: string;
}

/** A dead-letter topic record: the input it is about and its error type. */
export function readDeadLetterRecord(record: TopicRecord): DeadLetterSeen {
  const decoded = decodeDeadLetter(record.value);
  if (decoded.ok) {
    const m = decoded.message;
    const headers = m.headers.map((h) => ({
      key: h.key,
      value: h.value === null ? null : Buffer.from(h.value, 'base64'),
    }));
    return {
      id: headerValue(headers, DRILL_INPUT_HEADER) ?? m.eventId ?? undefined,
      type: m.errorType,
    };
  }
  // The mapping's on-failure backstop: the original record with esm-* headers, no type.
  return { id: sourceId(record), type: UNTYPED };
}

function add(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}

export async function account(
  inputs: readonly DrillInput[],
  orders: readonly ExpectedOrder[],
  sources: AccountingSources,
): Promise<Accounting> {
  const { pool } = sources;
  const [processed, orderRows, outbox, parkedRows, sourceRecords, dlqRecords] = await Promise.all([
    pool.query<{ event_id: string; n: number }>(
      'SELECT event_id, count(*)::int AS n FROM processed_events GROUP BY event_id',
    ),
    pool.query<{ id: string; status: OrderState; version: number }>(
      'SELECT id, status, version FROM orders',
    ),
    pool.query<{ id: string; published: boolean }>(
      'SELECT id::text AS id, published_at IS NOT NULL AS published FROM outbox',
    ),
    pool.query<{ event_id: string | null; error_type: string; message: unknown }>(
      'SELECT event_id, error_type, message FROM dead_letters',
    ),
    readTopic(sources.kafkaEnv, sources.topics.orderEvents),
    readTopic(sources.kafkaEnv, sources.topics.deadLetter),
  ]);

  const processedRows = new Map(processed.rows.map((r) => [r.event_id, r.n]));
  const published = new Set(outbox.rows.filter((r) => r.published).map((r) => r.id));
  const copies = new Map<string, number>();
  for (const r of sourceRecords) {
    const id = sourceId(r);
    if (id !== undefined) copies.set(id, (copies.get(id) ?? 0) + 1);
  }
  const deadLetters = new Map<string, Set<string>>();
  const perInput = new Map<string, number>();
  let deadLetterCopies = 0;
  const known = new Set(inputs.map((i) => i.id));
  for (const r of dlqRecords) {
    const seen = readDeadLetterRecord(r);
    if (seen.id === undefined || !known.has(seen.id)) continue;
    deadLetterCopies++;
    perInput.set(seen.id, (perInput.get(seen.id) ?? 0) + 1);
    const types = deadLetters.get(seen.id) ?? new Set<string>();
    types.add(seen.type);
    deadLetters.set(seen.id, types);
  }
  const parked = new Map<string, string>();
  for (const row of parkedRows.rows) {
    const message = row.message as { headers?: { key: string; value: string | null }[] } | null;
    const headers = (message?.headers ?? []).map((h) => ({
      key: h.key,
      value: h.value === null ? null : Buffer.from(h.value, 'base64'),
    }));
    const id = headerValue(headers, DRILL_INPUT_HEADER) ?? row.event_id ?? undefined;
    if (id !== undefined && known.has(id)) parked.set(id, row.error_type);
  }

  let appliedOnce = 0;
  let appliedTwice = 0;
  let lost = 0;
  let deadLettered = 0;
  const deadLetteredByType: Record<string, number> = {};
  const goodDeadLetteredByType: Record<string, number> = {};
  const parkedByType: Record<string, number> = {};
  const misfiled: Misfiled[] = [];
  const parkedMisfiled: Misfiled[] = [];
  const labels = new Map<string, LabelRow>();
  const appliedPerOrder = new Map<string, number>();
  const examples: Record<string, string[]> = {};
  const example = (figure: string, text: string) => {
    const list = examples[figure] ?? [];
    if (list.length < 10) list.push(text);
    examples[figure] = list;
  };

  for (const input of inputs) {
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
    const rows = processedRows.get(input.eventId ?? input.id) ?? 0;
    const types = deadLetters.get(input.id);
    const parkedType = parked.get(input.id);
    if (parkedType !== undefined) add(parkedByType, parkedType);
    if (input.expected !== 'apply' && parkedType !== input.expected) {
      parkedMisfiled.push({
        id: input.id,
        label: input.label,
        expected: input.expected,
        got: parkedType ?? 'not parked',
      });
    }

    if (rows > 0) {
      row.applied++;
      if (rows > 1) {
        appliedTwice += rows - 1;
        example('appliedTwice', `${input.label} ${input.id}: ${rows} processed_events rows`);
      } else {
        appliedOnce++;
      }
      if (input.aggregateId !== undefined) {
        appliedPerOrder.set(input.aggregateId, (appliedPerOrder.get(input.aggregateId) ?? 0) + 1);
      }
      if (input.expected !== 'apply') {
        misfiled.push({
          id: input.id,
          label: input.label,
          expected: input.expected,
          got: 'applied',
        });
      }
      continue;
    }
    if (types !== undefined) {
      deadLettered++;
      // Every copy of an input sits in one dead-letter partition (same key), in the order it
      // was written: the last typed one is the type it ended with (after redrives).
      const typed = [...types].filter((t) => t !== UNTYPED);
      const type = typed.at(-1) ?? UNTYPED;
      add(deadLetteredByType, type);
      add(row.deadLettered, type);
      // For good events the path tells why, e.g. TRANSIENT→INVALID_TRANSITION.
      if (input.expected === 'apply') add(goodDeadLetteredByType, [...types].join('→'));
      else if (!types.has(input.expected) || typed.length > 1) {
        misfiled.push({
          id: input.id,
          label: input.label,
          expected: input.expected,
          got: [...types].join('+'),
        });
      }
      continue;
    }
    lost++;
    row.lost++;
    example('lost', `${input.label} ${input.id} (expected ${input.expected})`);
    if (input.expected !== 'apply') {
      misfiled.push({ id: input.id, label: input.label, expected: input.expected, got: 'lost' });
    }
  }

  const expected = new Map(orders.map((o) => [o.orderId, o]));
  const stateMismatches: string[] = [];
  let unexpectedOrders = 0;
  for (const order of orderRows.rows) {
    const plan = expected.get(order.id);
    const applied = appliedPerOrder.get(order.id) ?? 0;
    // Version counts applied transitions; more transitions than distinct events = a double.
    if (order.version > applied) {
      appliedTwice += order.version - applied;
      example(
        'appliedTwice',
        `order ${order.id}: version ${order.version} after ${applied} distinct applied events`,
      );
    }
    if (plan === undefined) {
      unexpectedOrders++;
      example('unexpectedOrders', `order ${order.id} (${order.status})`);
      continue;
    }
    // A version above the plan is counted as applied twice above; here: wrong state, or
    // transitions missing although every event has its processed_events row.
    if (
      applied === plan.events &&
      (order.status !== plan.finalState || order.version < plan.events)
    ) {
      stateMismatches.push(order.id);
      example(
        'stateMismatches',
        `order ${order.id}: ${order.status} v${order.version}, planned ${plan.finalState} v${plan.events}`,
      );
    }
  }

  const onTopic = inputs.filter((i) => (copies.get(i.id) ?? 0) > 0).length;
  const inOutbox = new Set(outbox.rows.map((r) => r.id));
  return {
    produced: inputs.length,
    // Outbox inputs count once marked published; injected ones once the broker holds them.
    published: inputs.filter((i) =>
      inOutbox.has(i.id) ? published.has(i.id) : (copies.get(i.id) ?? 0) > 0,
    ).length,
    onTopic,
    topicCopies: inputs.reduce((n, i) => n + (copies.get(i.id) ?? 0), 0),
    appliedOnce,
    appliedTwice,
    deadLettered,
    deadLetteredByType,
    deadLetterCopies,
    maxDeadLetterCopies: Math.max(0, ...perInput.values()),
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
