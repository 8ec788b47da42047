// Ground-truth accounting for npm start and the drills: what became of every event a run produced.
import { Buffer } from 'node:buffer';
import type { Pool } from 'pg';
import { withClient } from '../../lambdas/shared/db/transaction';
import { decodeDeadLetter } from '../../lambdas/shared/dead-letter/message';
import type { KafkaEnv } from '../../lambdas/shared/env';
import type { OrderState } from '../../lambdas/shared/events/state-machine';
import { DRILL_INPUT_HEADER, type Expectation } from './drill/inputs';
import { readTopic, type TopicRecord } from './drill/topic-reader';

export interface Position {
  readonly partition: number;
  readonly offset: string;
}

/** One event a run produced, and what must become of it. */
export interface ProducedEvent {
  /** Short kind ("OrderPlaced", "not-json"); reports group by it. */
  readonly label: string;
  /** 'apply', or the error type it must be dead-lettered with. */
  readonly expected: Expectation;
  /**
   * Its eventId, or the DRILL_INPUT_HEADER value of a record a drill wrote straight to the topic
   * (dead letters and redrives keep headers).
   */
  readonly id?: string;
  /** Its eventId when `id` is a header value (a readable record written straight to the topic). */
  readonly eventId?: string;
  /** The order it is about (readable order events). */
  readonly aggregateId?: string;
  /** Where it landed on the topic: how a dead letter names a record with no id (not JSON). */
  readonly position?: Position;
}

export interface ExpectedOrder {
  readonly orderId: string;
  readonly finalState: OrderState;
  /** Events that must apply (each bumps the version once; creation sets version 1). */
  readonly events: number;
}

/**
 * What became of an event; the first that holds:
 *   processed      it has a processed_events row (more than one: applied twice)
 *   parked         triage parked it in dead_letters, with an error type
 *   dead-lettered  it is on the dead-letter topic, not parked (only when the topics are read)
 *   set aside / discarded / pending   its outbox row was set aside, discarded, or not published yet
 *   lost           none of these
 * The outbox outcomes count as lost too: the event reached neither processed_events nor a dead
 * letter, and a drained run should have none.
 */
export type Outcome =
  | 'processed'
  | 'parked'
  | 'dead-lettered'
  | 'set aside'
  | 'discarded'
  | 'pending'
  | 'lost';

export type OutboxState = 'published' | 'pending' | 'set aside' | 'discarded';

export interface EventTruth {
  readonly event: ProducedEvent;
  readonly outcome: Outcome;
  /** processed_events rows with its eventId. */
  readonly appliedRows: number;
  /** The error type of its latest dead_letters row, whatever its outcome. */
  readonly parkedAs: string | undefined;
  /** Distinct types its dead-letter records carry, in the order written (topics read only). */
  readonly deadLetterTypes: readonly string[];
  /** Its records on the dead-letter topic, copies included. */
  readonly deadLetterCopies: number;
  /** Its records on the order-events topic, copies included (topics read only). */
  readonly topicCopies: number;
  /** Undefined for a record written straight to the topic. */
  readonly outbox: OutboxState | undefined;
}

export interface OrderTruth {
  readonly id: string;
  readonly status: OrderState;
  readonly version: number;
  /** Distinct produced events applied to it. */
  readonly applied: number;
  /** Undefined: no produced event should have created it. */
  readonly planned: ExpectedOrder | undefined;
}

export interface GroundTruth {
  /** In the order the events were given. */
  readonly events: readonly EventTruth[];
  readonly orders: readonly OrderTruth[];
}

export interface GroundTruthSources {
  readonly pool: Pick<Pool, 'connect'>;
  /** The order-events topic: dead letters name a record by its position there. */
  readonly topic: string;
  /**
   * Set when the database outlives the run (npm start's): dead letters parked before it are
   * earlier runs' (a wiped local broker hands out the same offsets again), and only orders the
   * run names are read. Unset: the database is the run's own, every order in it is counted.
   */
  readonly since?: Date;
  /** Also read both topics end to end (a drill's own topics; npm start's are long-lived). */
  readonly topics?: { readonly kafkaEnv: KafkaEnv; readonly deadLetter: string };
}

/** The type of a dead letter the mapping's backstop wrote raw (no consumer classification). */
export const UNTYPED = 'UNTYPED';

/** Outcomes that count as lost: the event reached neither processed_events nor a dead letter. */
export function isLost(outcome: Outcome): boolean {
  return outcome !== 'processed' && outcome !== 'parked' && outcome !== 'dead-lettered';
}

/** Where a lost event stopped, when its outbox row tells ("outbox row pending"). */
export function whereStuck(t: EventTruth): string | undefined {
  const { outcome } = t;
  return outcome === 'set aside' || outcome === 'discarded' || outcome === 'pending'
    ? `outbox row ${outcome}`
    : undefined;
}

/** How reports name an event. */
export function nameOf(event: ProducedEvent): string {
  if (event.id !== undefined) return event.id;
  return event.position ? `${event.position.partition}:${event.position.offset}` : '(no id)';
}

/** Applications beyond the first: an event's extra processed_events rows. */
export function extraRows(e: EventTruth): number {
  return Math.max(0, e.appliedRows - 1);
}

/** Transitions beyond the order's distinct applied events (the version counts transitions). */
export function extraTransitions(o: OrderTruth): number {
  return Math.max(0, o.version - o.applied);
}

/** Every planned event applied, yet the order is in another state or has fewer transitions. */
export function wrongState(o: OrderTruth): boolean {
  const plan = o.planned;
  return (
    plan !== undefined &&
    o.applied === plan.events &&
    (o.status !== plan.finalState || o.version < plan.events)
  );
}

/** Everything applied twice: extra processed_events rows plus extra order transitions. */
export function appliedTwice(truth: GroundTruth): number {
  return (
    truth.events.reduce((n, e) => n + extraRows(e), 0) +
    truth.orders.reduce((n, o) => n + extraTransitions(o), 0)
  );
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

/** Dead-letter headers as stored (base64 values); a forged message may carry anything there. */
function decodedHeaders(headers: unknown) {
  if (!Array.isArray(headers)) return [];
  return headers.map((h: { key?: unknown; value?: unknown }) => ({
    key: String(h?.key),
    value: typeof h?.value === 'string' ? Buffer.from(h.value, 'base64') : null,
  }));
}

/** The input a source-topic record carries. */
function sourceId(record: TopicRecord): string | undefined {
  return headerValue(record.headers, DRILL_INPUT_HEADER) ?? headerValue(record.headers, 'eventId');
}

/** A dead-letter topic record: the input it is about and its error type. */
export function readDeadLetterRecord(record: TopicRecord): {
  readonly id: string | undefined;
  readonly type: string;
} {
  const decoded = decodeDeadLetter(record.value);
  if (decoded.ok) {
    const m = decoded.message;
    return {
      id: headerValue(decodedHeaders(m.headers), DRILL_INPUT_HEADER) ?? m.eventId ?? undefined,
      type: m.errorType,
    };
  }
  // The mapping's on-failure backstop: the original record with esm-* headers, no type.
  return { id: sourceId(record), type: UNTYPED };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const at = (p: { partition: number; offset: string }) => `${p.partition}:${p.offset}`;

interface Rows {
  readonly processed: ReadonlyMap<string, number>;
  readonly outbox: ReadonlyMap<string, OutboxState>;
  readonly orders: readonly { id: string; status: OrderState; version: number }[];
  readonly parked: readonly {
    event_id: string | null;
    source_topic: string;
    p: number;
    o: string;
    error_type: string;
    headers: unknown;
  }[];
}

/** The PostgreSQL side, in one snapshot: an order and its processed_events row agree. */
async function readDatabase(
  events: readonly ProducedEvent[],
  orders: readonly ExpectedOrder[],
  sources: GroundTruthSources,
): Promise<Rows> {
  const eventIds = events.flatMap((e) => {
    const id = e.eventId ?? e.id;
    return id === undefined ? [] : [id];
  });
  const named = [
    ...new Set([
      ...orders.map((o) => o.orderId),
      ...events.flatMap((e) => (e.aggregateId ? [e.aggregateId] : [])),
    ]),
  ];
  return withClient(sources.pool, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const processed = await client.query<{ event_id: string; n: number }>(
        `SELECT event_id, count(*)::int AS n FROM processed_events
          WHERE event_id = ANY($1::text[]) GROUP BY event_id`,
        [eventIds],
      );
      const outbox = await client.query<{ id: string; state: OutboxState }>(
        `SELECT id::text AS id,
                CASE WHEN published_at IS NOT NULL THEN 'published'
                     WHEN set_aside_at IS NOT NULL THEN 'set aside'
                     WHEN discarded_at IS NOT NULL THEN 'discarded'
                     ELSE 'pending' END AS state
           FROM outbox WHERE id = ANY($1::uuid[])`,
        [eventIds.filter((id) => UUID.test(id))],
      );
      const orderRows = await client.query<{ id: string; status: OrderState; version: number }>(
        sources.since === undefined
          ? 'SELECT id, status, version FROM orders ORDER BY id'
          : 'SELECT id, status, version FROM orders WHERE id = ANY($1::text[]) ORDER BY id',
        sources.since === undefined ? [] : [named],
      );
      // Only the headers of the stored message: an oversized one runs to megabytes.
      const parked = await client.query<Rows['parked'][number]>(
        `SELECT event_id, source_topic, source_partition AS p, source_offset::text AS o,
                error_type, message->'headers' AS headers
           FROM dead_letters WHERE parked_at >= $1 ORDER BY id`,
        [sources.since ?? new Date(0)],
      );
      return {
        processed: new Map(processed.rows.map((r) => [r.event_id, r.n])),
        outbox: new Map(outbox.rows.map((r) => [r.id, r.state])),
        orders: orderRows.rows,
        parked: parked.rows,
      };
    } finally {
      await client.query('COMMIT');
    }
  });
}

/**
 * Reads what became of each event (and of the orders they are about) from processed_events,
 * dead_letters, outbox and orders, plus both topics when `sources.topics` is given.
 */
export async function readGroundTruth(
  events: readonly ProducedEvent[],
  orders: readonly ExpectedOrder[],
  sources: GroundTruthSources,
): Promise<GroundTruth> {
  const [db, sourceRecords, dlqRecords] = await Promise.all([
    readDatabase(events, orders, sources),
    sources.topics ? readTopic(sources.topics.kafkaEnv, sources.topic) : [],
    sources.topics ? readTopic(sources.topics.kafkaEnv, sources.topics.deadLetter) : [],
  ]);

  const copies = new Map<string, number>();
  for (const r of sourceRecords) {
    const id = sourceId(r);
    if (id !== undefined) copies.set(id, (copies.get(id) ?? 0) + 1);
  }
  const deadLetters = new Map<string, { types: Set<string>; copies: number }>();
  for (const r of dlqRecords) {
    const seen = readDeadLetterRecord(r);
    if (seen.id === undefined) continue;
    const entry = deadLetters.get(seen.id) ?? { types: new Set<string>(), copies: 0 };
    entry.types.add(seen.type);
    entry.copies++;
    deadLetters.set(seen.id, entry);
  }
  // A dead_letters row names its record by the drill's header, else by its eventId; a record
  // with neither (not JSON) only by where it was consumed from. The latest row wins.
  const parkedById = new Map<string, string>();
  const parkedAt = new Map<string, string>();
  for (const row of db.parked) {
    const id = headerValue(decodedHeaders(row.headers), DRILL_INPUT_HEADER);
    const name = id ?? row.event_id;
    if (name !== null) parkedById.set(name, row.error_type);
    if (row.source_topic === sources.topic) {
      parkedAt.set(at({ partition: row.p, offset: row.o }), row.error_type);
    }
  }

  const truths = events.map((event): EventTruth => {
    const eventId = event.eventId ?? event.id;
    const appliedRows = eventId === undefined ? 0 : (db.processed.get(eventId) ?? 0);
    const parkedAs =
      (event.position && parkedAt.get(at(event.position))) ??
      (event.id === undefined ? undefined : parkedById.get(event.id));
    const dead = event.id === undefined ? undefined : deadLetters.get(event.id);
    const outbox = eventId === undefined ? undefined : db.outbox.get(eventId);
    const outcome: Outcome =
      appliedRows > 0
        ? 'processed'
        : parkedAs !== undefined
          ? 'parked'
          : dead !== undefined
            ? 'dead-lettered'
            : outbox !== undefined && outbox !== 'published'
              ? outbox
              : 'lost';
    return {
      event,
      outcome,
      appliedRows,
      parkedAs,
      deadLetterTypes: dead ? [...dead.types] : [],
      deadLetterCopies: dead?.copies ?? 0,
      topicCopies: event.id === undefined ? 0 : (copies.get(event.id) ?? 0),
      outbox,
    };
  });

  const appliedPerOrder = new Map<string, number>();
  for (const t of truths) {
    const order = t.event.aggregateId;
    if (t.appliedRows > 0 && order !== undefined) {
      appliedPerOrder.set(order, (appliedPerOrder.get(order) ?? 0) + 1);
    }
  }
  const plans = new Map(orders.map((o) => [o.orderId, o]));
  return {
    events: truths,
    orders: db.orders.map((o) => ({
      ...o,
      applied: appliedPerOrder.get(o.id) ?? 0,
      planned: plans.get(o.id),
    })),
  };
}
