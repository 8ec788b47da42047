import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MIX,
  expectedOutcomes,
  INJECTION_EXPECTED,
  jobEvents,
  ORDER_STEPS,
  pacer,
  percentile,
  planWorkload,
  seededRandom,
} from '../../../tools/local-runtime/workload';

describe('planWorkload', () => {
  it.each([1, 2, 3, 7, 100, 999, 5000])('produces exactly %i events', (events) => {
    const plan = planWorkload(events, seededRandom(events));
    expect(plan.jobs.reduce((n, j) => n + jobEvents(j), 0)).toBe(events);
    expect(plan.events).toBe(events);
  });

  it('has the mix: 2 % injected records (each kind), 2 % in orders that skip payment', () => {
    const plan = planWorkload(5000, seededRandom(7));
    const injected = plan.jobs.filter((j) => j.kind === 'inject');
    // floor(5000 × 0.02) = 100 injections, 25 of each of the 4 kinds.
    expect(injected).toHaveLength(100);
    for (const kind of Object.keys(INJECTION_EXPECTED)) {
      expect(injected.filter((j) => j.kind === 'inject' && j.injection === kind)).toHaveLength(25);
    }
    // floor(5000 × 0.02 / 2) = 50 orders of 2 events, one of them invalid.
    const skips = plan.jobs.filter((j) => j.kind === 'order' && j.order === 'skips-payment');
    expect(skips).toHaveLength(50);
  });

  it('puts idempotency conflicts last (they reuse an applied payment) and spreads the rest', () => {
    const plan = planWorkload(2000, seededRandom(3));
    const conflictAt = plan.jobs.flatMap((j, i) =>
      j.kind === 'inject' && j.injection === 'idempotency-conflict' ? [i] : [],
    );
    expect(conflictAt).toEqual(
      Array.from({ length: conflictAt.length }, (_, k) => plan.jobs.length - conflictAt.length + k),
    );
    const firstInjection = plan.jobs.findIndex((j) => j.kind === 'inject');
    expect(firstInjection).toBeLessThan(plan.jobs.length / 2);
  });

  it('is the same plan for the same seed and another for another seed', () => {
    expect(planWorkload(300, seededRandom(1))).toEqual(planWorkload(300, seededRandom(1)));
    expect(planWorkload(300, seededRandom(1))).not.toEqual(planWorkload(300, seededRandom(2)));
  });

  it('rejects a negative or fractional count', () => {
    expect(() => planWorkload(-1, seededRandom(1))).toThrow(RangeError);
    expect(() => planWorkload(2.5, seededRandom(1))).toThrow(RangeError);
  });

  it('keeps the default lifecycle shares summing to 1', () => {
    expect(DEFAULT_MIX.lifecycle.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
  });
});

describe('expectedOutcomes', () => {
  it('expects only the shipment of an unpaid order to be parked, as INVALID_TRANSITION', () => {
    expect(expectedOutcomes('skips-payment')).toEqual(['processed', 'INVALID_TRANSITION']);
    expect(expectedOutcomes('shipped')).toEqual(['processed', 'processed', 'processed']);
    expect(ORDER_STEPS['cancelled-after-payment']).toEqual(['place', 'pay', 'cancel']);
  });
});

describe('pacer', () => {
  it('spaces calls 1000/rate ms apart from the first call', async () => {
    let clock = 1_000;
    const waits: number[] = [];
    const pace = pacer(
      4,
      () => clock,
      async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    );
    for (let i = 0; i < 4; i++) await pace();
    expect(waits).toEqual([250, 250, 250]);
  });

  it('does not wait when behind schedule, nor at rate 0', async () => {
    let clock = 0;
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
    };
    const pace = pacer(10, () => clock, sleep);
    await pace();
    clock = 500; // five slots late
    await pace();
    await pacer(0, () => clock, sleep)();
    expect(waits).toEqual([]);
  });
});

describe('percentile (nearest rank)', () => {
  it('picks the value at rank ceil(p/100 · n)', () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 30)).toBe(20); // rank 2
    expect(percentile(values, 50)).toBe(35); // rank 3
    expect(percentile(values, 100)).toBe(50);
    expect(percentile([], 50)).toBeUndefined();
  });
});
