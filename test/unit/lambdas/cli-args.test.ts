import { describe, expect, it } from 'vitest';
import { parseMigrateArgs } from '../../../lambdas/migrate/cli-args';

describe('parseMigrateArgs', () => {
  it('defaults to all pending up migrations', () => {
    expect(parseMigrateArgs([])).toEqual({ direction: 'up', count: undefined });
  });
  it('reads direction and count', () => {
    expect(parseMigrateArgs(['up', '2'])).toEqual({ direction: 'up', count: 2 });
    expect(parseMigrateArgs(['down'])).toEqual({ direction: 'down', count: undefined });
    expect(parseMigrateArgs(['down', '3'])).toEqual({ direction: 'down', count: 3 });
  });
  it.each([[['sideways']], [['down', '0']], [['down', '-1']], [['up', 'x']], [['up', '1', '2']]])(
    'rejects %j',
    (args) => {
      expect(() => parseMigrateArgs(args)).toThrow(/usage: migrate/);
    },
  );
});
