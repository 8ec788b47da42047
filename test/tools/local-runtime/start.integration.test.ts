// `npm start` end to end: the real CLI against the real broker, PostgreSQL and Redis. The
// last stdout line is the JSON summary; every produced event must be processed or parked.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../../..');

describe('npm start', () => {
  // A run that loses an event waits out the drain window (~90 s) before it reports.
  it('runs the pipeline and accounts for every event (lost 0, counts add up)', {
    timeout: 300_000,
  }, () => {
    const run = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
        'tools/local-runtime/start.ts',
        '--events',
        '600',
        '--rate',
        '0',
        '--seed',
        '42',
        '--json',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 240_000 },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const summary = JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
    for (const key of [
      'produced',
      'published',
      'processed',
      'duplicatesSkipped',
      'deadLettered',
      'redriven',
      'parked',
      'lost',
      'p50Ms',
      'p95Ms',
      'p99Ms',
    ]) {
      expect(summary, key).toHaveProperty(key);
    }
    const n = (k: string) => summary[k] as number;
    expect(n('produced')).toBe(600);
    expect(n('lost')).toBe(0);
    expect(n('unexpected')).toBe(0);
    expect(n('processed') + n('parked') + n('lost')).toBe(n('produced'));
    // Seed 42 at 600 events: floor(600·0.02) = 12 injected records and 6 unpaid shipments.
    expect(summary.parkedByType).toEqual({
      SCHEMA_VIOLATION: 9,
      INVALID_TRANSITION: 6,
      IDEMPOTENCY_CONFLICT: 3,
    });
    // Every API event is published; injected records bypass the outbox.
    expect(n('published')).toBe(600 - 12);
    // Each dead letter ends parked here (nothing TRANSIENT in a healthy run).
    expect(n('deadLettered')).toBe(n('redriven') + n('parked'));
    expect(n('duplicatesSkipped')).toBe(n('duplicatesInjected'));
    expect(n('p50Ms')).toBeGreaterThan(0);
    expect(n('p99Ms')).toBeGreaterThanOrEqual(n('p50Ms'));
    // The readable summary comes first; progress goes to stderr.
    expect(run.stdout).toContain('produced = processed + parked + lost: 600 = ');
    expect(run.stderr).toMatch(/produced \d+\/600/);
  });
});
