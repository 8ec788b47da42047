// The relay loop: claim pending outbox rows in seq order, publish them with the idempotent
// producer, mark them published in the same transaction once the broker acknowledged.
// A crash anywhere before COMMIT leaves the rows pending: they are published again (a
// duplicate, which consumers dedupe), never lost.
import type { Message, Producer } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import type { LogSink } from '../shared/log-sink';
import {
  claimPending,
  deletePublishedBefore,
  markPublished,
  type OutboxRow,
  oldestPendingAgeMs,
  tryRelayLock,
} from '../shared/outbox/outbox';
import { type BackoffPolicy, backoffDelayMs, sleep } from '../shared/resilience/backoff';

export type WakeReason = 'notify' | 'poll';

/** Something that resolves when new outbox rows may exist (NOTIFY) or after a timeout. */
export interface WakeSource {
  wait(timeoutMs: number): Promise<WakeReason>;
  /** Ends a wait in progress at once (used on shutdown). */
  interrupt(): void;
}

export interface RelayTelemetry {
  published(count: number, durationMs: number): void;
  oldestPending(ageMs: number): void;
  /** Called once per loop iteration: emit what was recorded. */
  flush(): void;
}

export interface RelayDeps {
  readonly pool: Pick<Pool, 'connect'>;
  readonly producer: Pick<Producer, 'send'>;
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
  readonly publishedRetentionHours: number;
  /** Checked between batches; the Lambda adapter stops before the invocation times out. */
  readonly shouldContinue: () => boolean;
  /** How long a wait may last at most right now (e.g. the Lambda time left). */
  readonly maxWaitMs?: () => number;
  readonly retentionEveryMs?: number;
  readonly retentionBatch?: number;
  /** Between attempts after a failed iteration (broker or database unavailable). */
  readonly failureBackoff?: BackoffPolicy;
}

const DEFAULT_FAILURE_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 5_000 };

export type BatchStatus = 'published' | 'idle' | 'standby';

export interface BatchResult {
  readonly status: BatchStatus;
  readonly published: number;
}

export interface RelaySummary {
  readonly published: number;
  readonly batches: number;
  readonly deleted: number;
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

/** One claim → publish → mark transaction. */
export async function publishBatch(
  deps: RelayDeps,
  options: Pick<RelayOptions, 'topic' | 'batchSize'>,
): Promise<BatchResult> {
  const now = deps.now ?? Date.now;
  const client = await deps.pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    // Another relay is publishing: standing by keeps one publisher per outbox, so batches
    // (and with them each aggregate's events) reach the topic in seq order.
    if (!(await tryRelayLock(client))) {
      await client.query('ROLLBACK');
      return { status: 'standby', published: 0 };
    }
    const rows = await claimPending(client, options.batchSize);
    if (rows.length === 0) {
      await client.query('COMMIT');
      return { status: 'idle', published: 0 };
    }
    const started = now();
    await deps.producer.send({ topic: options.topic, acks: -1, messages: rows.map(toMessage) });
    await deps.afterPublish?.(rows);
    await markPublished(
      client,
      rows.map((r) => r.id),
    );
    await client.query('COMMIT');
    deps.telemetry.published(rows.length, now() - started);
    deps.logger.debug('outbox batch published', {
      count: rows.length,
      firstSeq: rows[0]?.seq,
      lastSeq: rows.at(-1)?.seq,
      correlationIds: rows.map((r) => r.headers.correlationId),
    });
    return { status: 'published', published: rows.length };
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw failed;
  } finally {
    // A connection that failed mid-transaction is discarded rather than reused.
    client.release(failed);
  }
}

/**
 * Loops until `shouldContinue` says stop; drains backlogs without waiting. A failed iteration
 * (broker or database down) is logged and retried after a backoff: the relay outlives outages,
 * and whatever it had claimed stays pending until a publish succeeds.
 */
export async function runRelay(deps: RelayDeps, options: RelayOptions): Promise<RelaySummary> {
  const now = deps.now ?? Date.now;
  const retentionEveryMs = options.retentionEveryMs ?? 60_000;
  const retentionBatch = options.retentionBatch ?? 1_000;
  const failureBackoff = options.failureBackoff ?? DEFAULT_FAILURE_BACKOFF;
  const maxWait = () => options.maxWaitMs?.() ?? Number.POSITIVE_INFINITY;
  let published = 0;
  let batches = 0;
  let deleted = 0;
  let failures = 0;
  let consecutiveFailures = 0;
  let lastRetention = Number.NEGATIVE_INFINITY;
  const wakes: Record<WakeReason, number> = { notify: 0, poll: 0 };

  while (options.shouldContinue()) {
    let result: BatchResult;
    try {
      result = await publishBatch(deps, options);
      published += result.published;
      if (result.status === 'published') batches++;
      if (now() - lastRetention >= retentionEveryMs) {
        lastRetention = now();
        deleted += await purgePublished(deps, options.publishedRetentionHours, retentionBatch);
      }
      deps.telemetry.oldestPending(await withClient(deps, oldestPendingAgeMs));
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

    // A full batch means a backlog: go again at once.
    if (result.status === 'published' && result.published === options.batchSize) continue;
    const waitMs = Math.min(options.pollIntervalMs, maxWait());
    if (waitMs <= 0 || !options.shouldContinue()) break;
    wakes[await deps.wake.wait(waitMs)]++;
  }
  const summary = { published, batches, deleted, failures, wakes };
  deps.logger.info('relay stopped', { ...summary });
  return summary;
}

async function withClient<T>(
  deps: RelayDeps,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await deps.pool.connect();
  let failed: Error | undefined;
  try {
    return await work(client);
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error));
    throw failed;
  } finally {
    client.release(failed);
  }
}

/** Deletes old published rows in small batches so no statement holds many locks. */
async function purgePublished(deps: RelayDeps, hours: number, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await withClient(deps, (client) => deletePublishedBefore(client, hours, batch));
    total += n;
    if (n < batch) break;
  }
  if (total > 0) deps.logger.info('outbox retention', { deleted: total, olderThanHours: hours });
  return total;
}
