// The migration lock timeout reaches the session: the stage config's migrate.lockTimeoutMs is
// set on the migration client before node-pg-migrate takes its lock; nothing when none is given.
import type { ClientBase } from 'pg';
import { describe, expect, it } from 'vitest';
import { runMigrations } from '../../../lambdas/migrate/run-migrations';
import { parseMigrateEnv, repoMigrationsDir } from '../../../lambdas/shared/env';
import { configuredEnv, TEST_STAGE_CONFIG } from '../../fixtures/function-env';

const silent = { error() {}, warn() {}, info() {}, debug() {} };

/** Records each statement; the first one after `allowed` fails, which ends the run there. */
function recordingClient(allowed: number) {
  const statements: string[] = [];
  const client = {
    async query(text: unknown) {
      statements.push(typeof text === 'string' ? text : JSON.stringify(text));
      if (statements.length > allowed) throw new Error('stop here');
      return { rows: [], rowCount: 0 };
    },
  } as unknown as ClientBase;
  return { client, statements };
}

describe('runMigrations', () => {
  it("sets the function's lock timeout on its session first", async () => {
    const { lockTimeoutMs } = parseMigrateEnv(configuredEnv());
    expect(lockTimeoutMs).toBe(TEST_STAGE_CONFIG.migrate.lockTimeoutMs);
    const { client, statements } = recordingClient(1);
    await expect(
      runMigrations({ client, dir: repoMigrationsDir(), logger: silent, lockTimeoutMs }),
    ).rejects.toThrow('stop here');
    expect(statements[0]).toBe(`SET lock_timeout = ${lockTimeoutMs}`);
  });

  it("leaves PostgreSQL's own lock_timeout to a tool that gives none", async () => {
    const { client, statements } = recordingClient(0);
    await expect(
      runMigrations({ client, dir: repoMigrationsDir(), logger: silent }),
    ).rejects.toThrow('stop here');
    expect(statements.some((s) => s.includes('lock_timeout'))).toBe(false);
  });
});
