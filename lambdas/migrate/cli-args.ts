// Argument parsing for `npm run migrate -- [up [N] | down [N]]`, kept apart from cli.ts so it
// can be tested without running a migration.
export interface MigrateCommand {
  direction: 'up' | 'down';
  /** Undefined: all pending for up, one for down (node-pg-migrate's defaults). */
  count: number | undefined;
}

export const MIGRATE_USAGE = 'usage: migrate [up [N] | down [N]]';

export function parseMigrateArgs(args: readonly string[]): MigrateCommand {
  const [direction = 'up', countArg, ...rest] = args;
  if ((direction !== 'up' && direction !== 'down') || rest.length > 0) {
    throw new Error(MIGRATE_USAGE);
  }
  if (countArg === undefined) return { direction, count: undefined };
  if (!/^[1-9]\d*$/.test(countArg)) {
    throw new Error(`count must be a positive integer, got "${countArg}"\n${MIGRATE_USAGE}`);
  }
  return { direction, count: Number(countArg) };
}
