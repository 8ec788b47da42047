import { describe, expect, it } from 'vitest';
import { perEnvironment } from '../../../lambdas/shared/per-environment';

describe('perEnvironment', () => {
  it('builds once and hands every later call the same value', async () => {
    let built = 0;
    const get = perEnvironment(async () => ({ n: ++built }));
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(await get()).toBe(a);
    expect(built).toBe(1);
  });

  it('forgets a failed set-up, so the next call builds again', async () => {
    let calls = 0;
    const get = perEnvironment(async () => {
      calls++;
      if (calls === 1) throw new Error('broker not reachable');
      return 'ready';
    });
    await expect(get()).rejects.toThrow('broker not reachable');
    expect(await get()).toBe('ready');
    expect(await get()).toBe('ready');
    expect(calls).toBe(2);
  });
});
