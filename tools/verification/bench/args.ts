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
  /** End-to-end run at the latency targets' rate: measured window after a warm-up. */
  readonly e2eRatePerSec: number;
  readonly e2eWarmupMs: number;
  readonly e2eDurationMs: number;
  /** A second end-to-end run at twice that rate, whose target is that no write fails. */
  readonly e2eHighRatePerSec: number;
  readonly e2eHighDurationMs: number;
  /** `--peers`: the relay and Debezium, backlog drain and commit-to-topic at a fixed rate. */
  readonly peerOrders: number;
  readonly peerRatePerSec: number;
  readonly peerWarmupMs: number;
  readonly peerWindowMs: number;
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
  e2eRatePerSec: 500,
  e2eWarmupMs: 5_000,
  e2eDurationMs: 30_000,
  e2eHighRatePerSec: 1_000,
  e2eHighDurationMs: 20_000,
  peerOrders: 30_000,
  peerRatePerSec: 1_000,
  peerWarmupMs: 3_000,
  peerWindowMs: 20_000,
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
  e2eRatePerSec: 500,
  e2eWarmupMs: 1_000,
  e2eDurationMs: 4_000,
  e2eHighRatePerSec: 1_000,
  e2eHighDurationMs: 3_000,
  peerOrders: 1_000,
  peerRatePerSec: 1_000,
  peerWarmupMs: 1_000,
  peerWindowMs: 5_000,
  coldInitRuns: 1,
};

export interface BenchArgs {
  readonly json: boolean;
  readonly quick: boolean;
  readonly stage: StageName;
  readonly parts: readonly Part[];
  /** Keep the database and topics afterwards (to inspect them). */
  readonly keep: boolean;
  /** Also measure Debezium beside the relay (Kafka Connect and a private PostgreSQL). */
  readonly peers: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [--json] [--quick] [--peers] [--stage dev|prod|localstack] [--only ${PARTS.join(',')}] [--keep]

  --json    also print the result as one JSON object on the last line
  --quick   small sizes (smoke test, about a minute); figures are rough
  --peers   also run Debezium's outbox event router beside the relay (same rows, same broker)
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
      peers: { type: 'boolean', default: false },
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
    peers: values.peers === true,
    help: values.help === true,
  };
}
