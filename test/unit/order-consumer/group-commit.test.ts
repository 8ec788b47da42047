import { describe, expect, it, vi } from 'vitest';
import type { ApplyOutcome } from '../../../lambdas/order-consumer/apply-batch';
import { GroupCommit } from '../../../lambdas/order-consumer/group-commit';
import { TransientError } from '../../../lambdas/shared/errors/taxonomy';
import type { OrderEvent } from '../../../lambdas/shared/events/envelope';
import { TRANSITIONS } from '../../../lambdas/shared/events/state-machine';
import { orderEvent } from '../../../tools/fixtures/order-events';

/** Lets the flush (started by the last submit/settle) run to completion. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An outcome that names its event, so each caller can be checked to get its own. */
function outcomeOf(event: OrderEvent): ApplyOutcome {
  return { status: 'applied', from: undefined, to: TRANSITIONS[event.eventType].to };
}

function recordingApply(
  impl: (events: OrderEvent[]) => Promise<ApplyOutcome[]> = async (events) => events.map(outcomeOf),
) {
  const calls: string[][] = [];
  const apply = vi.fn(async (events: OrderEvent[]) => {
    calls.push(events.map((e) => e.eventId));
    return impl(events);
  });
  return { apply, calls };
}

type Settled =
  | { readonly state: 'pending' }
  | { readonly state: 'fulfilled'; readonly value: ApplyOutcome }
  | { readonly state: 'rejected'; readonly reason: unknown };

/** Observes a promise without awaiting it (and without leaving a rejection unhandled). */
function observe(promise: Promise<ApplyOutcome>): { readonly current: Settled } {
  const box: { current: Settled } = { current: { state: 'pending' } };
  promise.then(
    (value) => {
      box.current = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      box.current = { state: 'rejected', reason };
    },
  );
  return box;
}

// Three orders' events: a: placed, paid; b: placed.
function threeEvents(): OrderEvent[] {
  return [
    orderEvent('OrderPlaced', 'a', 0, 'a-placed'),
    orderEvent('OrderPlaced', 'b', 0, 'b-placed'),
    orderEvent('PaymentCaptured', 'a', 1, 'a-paid'),
  ];
}

type Step = readonly ['submit', number] | readonly ['settle', number, boolean];

describe('GroupCommit', () => {
  it.each<{ name: string; steps: readonly Step[]; applied: readonly string[] }>([
    {
      name: 'all submitted in record order',
      steps: [
        ['submit', 0],
        ['submit', 1],
        ['submit', 2],
      ],
      applied: ['a-placed', 'b-placed', 'a-paid'],
    },
    {
      name: 'all submitted in reverse order',
      steps: [
        ['submit', 2],
        ['submit', 1],
        ['submit', 0],
      ],
      applied: ['a-placed', 'b-placed', 'a-paid'],
    },
    {
      name: 'the middle one settles (cached duplicate) last',
      steps: [
        ['submit', 2],
        ['submit', 0],
        ['settle', 1, false],
      ],
      applied: ['a-placed', 'a-paid'],
    },
    {
      name: 'the first one settles first, non-transiently',
      steps: [
        ['settle', 0, false],
        ['submit', 2],
        ['submit', 1],
      ],
      applied: ['b-placed', 'a-paid'],
    },
  ])(
    'waits for every record, then applies the submitted ones in record order in ONE call: $name',
    async ({ steps, applied }) => {
      const events = threeEvents();
      const { apply, calls } = recordingApply();
      const group = new GroupCommit(events, apply);
      const observed = new Map<number, { readonly current: Settled }>();
      for (const [i, step] of steps.entries()) {
        if (step[0] === 'submit') observed.set(step[1], observe(group.submit(step[1])));
        else group.settle(step[1], step[2]);
        await tick();
        if (i < steps.length - 1) {
          expect(apply).not.toHaveBeenCalled();
          for (const o of observed.values()) expect(o.current.state).toBe('pending');
        }
      }
      expect(calls).toEqual([applied]);
      // Each caller gets the outcome of its own event.
      for (const [index, o] of observed) {
        expect(o.current).toEqual({
          state: 'fulfilled',
          value: outcomeOf(events[index] as OrderEvent),
        });
      }
    },
  );

  it('does not call apply when every record settled without submitting', async () => {
    const { apply } = recordingApply();
    const group = new GroupCommit(threeEvents(), apply);
    group.settle(0, false);
    group.settle(1, true);
    group.settle(2, false);
    await tick();
    expect(apply).not.toHaveBeenCalled();
  });

  it('with no events, rejects any submit and never applies', async () => {
    const { apply } = recordingApply();
    const group = new GroupCommit([], apply);
    await expect(group.submit(0)).rejects.toThrow(/unexpected submit of record 0/);
    expect(apply).not.toHaveBeenCalled();
  });

  it('rejects a submit of an index it does not know, without counting it', async () => {
    const { apply, calls } = recordingApply();
    const events = threeEvents().slice(0, 2);
    const group = new GroupCommit(events, apply);
    await expect(group.submit(5)).rejects.toThrow(/unexpected submit of record 5/);
    const first = observe(group.submit(0));
    await tick();
    expect(apply).not.toHaveBeenCalled();
    const second = observe(group.submit(1));
    await tick();
    expect(calls).toEqual([['a-placed', 'b-placed']]);
    expect(first.current.state).toBe('fulfilled');
    expect(second.current.state).toBe('fulfilled');
  });

  it('ignores settle() of a record that already submitted (neither counted twice nor blocking)', async () => {
    const { apply, calls } = recordingApply();
    const events = threeEvents();
    const group = new GroupCommit(events, apply);
    const a = observe(group.submit(0));
    group.settle(0, true);
    const b = observe(group.submit(1));
    await tick();
    // Counting the settle would make 3 of 3 and flush without record 2.
    expect(apply).not.toHaveBeenCalled();
    const c = observe(group.submit(2));
    await tick();
    expect(calls).toEqual([['a-placed', 'b-placed', 'a-paid']]);
    expect([a, b, c].map((o) => o.current.state)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  });

  it('flushes once: later submits are rejected and later settles apply nothing', async () => {
    const { apply } = recordingApply();
    const events = threeEvents().slice(0, 2);
    const group = new GroupCommit(events, apply);
    const first = group.submit(0);
    group.settle(1, false);
    await expect(first).resolves.toEqual(outcomeOf(events[0] as OrderEvent));
    await expect(group.submit(1)).rejects.toThrow(/unexpected submit of record 1/);
    group.settle(1, true);
    group.settle(0, false);
    await tick();
    expect(apply).toHaveBeenCalledTimes(1);
  });

  describe('an order whose earlier event settled with a transient failure', () => {
    // Records: 0 a-placed, 1 b-placed, 2 a-paid, 3 a-shipped.
    const events = () => [...threeEvents(), orderEvent('OrderShipped', 'a', 2, 'a-shipped')];

    it.each<{
      name: string;
      settled: readonly (readonly [number, boolean])[];
      applied: readonly string[];
      blocked: readonly number[];
    }>([
      {
        name: "a's first event transient: a's later events are blocked, b applies",
        settled: [[0, true]],
        applied: ['b-placed'],
        blocked: [2, 3],
      },
      {
        name: "a's first event failed non-transiently (dead letter): nothing is blocked",
        settled: [[0, false]],
        applied: ['b-placed', 'a-paid', 'a-shipped'],
        blocked: [],
      },
      {
        name: "a's middle event transient: only the later one is blocked, the earlier applies",
        settled: [[2, true]],
        applied: ['a-placed', 'b-placed'],
        blocked: [3],
      },
      {
        name: 'the block holds past a non-transient settle of the same order',
        settled: [
          [0, true],
          [2, false],
        ],
        applied: ['b-placed'],
        blocked: [3],
      },
      {
        name: "another order's transient failure blocks nothing of a",
        settled: [[1, true]],
        applied: ['a-placed', 'a-paid', 'a-shipped'],
        blocked: [],
      },
    ])('$name', async ({ settled, applied, blocked }) => {
      const list = events();
      const { apply, calls } = recordingApply();
      const group = new GroupCommit(list, apply);
      const settledIdx = new Set(settled.map(([i]) => i));
      const results = new Map<number, Promise<ApplyOutcome>>();
      // Submit first, settle last: the block must be decided at flush time, not on arrival.
      for (let i = 0; i < list.length; i++) {
        if (!settledIdx.has(i)) {
          const p = group.submit(i);
          p.catch(() => {});
          results.set(i, p);
        }
      }
      for (const [i, transient] of settled) group.settle(i, transient);
      await tick();

      expect(calls).toEqual([applied]);
      for (const [i, p] of results) {
        const event = list[i] as OrderEvent;
        if (blocked.includes(i)) {
          const error = await p.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(TransientError);
          expect(error).toMatchObject({
            errorType: 'TRANSIENT',
            context: { eventId: event.eventId, aggregateId: 'a' },
          });
        } else {
          await expect(p).resolves.toEqual(outcomeOf(event));
        }
      }
    });

    it('does not call apply when every submitted event is blocked', async () => {
      const list = events().slice(0, 3);
      const { apply } = recordingApply();
      const group = new GroupCommit(list, apply);
      group.settle(0, true);
      group.settle(1, false);
      await expect(group.submit(2)).rejects.toBeInstanceOf(TransientError);
      expect(apply).not.toHaveBeenCalled();
    });
  });

  it('rejects every applied submission with the apply error; blocked ones stay TransientError', async () => {
    const failure = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    const { apply } = recordingApply(async () => {
      throw failure;
    });
    const list = [...threeEvents(), orderEvent('OrderPlaced', 'c', 0, 'c-placed')];
    const group = new GroupCommit(list, apply);
    const b = group.submit(1);
    const a2 = group.submit(2);
    const c = group.submit(3);
    group.settle(0, true);
    await expect(b).rejects.toBe(failure);
    await expect(c).rejects.toBe(failure);
    await expect(a2).rejects.toBeInstanceOf(TransientError);
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it('rejects a submission whose outcome apply did not return, resolves the others', async () => {
    const list = threeEvents();
    const { apply } = recordingApply(async (events) => events.slice(0, 2).map(outcomeOf));
    const group = new GroupCommit(list, apply);
    const results = list.map((_, i) => group.submit(i));
    await expect(results[0]).resolves.toEqual(outcomeOf(list[0] as OrderEvent));
    await expect(results[1]).resolves.toEqual(outcomeOf(list[1] as OrderEvent));
    await expect(results[2]).rejects.toThrow(/missing outcome/);
  });
});
