// The fixed-rate load of the latency comparison, in the bench process and identical for both
// peers: outbox rows written open loop (each started when due, whatever is still in flight),
// one event per transaction as the order API writes them (BEGIN; appendEvent; COMMIT), then
// the relay wake-up the API sends after its commit. The commit time is the wall clock right
// after COMMIT returned.
import type pg from 'pg';
import type { OrderEvent } from '../../../../lambdas/shared/events/envelope';
import { appendEvent, wakeRelay } from '../../../../lambdas/shared/outbox/outbox';
import { dueAtMs, dueCount } from '../stats';

export interface WriterResult {
  /** eventId → commit time (epoch ms, sub-ms) of the events after the warm-up. */
  readonly commits: Map<string, number>;
  readonly total: number;
  readonly committed: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  /** How far the writer fell behind its schedule at worst. */
  readonly maxLateMs: number;
  readonly achievedPerSec: number;
}

/** Wall clock with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export async function writeAtRate(
  pool: pg.Pool,
  events: readonly OrderEvent[],
  options: {
    readonly ratePerSec: number;
    readonly warmupCount: number;
    readonly signal?: AbortSignal;
  },
): Promise<WriterResult> {
  const { ratePerSec, warmupCount } = options;
  const total = events.length;
  const commits = new Map<string, number>();
  const errorSamples: string[] = [];
  let errors = 0;
  let committed = 0;
  let started = 0;
  let done = 0;
  let maxLateMs = 0;

  const write = async (event: OrderEvent, index: number) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        await appendEvent(client, event);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      const at = nowMs();
      committed++;
      if (index >= warmupCount) commits.set(event.eventId, at);
      await wakeRelay(client);
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  };

  const t0 = performance.now();
  while (done < total) {
    if (options.signal?.aborted) throw new Error('interrupted');
    const due = dueCount(performance.now() - t0, ratePerSec, total);
    while (started < due) {
      const index = started++;
      maxLateMs = Math.max(maxLateMs, performance.now() - t0 - dueAtMs(index, ratePerSec));
      write(events[index] as OrderEvent, index)
        .catch((error: unknown) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(String(error));
        })
        .finally(() => {
          done++;
        });
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const elapsedMs = performance.now() - t0;
  return {
    commits,
    total,
    committed,
    errors,
    errorSamples,
    maxLateMs,
    achievedPerSec: (total * 1000) / elapsedMs,
  };
}
