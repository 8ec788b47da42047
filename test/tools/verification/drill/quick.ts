// Runs one drill's quick (CI) version against the services the integration global setup
// started, and states its pass conditions as assertions: 0 lost, 0 applied twice, every bad
// input dead-lettered with its type, and the drill's own non-advisory checks. Never timings.
import { expect } from 'vitest';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { sharedEndpoints } from '../../../../tools/verification/drill/harness';
import type { Drill, DrillResult } from '../../../../tools/verification/drill/types';

export async function runQuick(drill: Drill): Promise<DrillResult> {
  // A new seed each run widens coverage over time; it is in every failure message.
  const seed = Math.floor(Math.random() * 2 ** 31);
  const result = await drill.run({
    config: loadStageConfig('dev'),
    quick: true,
    shared: sharedEndpoints(process.env),
    seed,
    progress: () => undefined,
  });
  const a = result.accounting;
  const where = `${drill.id}, seed ${seed}, log ${result.logPath ?? '-'}`;
  expect(a.produced, where).toBeGreaterThan(0);
  expect(a.lost, `lost (${where}): ${JSON.stringify(a.examples.lost ?? [])}`).toBe(0);
  expect(
    a.appliedTwice,
    `applied twice (${where}): ${JSON.stringify(a.examples.appliedTwice ?? [])}`,
  ).toBe(0);
  expect(a.misfiled, `bad inputs not dead-lettered with their type (${where})`).toEqual([]);
  expect(
    a.appliedOnce + a.deadLettered,
    `every input accounted for as applied once or dead-lettered (${where})`,
  ).toBe(a.produced);
  const failed = result.checks.filter((c) => !c.ok && c.advisory !== true).map((c) => c.name);
  expect(failed, `failed checks (${where})`).toEqual([]);
  expect(result.passed, where).toBe(true);
  return result;
}
