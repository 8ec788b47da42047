// Group commit: many per-record idempotent calls, one PostgreSQL transaction. Each record's
// idempotent function submits its event and waits; once every record of the chunk has either
// submitted or finished without submitting (a cached duplicate, a failure), the submitted
// events are applied together in record order and each caller gets its own outcome.

import { classify, TransientError } from '../shared/errors/taxonomy';
import type { OrderEvent } from '../shared/events/envelope';
import type { ApplyOutcome } from './apply-batch';

interface Pending {
  readonly index: number;
  readonly event: OrderEvent;
  resolve(outcome: ApplyOutcome): void;
  reject(error: unknown): void;
}

export class GroupCommit {
  private readonly submitted: Pending[] = [];
  /** Records that finished without submitting, and whether that was a retryable failure. */
  private readonly settled = new Map<number, { transient: boolean }>();
  private flushed = false;

  constructor(
    private readonly events: readonly OrderEvent[],
    private readonly apply: (events: OrderEvent[]) => Promise<ApplyOutcome[]>,
  ) {
    if (events.length === 0) this.flushed = true;
  }

  submit(index: number): Promise<ApplyOutcome> {
    const event = this.events[index];
    if (event === undefined || this.flushed) {
      return Promise.reject(new Error(`group commit: unexpected submit of record ${index}`));
    }
    return new Promise<ApplyOutcome>((resolve, reject) => {
      this.submitted.push({ index, event, resolve, reject });
      this.maybeFlush();
    });
  }

  /** The record at `index` will not submit (duplicate served from the cache, or an error). */
  settle(index: number, transient: boolean): void {
    if (this.submitted.some((p) => p.index === index)) return;
    this.settled.set(index, { transient });
    this.maybeFlush();
  }

  private maybeFlush(): void {
    if (this.flushed || this.submitted.length + this.settled.size < this.events.length) return;
    this.flushed = true;
    void this.flush();
  }

  private async flush(): Promise<void> {
    const ordered = [...this.submitted].sort((a, b) => a.index - b.index);
    // An order's later event must not overtake an earlier one that failed for a retryable
    // reason: it waits for the redelivery instead of being judged against a stale state.
    const blocked = new Set<string>();
    const toApply: Pending[] = [];
    const byIndex = new Map(ordered.map((p) => [p.index, p]));
    for (let i = 0; i < this.events.length; i++) {
      const event = this.events[i] as OrderEvent;
      const pending = byIndex.get(i);
      if (pending === undefined) {
        if (this.settled.get(i)?.transient) blocked.add(event.aggregateId);
        continue;
      }
      if (blocked.has(event.aggregateId)) {
        pending.reject(
          new TransientError(`an earlier event of order ${event.aggregateId} is not applied yet`, {
            context: { eventId: event.eventId, aggregateId: event.aggregateId },
          }),
        );
        continue;
      }
      toApply.push(pending);
    }
    if (toApply.length === 0) return;
    try {
      const outcomes = await this.apply(toApply.map((p) => p.event));
      toApply.forEach((p, k) => {
        const outcome = outcomes[k];
        if (outcome === undefined) p.reject(new Error('group commit: missing outcome'));
        else p.resolve(outcome);
      });
    } catch (error) {
      // A non-retryable failure of the group (e.g. one event's data breaks a constraint) must
      // not dead-letter its neighbours: apply one by one, in order, to isolate the culprit.
      if (toApply.length > 1 && !classify(error).retryable) {
        for (const p of toApply) {
          try {
            const [outcome] = await this.apply([p.event]);
            if (outcome === undefined) p.reject(new Error('group commit: missing outcome'));
            else p.resolve(outcome);
          } catch (single) {
            p.reject(single);
          }
        }
        return;
      }
      for (const p of toApply) p.reject(error);
    }
  }
}
