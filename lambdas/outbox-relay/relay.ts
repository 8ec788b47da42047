// The relay loop: claim pending outbox rows in seq order, publish them with the idempotent
// producer, mark them published once the broker acknowledged. A pass holds the relay lock and
// overlaps consecutive batches: the next claim runs while a batch is on its way to the broker,
// and the previous batch's mark commits meanwhile on a second connection. Sends stay strictly
// one after another, so each order's events reach the topic in seq order. A crash anywhere
// before a batch's mark leaves its rows pending: they are published again (a duplicate, which
// consumers dedupe), never lost. A row the broker refuses for good is set aside instead of
// failing every iteration, so one row never stops every other order.

import type { Message, Producer, RecordMetadata } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { transaction, withClient } from '../shared/db/transaction';
import { chunkBySize, estimateRecordBytes, fitsAlone } from '../shared/kafka/record-size';
import type { LogSink } from '../shared/log-sink';
import {
  beginRelayPass,
  claimNext,
  deletePublishedBefore,
  markPublished,
  markSetAside,
  type OutboxRow,
  outboxGauges,
  type SetAsideRow,
} from '../shared/outbox/outbox';
import { type BackoffPolicy, backoffDelayMs, sleep } from '../shared/resilience/backoff';
import { TRACEPARENT_HEADER, traceOf } from '../shared/tracing/trace-context';
import { deleteProcessedEventsBefore } from './processed-events';

export type WakeReason = 'notify' | 'poll';

/** Something that resolves when new outbox rows may exist (NOTIFY) or after a timeout. */
export interface WakeSource {
  wait(timeoutMs: number): Promise<WakeReason>;
  /** Ends a wait in progress at once (used on shutdown). */
  interrupt(): void;
}

export interface RelayTelemetry {
  published(count: number, durationMs: number): void;
  /** Rows set aside by this batch (the broker refuses them for good). */
  setAside(count: number): void;
  oldestPending(ageMs: number): void;
  /** Gauge: rows set aside now, waiting for an operator. */
  setAsideNow(count: number): void;
  /** Called once per loop iteration: emit what was recorded. */
  flush(): void;
}

export interface RelayDeps {
  readonly pool: Pick<Pool, 'connect'>;
  readonly producer: Pick<Producer, 'send'>;
  /**
   * Replaces the producer with a new one (a new producer id). Needed after a send some of whose
   * partitions the broker wrote and some it refused: kafkajs then rolls back the sequence
   * numbers of all of them, and the next send to a written partition is refused as
   * OUT_OF_ORDER_SEQUENCE_NUMBER for good.
   */
  readonly renewProducer?: () => Promise<void>;
  readonly wake: WakeSource;
  readonly logger: LogSink;
  readonly telemetry: RelayTelemetry;
  /** Test seam: runs after the broker acknowledged a batch and before the rows are marked. */
  readonly afterPublish?: (rows: readonly OutboxRow[]) => Promise<void>;
  readonly now?: () => number;
}

export interface RelayOptions {
  readonly topic: string;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  /** The topic's max.message.bytes: no send carries more, a larger row is set aside. */
  readonly maxMessageBytes: number;
  readonly publishedRetentionHours: number;
  readonly processedEventsRetentionHours: number;
  /** Checked between batches; the Lambda adapter stops before the invocation times out. */
  readonly shouldContinue: () => boolean;
  /** How long a wait may last at most right now (e.g. the Lambda time left). */
  readonly maxWaitMs?: () => number;
  readonly retentionEveryMs: number;
  readonly retentionBatch: number;
  /**
   * Deleting time per table and pass. A backlog (processed_events was never purged before)
   * is worked off over the following iterations instead of stalling publishing.
   */
  readonly retentionBudgetMs: number;
  /** Between attempts after a failed iteration (broker or database unavailable). */
  readonly failureBackoff: BackoffPolicy;
}

export type BatchStatus = 'published' | 'idle' | 'standby';

export interface BatchResult {
  readonly status: BatchStatus;
  /** Rows of the pass's last claim: more than 0 means it stopped before catching up. */
  readonly claimed: number;
  readonly published: number;
  readonly setAside: number;
  /** Claimed rows left pending behind a set-aside row of their aggregate. */
  readonly held: number;
  /** Batches sent in the pass. */
  readonly batches: number;
}

export interface RelaySummary {
  readonly published: number;
  readonly setAside: number;
  readonly batches: number;
  /** Outbox rows deleted by retention. */
  readonly deleted: number;
  /** processed_events rows deleted by retention. */
  readonly processedEventsDeleted: number;
  /** Iterations that failed (and were retried after a backoff). */
  readonly failures: number;
  /** How each wait ended: a NOTIFY or the polling fallback. */
  readonly wakes: Record<WakeReason, number>;
}

export function toMessage(row: OutboxRow): Message {
  return {
    key: row.aggregateId,
    value: JSON.stringify(row.payload),
    headers: row.headers,
  };
}

const NOTHING = { claimed: 0, published: 0, setAside: 0, held: 0, batches: 0 } as const;

/** Broker answers that no retry of the same record can change (kafkajs protocol error types). */
export const PERMANENT_SEND_ERRORS: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
]);

/** The producer's own state is broken; a new producer (new producer id) recovers. */
const PRODUCER_STATE_ERRORS: ReadonlySet<string> = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/** The kafkajs protocol error type of a failed send, also when wrapped (`cause`). */
export function protocolErrorType(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The reason to set a row aside when the broker refused it for good; any other failure is
 * rethrown (the iteration fails and is retried), after renewing a producer whose state broke.
 */
async function permanentRefusal(deps: RelayDeps, error: unknown): Promise<string> {
  const type = protocolErrorType(error);
  if (type !== undefined && PRODUCER_STATE_ERRORS.has(type)) await deps.renewProducer?.();
  if (type === undefined || !PERMANENT_SEND_ERRORS.has(type)) throw error;
  return `${type}: ${error instanceof Error ? error.message : String(error)}`;
}

/** Where the broker wrote a row, when its send answered for it alone. */
interface RecordPosition {
  readonly partition: number;
  readonly offset: string;
}

/**
 * Positions of a send's rows: known only when the broker wrote the whole send to one partition
 * (rows then take consecutive offsets from its base offset, in send order). A send spanning
 * partitions does not say which row went where, so its rows get none.
 */
function positionsOf(
  rows: readonly OutboxRow[],
  metadata: unknown,
  into: Map<OutboxRow, RecordPosition>,
): void {
  if (!Array.isArray(metadata) || metadata.length !== 1) return;
  const [only] = metadata as RecordMetadata[];
  const base = only?.baseOffset;
  if (only === undefined || base === undefined || !/^\d+$/.test(base)) return;
  rows.forEach((row, i) => {
    into.set(row, { partition: only.partition, offset: String(BigInt(base) + BigInt(i)) });
  });
}

/**
 * Sends the claimed rows in seq order, in chunks that stay within the topic's limit, one chunk
 * at a time. A row the broker refuses for good is set aside, and the later rows of its
 * aggregate are held (left pending, skipped by later claims) so that they never overtake it.
 */
async function sendRows(
  deps: RelayDeps,
  options: Pick<RelayOptions, 'topic' | 'maxMessageBytes'>,
  rows: readonly OutboxRow[],
  /** aggregateId → the set-aside row its later rows wait behind (kept for the whole pass). */
  blocked: Map<string, OutboxRow>,
): Promise<{
  acked: OutboxRow[];
  setAside: SetAsideRow[];
  held: OutboxRow[];
  positions: Map<OutboxRow, RecordPosition>;
}> {
  const acked: OutboxRow[] = [];
  const positions = new Map<OutboxRow, RecordPosition>();
  const setAside: SetAsideRow[] = [];
  const held: OutboxRow[] = [];
  const messages = new Map<OutboxRow, Message>();
  const sizes = new Map<OutboxRow, number>();
  const send = async (batch: readonly OutboxRow[]) => {
    const metadata = await deps.producer.send({
      topic: options.topic,
      acks: -1,
      messages: batch.map((r) => messages.get(r) as Message),
    });
    positionsOf(batch, metadata, positions);
  };
  const setAsideRow = (row: OutboxRow, reason: string) => {
    setAside.push({ id: row.id, reason });
    blocked.set(row.aggregateId, row);
  };
  /** False (and held) when an earlier row of the aggregate was set aside. */
  const mayGo = (row: OutboxRow) => {
    if (!blocked.has(row.aggregateId)) return true;
    held.push(row);
    return false;
  };

  const sendable: OutboxRow[] = [];
  for (const row of rows) {
    if (!mayGo(row)) continue;
    const message = toMessage(row);
    const bytes = estimateRecordBytes(message);
    if (!fitsAlone(bytes, options.maxMessageBytes)) {
      setAsideRow(
        row,
        `MESSAGE_TOO_LARGE: about ${bytes} bytes, over the topic's max.message.bytes ${options.maxMessageBytes}; not sent`,
      );
      continue;
    }
    messages.set(row, message);
    sizes.set(row, bytes);
    sendable.push(row);
  }

  for (const chunk of chunkBySize(sendable, (r) => sizes.get(r) ?? 0, options.maxMessageBytes)) {
    // Only shrinks: a chunk stays within the limit.
    const live = chunk.filter(mayGo);
    if (live.length === 0) continue;
    try {
      await send(live);
      acked.push(...live);
      continue;
    } catch (error) {
      const reason = await permanentRefusal(deps, error);
      if (live.length === 1) {
        setAsideRow(live[0] as OutboxRow, reason);
        continue;
      }
      // The broker may have written other partitions of this chunk: a fresh producer, then
      // one row at a time finds the refused one(s). Rows written twice are duplicates,
      // which consumers dedupe.
      await deps.renewProducer?.();
    }
    for (const row of live) {
      if (!mayGo(row)) continue;
      try {
        await send([row]);
        acked.push(row);
      } catch (error) {
        setAsideRow(row, await permanentRefusal(deps, error));
      }
    }
  }
  return { acked, setAside, held, positions };
}

type PassOptions = Pick<RelayOptions, 'topic' | 'batchSize' | 'maxMessageBytes'> & {
  /** Claims no further batch once this says no (the pass still finishes what it sent). */
  readonly claimMore?: () => boolean;
  /**
   * How long the pass may still wait for a wake-up when a claim comes back empty (0 or less
   * ends the pass). Waiting inside the pass, with the lock already held, a row committed
   * meanwhile is claimed as soon as its NOTIFY arrives instead of after a new pass begins.
   */
  readonly idleWaitMs?: () => number;
  /** Each wait of the pass, by how it ended. */
  readonly onWake?: (reason: WakeReason) => void;
};

/** What the broker took of one batch, waiting for its mark. */
interface SentBatch {
  readonly rows: readonly OutboxRow[];
  readonly acked: readonly OutboxRow[];
  readonly setAside: readonly SetAsideRow[];
  readonly held: readonly OutboxRow[];
  readonly positions: ReadonlyMap<OutboxRow, RecordPosition>;
  readonly startedAt: number;
}

/**
 * One pass: under the relay lock (held by the pass's transaction on a first connection, which
 * also runs the claims), batch after batch until `claimMore` says stop, or a claim comes back
 * empty and the pass may wait no longer (`idleWaitMs`). Batch k+1 is claimed while batch k is
 * sent; batch k is marked on a second connection while batch k+1 is sent. Rows claimed and not
 * yet marked are excluded from later claims.
 */
export async function drainPass(deps: RelayDeps, options: PassOptions): Promise<BatchResult> {
  const now = deps.now ?? Date.now;
  const claimMore = options.claimMore ?? (() => true);
  return withClient(deps.pool, async (lead) => {
    if (!(await beginRelayPass(lead))) return { status: 'standby', ...NOTHING };
    let marker: PoolClient | undefined;
    let markerFailed: Error | undefined;
    const unmarked = new Set<string>();
    const blocked = new Map<string, OutboxRow>();
    const totals = { claimed: 0, published: 0, setAside: 0, held: 0, batches: 0 };
    let marking: Promise<void> = Promise.resolve();
    let markError: unknown;
    const claim = () => claimNext(lead, options.batchSize, [...unmarked]);
    const mark = async (batch: SentBatch) => {
      const ids = batch.acked.map((r) => r.id);
      try {
        marker ??= await deps.pool.connect();
        const client = marker;
        if (batch.setAside.length === 0) {
          await markPublished(client, ids);
        } else {
          await transaction(client, async () => {
            await markPublished(client, ids);
            await markSetAside(client, batch.setAside);
            return { commit: true, result: undefined };
          });
        }
      } catch (error) {
        markerFailed = error instanceof Error ? error : new Error(String(error));
        throw error;
      }
      for (const id of ids) unmarked.delete(id);
      for (const s of batch.setAside) unmarked.delete(s.id);
      afterMark(deps, options.topic, batch, now() - batch.startedAt);
    };
    try {
      let next = claim();
      for (;;) {
        const rows = await next;
        totals.claimed = rows.length;
        if (rows.length === 0) {
          const waitMs = options.idleWaitMs?.() ?? 0;
          if (waitMs <= 0 || !claimMore()) break;
          options.onWake?.(await deps.wake.wait(waitMs));
          if (markError !== undefined) throw markError;
          next = claim();
          next.catch(() => undefined);
          continue;
        }
        for (const row of rows) unmarked.add(row.id);
        // Claims go on while they find rows: rows committed during a send are claimed at once
        // instead of after the pass ends, which keeps commit-to-topic latency low under load.
        const more = claimMore();
        // The next claim runs while this batch is sent; it sees this batch's ids as unmarked.
        next = more ? claim() : Promise.resolve([]);
        next.catch(() => undefined);
        if (markError !== undefined) throw markError;
        const startedAt = now();
        const sent = await sendRows(deps, options, rows, blocked);
        if (sent.acked.length > 0) await deps.afterPublish?.(sent.acked);
        const batch: SentBatch = { rows, ...sent, startedAt };
        // Marks commit one after another, each only after its batch was acknowledged.
        marking = marking.then(() =>
          mark(batch).catch((error: unknown) => {
            markError ??= error;
          }),
        );
        totals.batches++;
        totals.published += sent.acked.length;
        totals.setAside += sent.setAside.length;
        totals.held += sent.held.length;
        if (!more) break;
      }
      await next.catch(() => undefined);
      await marking;
      if (markError !== undefined) throw markError;
      await lead.query('COMMIT');
    } catch (error) {
      // Batches acknowledged before the failure are still marked: fewer duplicates.
      await marking;
      await lead.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      marker?.release(markerFailed);
    }
    return { status: totals.batches > 0 ? 'published' : 'idle', ...totals };
  });
}

/** Telemetry and logs of a batch whose mark committed. */
function afterMark(deps: RelayDeps, topic: string, batch: SentBatch, durationMs: number): void {
  const { rows, acked, setAside, held, positions } = batch;
  if (acked.length > 0) deps.telemetry.published(acked.length, durationMs);
  if (setAside.length > 0) deps.telemetry.setAside(setAside.length);
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const s of setAside) {
    const row = byId.get(s.id);
    deps.logger.warn('outbox row set aside; its aggregate waits for an operator', {
      id: s.id,
      seq: row?.seq,
      aggregateId: row?.aggregateId,
      eventType: row?.eventType,
      correlationId: row?.headers.correlationId,
      reason: s.reason,
      heldInBatch: held.filter((h) => h.aggregateId === row?.aggregateId).length,
    });
  }
  logSampled(deps.logger, topic, acked, positions);
  deps.logger.debug('outbox batch published', {
    count: acked.length,
    setAside: setAside.length,
    held: held.length,
    firstSeq: rows[0]?.seq,
    lastSeq: rows.at(-1)?.seq,
    correlationIds: acked.map((r) => r.headers.correlationId),
  });
}

/**
 * One line per published event whose trace is sampled (traceparent flag 01), so an order's trace
 * id leads to its publication. Unsampled events get none: the volume follows the sampling rate
 * (X-Ray's on Lambda), not the event rate.
 */
function logSampled(
  logger: LogSink,
  topic: string,
  acked: readonly OutboxRow[],
  positions: ReadonlyMap<OutboxRow, RecordPosition>,
): void {
  for (const row of acked) {
    const trace = traceOf(row.headers[TRACEPARENT_HEADER]);
    if (!trace.sampled) continue;
    logger.info('event published', {
      traceId: trace.traceId,
      eventId: row.id,
      eventType: row.eventType,
      orderId: row.aggregateId,
      correlationId: row.headers.correlationId,
      seq: row.seq,
      topic,
      ...positions.get(row),
    });
  }
}

/**
 * Loops until `shouldContinue` says stop; drains backlogs without waiting. A failed iteration
 * (broker or database down) is logged and retried after a backoff: the relay outlives outages,
 * and whatever it had claimed stays pending until a publish succeeds.
 */
export async function runRelay(deps: RelayDeps, options: RelayOptions): Promise<RelaySummary> {
  const now = deps.now ?? Date.now;
  const { retentionEveryMs, retentionBatch, retentionBudgetMs, failureBackoff } = options;
  const maxWait = () => options.maxWaitMs?.() ?? Number.POSITIVE_INFINITY;
  let published = 0;
  let setAside = 0;
  let batches = 0;
  let deleted = 0;
  let processedEventsDeleted = 0;
  let failures = 0;
  let consecutiveFailures = 0;
  let lastRetention = Number.NEGATIVE_INFINITY;
  let retentionBehind = false;
  const wakes: Record<WakeReason, number> = { notify: 0, poll: 0 };

  while (options.shouldContinue()) {
    let result: BatchResult;
    try {
      // A pass ends at least every poll interval, so the gauges, retention and metrics below
      // keep their cadence while a backlog drains.
      const passStarted = now();
      const passLeft = () => passStarted + options.pollIntervalMs - now();
      result = await drainPass(deps, {
        ...options,
        claimMore: () => options.shouldContinue() && passLeft() > 0,
        idleWaitMs: () => Math.min(passLeft(), maxWait()),
        onWake: (reason) => wakes[reason]++,
      });
      published += result.published;
      setAside += result.setAside;
      batches += result.batches;
      if (retentionBehind || now() - lastRetention >= retentionEveryMs) {
        lastRetention = now();
        const limits = { batch: retentionBatch, budgetMs: retentionBudgetMs };
        const outbox = await purge(
          deps,
          'outbox',
          options.publishedRetentionHours,
          limits,
          (c, n) => deletePublishedBefore(c, options.publishedRetentionHours, n),
        );
        const processed = await purge(
          deps,
          'processed_events',
          options.processedEventsRetentionHours,
          limits,
          (c, n) => deleteProcessedEventsBefore(c, options.processedEventsRetentionHours, n),
        );
        deleted += outbox.deleted;
        processedEventsDeleted += processed.deleted;
        retentionBehind = outbox.behind || processed.behind;
      }
      const gauges = await withClient(deps.pool, outboxGauges);
      deps.telemetry.oldestPending(gauges.oldestPendingAgeMs);
      deps.telemetry.setAsideNow(gauges.setAsideRows);
      deps.telemetry.flush();
      consecutiveFailures = 0;
    } catch (error) {
      failures++;
      consecutiveFailures++;
      const delayMs = Math.min(backoffDelayMs(consecutiveFailures, failureBackoff), maxWait());
      deps.logger.warn('relay iteration failed; retrying', {
        error,
        attempt: consecutiveFailures,
        delayMs,
      });
      if (delayMs > 0) await sleep(delayMs);
      continue;
    }

    // A pass that ended on a claim that still found rows (its time was up) goes again at once;
    // one that ended on an empty claim has caught up and waits for the next wake.
    if (result.claimed > 0) continue;
    const waitMs = Math.min(options.pollIntervalMs, maxWait());
    if (waitMs <= 0 || !options.shouldContinue()) break;
    wakes[await deps.wake.wait(waitMs)]++;
  }
  const summary = {
    published,
    setAside,
    batches,
    deleted,
    processedEventsDeleted,
    failures,
    wakes,
  };
  deps.logger.info('relay stopped', { ...summary });
  return summary;
}

/**
 * Deletes old rows in small batches (no statement holds many locks) until a batch comes back
 * short or the time budget is spent; `behind` then says more is due at once.
 */
async function purge(
  deps: RelayDeps,
  table: string,
  hours: number,
  limits: { readonly batch: number; readonly budgetMs: number },
  deleteBatch: (client: PoolClient, limit: number) => Promise<number>,
): Promise<{ deleted: number; behind: boolean }> {
  const now = deps.now ?? Date.now;
  const started = now();
  let deleted = 0;
  let behind = false;
  for (;;) {
    const n = await withClient(deps.pool, (client) => deleteBatch(client, limits.batch));
    deleted += n;
    if (n < limits.batch) break;
    if (now() - started >= limits.budgetMs) {
      behind = true;
      break;
    }
  }
  if (deleted > 0) {
    deps.logger.info(`${table} retention`, { deleted, olderThanHours: hours, behind });
  }
  return { deleted, behind };
}
