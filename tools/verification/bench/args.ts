// `npm run bench` options and the workload sizes they select. Pure (unit-tested).
import { parseArgs } from 'node:util';
import { STAGES, type StageName } from '../../../lib/config/stage-config';

export const PARTS = ['raw', 'relay', 'consumer', 'triage', 'e2e', 'bundles'] as const;
export type Part = (typeof PARTS)[number];

export interface BenchSizes {
  /** Orders whose 3 lifecycle events the relay publishes and the consumer then applies. */
  readonly orders: number;
  /** Orders (× 3 events) for the naive consumer: fewer, it is ~10× slower. */
  readonly naiveOrders: number;
  /** Orders (× 3 events) for the consumer as one environment (peak memory per environment). */
  readonly oneEnvironmentOrders: number;
  readonly deadLetters: number;
  /** Raw-limit sample sizes. */
  readonly rawClaimRows: number;
  readonly rawUpdateRows: number;
  readonly rawSetNxOps: number;
  readonly rawSingleTx: number;
  readonly rawOutboxWrites: number;
  /** End-to-end run at a fixed rate: measured window after a warm-up. */
  readonly e2eRatePerSec: number;
  readonly e2eWarmupMs: number;
  readonly e2eDurationMs: number;
  /** A second end-to-end run at a rate the order API can accept, to separate its ceiling. */
  readonly e2eReferenceRatePerSec: number;
  readonly e2eReferenceDurationMs: number;
  /** Fresh processes per function for the cold-start figure (the median is reported). */
  readonly coldInitRuns: number;
}

export const FULL_SIZES: BenchSizes = {
  orders: 30_000,
  naiveOrders: 3_000,
  oneEnvironmentOrders: 5_000,
  deadLetters: 5_000,
  rawClaimRows: 60_000,
  rawUpdateRows: 60_000,
  rawSetNxOps: 200_000,
  rawSingleTx: 3_000,
  rawOutboxWrites: 5_000,
  e2eRatePerSec: 1_000,
  e2eWarmupMs: 5_000,
  e2eDurationMs: 30_000,
  e2eReferenceRatePerSec: 250,
  e2eReferenceDurationMs: 20_000,
  coldInitRuns: 5,
};

/** A smoke run (about a minute): every part runs, the figures are rough. */
export const QUICK_SIZES: BenchSizes = {
  orders: 1_000,
  naiveOrders: 200,
  oneEnvironmentOrders: 300,
  deadLetters: 300,
  rawClaimRows: 5_000,
  rawUpdateRows: 5_000,
  rawSetNxOps: 20_000,
  rawSingleTx: 300,
  rawOutboxWrites: 500,
  e2eRatePerSec: 1_000,
  e2eWarmupMs: 1_000,
  e2eDurationMs: 4_000,
  e2eReferenceRatePerSec: 250,
  e2eReferenceDurationMs: 3_000,
  coldInitRuns: 1,
};

export interface BenchArgs {
  readonly json: boolean;
  readonly quick: boolean;
  readonly stage: StageName;
  readonly parts: readonly Part[];
  /** Keep the database and topics afterwards (to inspect them). */
  readonly keep: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [--json] [--quick] [--stage dev|prod|localstack] [--only ${PARTS.join(',')}] [--keep]

  --json    also print the result as one JSON object on the last line
  --quick   small sizes (smoke test, about a minute); figures are rough
  --stage   stage config for sizes, batch sizes and partitions (default dev)
  --only    run only these parts (comma-separated)
  --keep    keep the benchmark database and topics`;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      stage: { type: 'string', default: 'dev' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const stage = values.stage as string;
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new Error(`--stage must be one of ${STAGES.join(', ')}, got "${stage}"`);
  }
  let parts: Part[] = [...PARTS];
  if (values.only !== undefined) {
    const wanted = values.only.split(',').map((p) => p.trim());
    const unknown = wanted.filter((p) => !(PARTS as readonly string[]).includes(p));
    if (unknown.length > 0 || wanted.length === 0) {
      throw new Error(`--only takes ${PARTS.join(', ')}; unknown: ${unknown.join(', ')}`);
    }
    parts = PARTS.filter((p) => wanted.includes(p));
  }
  return {
    json: values.json === true,
    quick: values.quick === true,
    stage: stage as StageName,
    parts,
    keep: values.keep === true,
    help: values.help === true,
  };
}
