// Static checks on the migration files; running them needs PostgreSQL (integration tests).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoMigrationsDir } from '../../../lambdas/shared/env';

const dir = repoMigrationsDir();
const files = readdirSync(dir).filter((f) => !f.startsWith('.'));

describe('migrations folder', () => {
  it('holds only numbered .sql files in order', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f).toMatch(/^\d{4}_[a-z0-9-]+\.sql$/);
    const numbers = files.map((f) => Number(f.slice(0, 4))).sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  it.each(files)('%s has an Up section before a Down section', (f) => {
    const sql = readFileSync(join(dir, f), 'utf8');
    // The markers node-pg-migrate's SQL loader splits on.
    const up = sql.search(/^\s*--[\s-]*up\s+migration/im);
    const down = sql.search(/^\s*--[\s-]*down\s+migration/im);
    expect(up).toBeGreaterThanOrEqual(0);
    expect(down).toBeGreaterThan(up);
  });

  it('creates the tables the pipeline uses', () => {
    const sql = readFileSync(join(dir, '0001_initial-schema.sql'), 'utf8');
    for (const table of ['orders', 'outbox', 'processed_events', 'dead_letters']) {
      expect(sql).toContain(`CREATE TABLE ${table} (`);
      expect(sql).toContain(`DROP TABLE ${table};`);
    }
    expect(sql).toContain("pg_notify('outbox', '')");
  });
});
