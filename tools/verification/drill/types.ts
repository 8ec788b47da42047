// The shape every drill shares: what it is given, and the result the CLI and tests read.
import type { StageConfig } from '../../../lib/config/stage-config';
import type { Accounting } from './accounting';
import type { Endpoints } from './harness';

export interface DrillContext {
  readonly config: StageConfig;
  /** The CI-sized version: fewer trials and inputs, same checks. */
  readonly quick: boolean;
  /** The shared services (drills that restart nothing run on them, isolated by names). */
  readonly shared: Endpoints;
  /** Seed of every random choice (kill points, workloads, generated inputs). */
  readonly seed: number;
  readonly progress: (line: string) => void;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /**
   * Shown (as "warn" when not ok) but not part of the verdict: the pass conditions are
   * 0 lost, 0 applied twice and every bad input dead-lettered with its type.
   */
  readonly advisory?: boolean;
}

export interface DrillResult {
  readonly id: string;
  readonly title: string;
  readonly accounting: Accounting;
  readonly checks: readonly Check[];
  /** Drill-specific figures: trials, kill points, restart durations, drain time... */
  readonly details: Readonly<Record<string, string | number>>;
  readonly passed: boolean;
  readonly durationMs: number;
  /** Where the pipeline's warnings and errors of this run went. */
  readonly logPath?: string;
}

export interface Drill {
  readonly id: string;
  readonly title: string;
  /** One line: what a pass shows. */
  readonly proves: string;
  run(ctx: DrillContext): Promise<DrillResult>;
}

/** Seeded, so a run can be repeated with --seed (the workload's generator). */
export { seededRandom } from '../../local-runtime/workload';

/** Passed when every non-advisory check holds. */
export function verdict(checks: readonly Check[]): boolean {
  return checks.every((c) => c.ok || c.advisory === true);
}

/** A drill's result: its identity, the verdict of its checks, and how long it ran. */
export function drillResult(
  drill: Pick<Drill, 'id' | 'title'>,
  run: { readonly startedAt: number; readonly logPath?: string },
  outcome: Pick<DrillResult, 'accounting' | 'checks' | 'details'>,
): DrillResult {
  return {
    id: drill.id,
    title: drill.title,
    ...outcome,
    passed: verdict(outcome.checks),
    durationMs: Date.now() - run.startedAt,
    ...(run.logPath === undefined ? {} : { logPath: run.logPath }),
  };
}
