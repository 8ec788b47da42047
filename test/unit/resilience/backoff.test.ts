import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../lambdas/shared/resilience/backoff';

describe('backoffDelayMs (full jitter)', () => {
  const policy = { baseMs: 100, capMs: 2_000 };

  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [5, 1_600],
    [6, 2_000],
    [40, 2_000],
  ])('attempt %i draws from [0, %i)', (attempt, ceiling) => {
    expect(backoffDelayMs(attempt, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(attempt, policy, () => 0.999999)).toBe(ceiling - 1);
    expect(backoffDelayMs(attempt, policy, () => 0.5)).toBe(ceiling / 2);
  });

  it('rejects attempts below 1', () => {
    expect(() => backoffDelayMs(0, policy)).toThrow(RangeError);
    expect(() => backoffDelayMs(1.5, policy)).toThrow(RangeError);
  });
});
