import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitOpenError, TransientError } from '../../../lambdas/shared/errors/taxonomy';
import { untilAvailable } from '../../../lambdas/shared/resilience/outage';

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

function clock(timeLeftMs: number) {
  const sleeps: number[] = [];
  return {
    sleeps,
    options: {
      policy: { baseMs: 500, capMs: 5_000 },
      stopBeforeTimeoutMs: 10_000,
      remainingMs: () => timeLeftMs - sleeps.reduce((a, b) => a + b, 0),
      sleep: async (ms: number) => {
        sleeps.push(ms);
      },
    },
  };
}

beforeEach(() => {
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('untilAvailable', () => {
  it('retries an unavailable dependency with backoff until it answers', async () => {
    const c = clock(60_000);
    let failures = 3;
    const result = await untilAvailable(async () => {
      if (failures-- > 0) throw new CircuitOpenError('postgres', 0);
      return 'done';
    }, c.options);
    expect(result).toBe('done');
    expect(c.sleeps).toEqual([250, 500, 1_000]);
  });

  it('rethrows at once what is not an outage', async () => {
    const c = clock(60_000);
    const contention = new TransientError('deadlock');
    await expect(untilAvailable(() => Promise.reject(contention), c.options)).rejects.toBe(
      contention,
    );
    expect(c.sleeps).toEqual([]);
  });

  it('gives up before a wait would end inside the stop margin', async () => {
    const c = clock(30_000);
    await expect(untilAvailable(() => Promise.reject(refused()), c.options)).rejects.toThrow(
      /ECONNREFUSED/,
    );
    const waited = c.sleeps.reduce((a, b) => a + b, 0);
    expect(waited).toBeLessThanOrEqual(20_000);
    expect(waited).toBeGreaterThan(20_000 - 2_500);
  });
});
