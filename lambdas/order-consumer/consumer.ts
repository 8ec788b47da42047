// The consumer loop (docs/ARCHITECTURE.md §3): each partition's records in offset order, partitions
// concurrently. Per record: decode the envelope, pass the Redis idempotency gate, apply the
// state transition with its processed_events row (many records per PostgreSQL transaction),
// or dead-letter it with its type. A record is reported as failed (so the mapping redelivers
// from it) only when it was neither applied nor dead-lettered.

import { headerText } from '../shared/dead-letter/headers';
import {
  buildDeadLetter,
  type DeadLetterMessage,
  redriveStateFromHeaders,
} from '../shared/dead-letter/message';
import { classify, type ErrorType, fromEnvelopeError } from '../shared/errors/taxonomy';
import { type OrderEvent, parseEnvelope } from '../shared/events/envelope';
import type { KafkaRecord } from '../shared/kafka/msk-event';
import {
  type BatchResponse,
  batchItemFailures,
  type MskEventLike,
  partitionsOf,
} from '../shared/kafka/msk-event';
import type { LogSink } from '../shared/log-sink';
import { type BackoffPolicy, backoffDelayMs } from '../shared/resilience/backoff';
import { TRACEPARENT_HEADER, traceOf } from '../shared/tracing/trace-context';
import type { ApplyOutcome } from './apply-batch';
import { GroupCommit } from './group-commit';
import { idempotencyKey, type PayloadFields } from './idempotency-key';

/**
 * `confirmed`: an OrderPlaced whose order the API created in the transaction that wrote the
 * event (ALREADY_APPLIED on first sight). The consumer's first handling of that event, so it
 * counts as processed, not as a duplicate.
 */
export type GateResult = 'applied' | 'confirmed' | 'duplicate';

/** The Redis fast path: runs `work` at most once per key while its record lives. */
export interface IdempotencyGate {
  run(
    key: string,
    payload: PayloadFields,
    work: () => Promise<GateResult>,
  ): Promise<{ readonly result: GateResult; readonly cached: boolean }>;
}

/** Delivery attempts per offset, across invocations (the mapping redelivers failed records). */
export interface AttemptTracker {
  /** Returns the attempt count after this one, or undefined when it cannot be counted. */
  increment(record: KafkaRecord): Promise<number | undefined>;
}

export interface ConsumerTelemetry {
  applied(event: OrderEvent, endToEndMs: number): void;
  duplicate(event: OrderEvent): void;
  deadLettered(errorType: ErrorType): void;
  chunkDuration(ms: number, records: number): void;
  /** The Redis gate could not answer and PostgreSQL decided alone (see gateOne). */
  cacheBypassed?(event: OrderEvent, error: unknown): void;
  /** A partition waited this long for a dependency to come back. */
  outageWait?(ms: number): void;
}

/** One event's span in a trace backend (an X-Ray subsegment on Lambda). */
export interface EventSpan {
  end(outcome: 'applied' | 'duplicate' | 'dead-letter' | 'retry', error?: unknown): void;
}

/**
 * Spans for sampled events, each tagged with the trace id its record carries (the order API
 * call's trace): the MSK mapping starts the invocation's own trace, so the origin trace is
 * joined by that tag, not by parentage.
 */
export interface EventTracing {
  start(event: OrderEvent, traceId: string): EventSpan | undefined;
}

export interface ConsumerDeps {
  readonly gate: IdempotencyGate;
  /** PostgreSQL ground truth for a group of events (one transaction). */
  readonly apply: (events: OrderEvent[]) => Promise<ApplyOutcome[]>;
  readonly deadLetter: (
    messages: readonly DeadLetterMessage[],
    records: readonly KafkaRecord[],
  ) => Promise<void>;
  readonly attempts: AttemptTracker;
  /**
   * Resolves when PostgreSQL answers a trivial query, rejects when it cannot be reached: tells
   * a database that is down from a record whose statement fails with a connection error.
   * Without it only an open breaker counts as an outage.
   */
  readonly probe?: () => Promise<void>;
  readonly logger: LogSink;
  readonly telemetry: ConsumerTelemetry;
  /** Per-event spans on Lambda; none locally. */
  readonly tracing?: EventTracing;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ConsumerOptions {
  /** Records per group commit. */
  readonly chunkSize: number;
  /** In-invocation retries of a TRANSIENT failure before the record is handed back. */
  readonly retryAttempts: number;
  readonly retryBackoff: BackoffPolicy;
  /** Deliveries of one offset before a TRANSIENT record is dead-lettered (poison guard). */
  readonly maxDeliveryAttempts: number;
  /** Between checks while a dependency is unavailable (see consumePartition). */
  readonly outageWait: BackoffPolicy;
  /** A partition waiting out an outage is handed back this long before the timeout. */
  readonly stopBeforeTimeoutMs: number;
}

/** The invocation being served: how much of its time is left. */
export interface Invocation {
  remainingMs(): number;
}

/** Outside Lambda (unit tests, tools): no time to wait, so an outage hands back at once. */
const NO_TIME: Invocation = { remainingMs: () => 0 };

type RecordResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'dead-letter'; readonly error: unknown }
  | { readonly kind: 'retry'; readonly error: unknown };

export interface ConsumerSummary extends BatchResponse {
  readonly applied: number;
  readonly duplicates: number;
  readonly deadLettered: number;
}

export async function consumeBatch(
  event: MskEventLike,
  deps: ConsumerDeps,
  options: ConsumerOptions,
  invocation: Invocation = NO_TIME,
): Promise<ConsumerSummary> {
  const counts = { applied: 0, duplicates: 0, deadLettered: 0 };
  const counting: ConsumerDeps = {
    ...deps,
    telemetry: {
      applied: (e, ms) => {
        counts.applied++;
        deps.telemetry.applied(e, ms);
      },
      duplicate: (e) => {
        counts.duplicates++;
        deps.telemetry.duplicate(e);
      },
      deadLettered: (t) => {
        counts.deadLettered++;
        deps.telemetry.deadLettered(t);
      },
      chunkDuration: deps.telemetry.chunkDuration,
      cacheBypassed: (e, error) => deps.telemetry.cacheBypassed?.(e, error),
      outageWait: (ms) => deps.telemetry.outageWait?.(ms),
    },
  };
  const failedFrom = await Promise.all(
    partitionsOf(event).map((records) => consumePartition(records, counting, options, invocation)),
  );
  return {
    ...counts,
    batchItemFailures: batchItemFailures(
      failedFrom.filter((r): r is KafkaRecord => r !== undefined),
    ),
  };
}

/** Returns the record the partition must be redelivered from, or undefined when all is done. */
export async function consumePartition(
  records: readonly KafkaRecord[],
  deps: ConsumerDeps,
  options: ConsumerOptions,
  invocation: Invocation = NO_TIME,
): Promise<KafkaRecord | undefined> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const outage = new OutageWait(deps, options, invocation, sleep, now);
  let start = 0;
  let retries = 0;
  while (start < records.length) {
    const chunk = records.slice(start, start + options.chunkSize);
    const began = now();
    const results = await processChunk(chunk, deps);
    deps.telemetry.chunkDuration(now() - began, chunk.length);

    // Everything before the first retryable failure is finished (applied, duplicate or to be
    // dead-lettered); dead letters are written in record order before moving on.
    const firstRetry = results.findIndex((r) => r.kind === 'retry');
    const finished = firstRetry === -1 ? results.length : firstRetry;
    const deadLetters = await writeDeadLetters(
      chunk.slice(0, finished),
      results.slice(0, finished),
      deps,
      now,
    );
    const done = deadLetters.error === undefined ? finished : deadLetters.written;
    if (done > 0) {
      // Progress earns the next failing record its own retry budget, and ends an outage.
      retries = 0;
      outage.over(chunk[0] as KafkaRecord);
    }
    if (deadLetters.error !== undefined) {
      // The records before the unwritten dead letter are done; the rest goes again.
      start += done;
      const unwritten = chunk[done] as KafkaRecord;
      if (await outage.wait(unwritten, deadLetters.error)) continue;
      return unwritten;
    }
    start += finished;
    if (firstRetry === -1) continue;

    const failed = results[firstRetry] as { kind: 'retry'; error: unknown };
    const record = chunk[firstRetry] as KafkaRecord;
    if (await outage.isOutage(failed.error)) {
      if (await outage.wait(record, failed.error)) continue;
      return record;
    }
    if (retries < options.retryAttempts) {
      retries++;
      await sleep(backoffDelayMs(retries, options.retryBackoff));
      continue;
    }
    retries = 0;
    const attempt = await deps.attempts.increment(record);
    if (attempt !== undefined && attempt >= options.maxDeliveryAttempts) {
      // A poison record must not hold its partition beyond one retry cycle.
      const poison = await writeDeadLetters(
        [record],
        [{ kind: 'dead-letter', error: failed.error }],
        deps,
        now,
        attempt,
      );
      if (poison.error !== undefined) return record;
      start++;
      continue;
    }
    deps.logger.warn('transient failure; the mapping will redeliver', {
      ...about(record),
      attempt,
      error: failed.error,
    });
    return record;
  }
  return undefined;
}

/**
 * A dependency that cannot be reached (refused connections, an open breaker, the broker gone
 * for a dead letter) says nothing about the record, so no retry budget is spent on it. The
 * partition waits inside the invocation, in order, checking again with a backoff (an open
 * breaker answers those checks at once and lets a trial through when it half-opens), and goes
 * back to the mapping only shortly before the invocation would time out. Handing back at once
 * would spend one of the mapping's few retries every few seconds and send a whole backlog to
 * the on-failure destination within one database failover.
 */
class OutageWait {
  private checks = 0;
  private since: number | undefined;

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly options: ConsumerOptions,
    private readonly invocation: Invocation,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /**
   * Whether a failed apply means the database is down for everyone: an open breaker says so
   * (5 failures within 60 s); a single connection error is checked with a probe, so that a
   * record whose own statement breaks the connection still meets the poison guard.
   */
  async isOutage(error: unknown): Promise<boolean> {
    const c = classify(error);
    if (!c.unavailable) return false;
    if (c.circuitOpen || this.since !== undefined) return true;
    if (this.deps.probe === undefined) return false;
    try {
      await this.deps.probe();
      return false;
    } catch (probeError) {
      return classify(probeError).unavailable;
    }
  }

  /**
   * Waits once (true: check again) or says the partition must go back to the mapping (false),
   * when the error is not an outage or the invocation's time is nearly up.
   */
  async wait(record: KafkaRecord, error: unknown): Promise<boolean> {
    if (!classify(error).unavailable) return false;
    this.checks++;
    const delayMs = backoffDelayMs(this.checks, this.options.outageWait);
    if (this.invocation.remainingMs() - delayMs <= this.options.stopBeforeTimeoutMs) {
      this.deps.logger.warn('dependency still unavailable; handing the partition back', {
        ...about(record),
        waitedMs: this.since === undefined ? 0 : this.now() - this.since,
        error,
      });
      return false;
    }
    if (this.since === undefined) {
      this.since = this.now();
      this.deps.logger.warn('dependency unavailable; the partition waits for it', {
        ...about(record),
        error,
      });
    }
    await this.sleep(delayMs);
    this.deps.telemetry.outageWait?.(delayMs);
    return true;
  }

  /** The partition made progress: the dependency answers again. */
  over(record: KafkaRecord): void {
    if (this.since === undefined) return;
    this.deps.logger.info('dependency answers again; the partition goes on', {
      ...about(record),
      waitedMs: this.now() - this.since,
    });
    this.checks = 0;
    this.since = undefined;
  }
}

async function processChunk(
  chunk: readonly KafkaRecord[],
  deps: ConsumerDeps,
): Promise<RecordResult[]> {
  const results: RecordResult[] = new Array(chunk.length);
  const valid: Array<{ index: number; event: OrderEvent; record: KafkaRecord }> = [];
  chunk.forEach((record, index) => {
    const parsed = parseEnvelope(record.value ?? Buffer.alloc(0));
    if (parsed.ok) valid.push({ index, event: parsed.event, record });
    else results[index] = { kind: 'dead-letter', error: fromEnvelopeError(parsed.error) };
  });

  // A repeat of a key earlier in the chunk (a redelivered copy in the same batch) waits for the
  // group: run beside its original, the gate would see the key in progress and fail the batch.
  const seen = new Set<string>();
  const firsts: typeof valid = [];
  const repeats: typeof valid = [];
  for (const v of valid) {
    const key = idempotencyKey(v.event);
    (seen.has(key) ? repeats : firsts).push(v);
    seen.add(key);
  }
  const group = new GroupCommit(
    firsts.map((v) => v.event),
    deps.apply,
  );
  const bypassed: Bypass[] = [];
  await Promise.all(
    firsts.map((v, slot) =>
      gateOne(
        { event: v.event, record: v.record, group, slot },
        deps,
        (result) => {
          results[v.index] = result;
        },
        bypassed,
      ),
    ),
  );
  for (const v of repeats) {
    const single = new GroupCommit([v.event], deps.apply);
    await gateOne(
      { event: v.event, record: v.record, group: single, slot: 0 },
      deps,
      (result) => {
        results[v.index] = result;
      },
      bypassed,
    );
  }
  // One line per chunk: during an outage every record takes this path.
  const [first] = bypassed;
  if (first !== undefined) {
    deps.logger.warn('idempotency cache could not answer; PostgreSQL decided alone', {
      records: bypassed.length,
      firstEventId: first.eventId,
      error: first.error,
    });
  }
  return results;
}

/** A record the Redis gate could not answer for, decided by PostgreSQL alone. */
interface Bypass {
  readonly eventId: string;
  readonly error: unknown;
}

/**
 * One event through the Redis gate and, when the gate lets it through, the group commit.
 *
 * Redis is the fast path, PostgreSQL the ground truth: applying an event takes its order's row
 * lock and records its key and payload hash in processed_events in the same transaction, so
 * PostgreSQL alone never applies an event twice and tells a repeat from a conflict. When the
 * gate cannot answer for a retryable reason (Redis down or its breaker open, or a key left in
 * progress by an invocation that crashed: Powertools keeps it until that invocation's
 * deadline), PostgreSQL decides alone instead of failing the record. Failing it would dead-letter
 * it as TRANSIENT once the delivery budget ran out, and the same order's later events would
 * then be applied before it or rejected (drill findings 3 and 4).
 */
async function gateOne(
  /** The event, its record, the group commit that applies it, and its slot in that group. */
  entry: {
    readonly event: OrderEvent;
    readonly record: KafkaRecord;
    readonly group: GroupCommit;
    readonly slot: number;
  },
  deps: ConsumerDeps,
  /** Receives the record's result once decided. */
  decide: (result: RecordResult) => void,
  /** Collects the records the Redis gate could not answer for (logged once per chunk). */
  bypassed: Bypass[],
): Promise<void> {
  const { event, record, group, slot } = entry;
  const now = deps.now ?? Date.now;
  const trace = traceOf(headerText(record.headers, TRACEPARENT_HEADER));
  const span =
    trace.sampled && trace.traceId !== undefined
      ? deps.tracing?.start(event, trace.traceId)
      : undefined;
  // An object, not `let`s: TypeScript does not see assignments made inside the callback.
  const step: { submitted: boolean; answer?: GateResult } = { submitted: false };
  const work = async (): Promise<GateResult> => {
    step.submitted = true;
    const outcome = await group.submit(slot);
    if (outcome.status === 'rejected') throw outcome.error;
    step.answer =
      outcome.status === 'duplicate' && outcome.reason === 'ALREADY_APPLIED'
        ? event.eventType === 'OrderPlaced'
          ? 'confirmed'
          : 'duplicate'
        : outcome.status;
    return step.answer;
  };
  try {
    let decided: { readonly result: GateResult; readonly cached: boolean };
    try {
      // The event itself as the payload: its type and data are what is hashed.
      decided = await deps.gate.run(idempotencyKey(event), event, work);
    } catch (error) {
      if (!classify(error).retryable) throw error;
      if (step.answer !== undefined) {
        // Committed in PostgreSQL; only recording the result in Redis failed.
        decided = { result: step.answer, cached: false };
      } else if (!step.submitted) {
        deps.telemetry.cacheBypassed?.(event, error);
        bypassed.push({ eventId: event.eventId, error });
        decided = { result: await work(), cached: false };
      } else {
        throw error;
      }
    }
    if (!step.submitted) group.settle(slot, false);
    if (decided.cached || decided.result === 'duplicate') {
      deps.telemetry.duplicate(event);
      span?.end('duplicate');
    } else {
      deps.telemetry.applied(event, now() - Date.parse(event.timestamp));
      span?.end('applied');
      // Per event only when sampled: the volume follows the origin's sampling rate.
      if (trace.sampled) {
        deps.logger.info('event applied', {
          traceId: trace.traceId,
          eventId: event.eventId,
          eventType: event.eventType,
          orderId: event.aggregateId,
          correlationId: event.correlationId,
          outcome: decided.result,
          ...position(record),
        });
      }
    }
    decide({ kind: 'done' });
  } catch (error) {
    const retryable = classify(error).retryable;
    if (!step.submitted) group.settle(slot, retryable);
    span?.end(retryable ? 'retry' : 'dead-letter', error);
    decide(retryable ? { kind: 'retry', error } : { kind: 'dead-letter', error });
  }
}

/**
 * Dead-letters the `dead-letter` results in order. `written`: how many leading records are
 * done; `error` when the dead-letter topic refused them (the rest is not done).
 */
async function writeDeadLetters(
  records: readonly KafkaRecord[],
  results: readonly RecordResult[],
  deps: ConsumerDeps,
  now: () => number,
  attempts = 1,
): Promise<{ readonly written: number; readonly error?: unknown }> {
  const messages: DeadLetterMessage[] = [];
  const targets: KafkaRecord[] = [];
  results.forEach((r, i) => {
    if (r.kind !== 'dead-letter') return;
    const record = records[i] as KafkaRecord;
    const at = new Date(now());
    // A redriven record carries its history: triage's redrive limit counts across cycles.
    const prior = redriveStateFromHeaders(record.headers);
    // A header from the future (skewed clock, forged record) must not break the dead letter.
    const first = prior.firstFailureAt && prior.firstFailureAt < at ? prior.firstFailureAt : at;
    messages.push(
      buildDeadLetter({
        value: record.value,
        key: record.key,
        headers: record.headers,
        source: { topic: record.topic, partition: record.partition, offset: record.offset },
        error: r.error,
        attempts: prior.priorAttempts + attempts,
        firstFailureAt: first,
        lastFailureAt: at,
        redriveCount: prior.redriveCount,
      }),
    );
    targets.push(record);
  });
  if (messages.length === 0) return { written: records.length };
  try {
    await deps.deadLetter(messages, targets);
  } catch (error) {
    // Not dead-lettered means not done: the partition resumes from the first of them.
    const first = targets[0] as KafkaRecord;
    deps.logger.error('dead-lettering failed', { ...about(first), error });
    return { written: records.indexOf(first), error };
  }
  for (const [i, m] of messages.entries()) {
    deps.telemetry.deadLettered(m.errorType);
    deps.logger.warn('event dead-lettered', {
      errorType: m.errorType,
      errorMessage: m.errorMessage,
      correlationId: m.correlationId,
      eventId: m.eventId,
      ...m.source,
      traceId: traceIdOf(targets[i] as KafkaRecord),
    });
  }
  return { written: records.length };
}

function position(record: KafkaRecord) {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

/** The trace id the record's `traceparent` header names, sampled or not. */
function traceIdOf(record: KafkaRecord): string | undefined {
  return traceOf(headerText(record.headers, TRACEPARENT_HEADER)).traceId;
}

/** A record's position and trace id: what every log line about one record carries. */
function about(record: KafkaRecord) {
  return { ...position(record), traceId: traceIdOf(record) };
}
