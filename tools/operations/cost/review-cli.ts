/**
 * `npm run cost:review -- --stage prod --days 30 [--granularity DAILY|MONTHLY]
 *   [--threshold-pct 25] [--threshold-usd 5] [--json]`
 * Reads actual spend per `Service` tag from Cost Explorer and compares it with `npm run cost`.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { CostExplorerClient } from '@aws-sdk/client-cost-explorer';
import { loadStageConfig, STAGES, type StageName } from '../../../lib/config/stage-config';
import { type Estimate, estimate } from './estimate';
import {
  buildRequest,
  COST_EXPLORER_REGION,
  type CostExplorerSender,
  compare,
  DEFAULT_THRESHOLDS,
  explainError,
  fetchAllPages,
  filterTags,
  type Granularity,
  parseSpend,
  periodFor,
  renderReview,
  reviewJson,
  type Thresholds,
} from './review';
import { synthResources } from './synth';

export const USAGE =
  'usage: npm run cost:review -- --stage prod|dev|localstack [--days 30] [--granularity DAILY|MONTHLY] [--threshold-pct 25] [--threshold-usd 5] [--json]';

export interface ReviewArgs {
  readonly stage: StageName;
  readonly days: number;
  readonly granularity: Granularity;
  readonly thresholds: Thresholds;
  readonly json: boolean;
}

/** Cost Explorer keeps 13 months of history by default (14 with the current month). */
const MAX_DAYS = 365;

function positive(name: string, raw: string, integer: boolean): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a ${integer ? 'whole ' : ''}number ≥ 0 (got "${raw}")`);
  }
  return n;
}

/** The parsed arguments, or undefined when --help asks for the usage line. */
export function parseArgs(argv: readonly string[]): ReviewArgs | undefined {
  const { values } = parseNodeArgs({
    args: [...argv],
    options: {
      stage: { type: 'string', default: 'dev' },
      days: { type: 'string', default: '30' },
      granularity: { type: 'string', default: 'DAILY' },
      'threshold-pct': { type: 'string', default: String(DEFAULT_THRESHOLDS.pct) },
      'threshold-usd': { type: 'string', default: String(DEFAULT_THRESHOLDS.usd) },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  if (!(STAGES as readonly string[]).includes(values.stage)) {
    throw new Error(`--stage must be one of ${STAGES.join(', ')} (got "${values.stage}")`);
  }
  const days = positive('--days', values.days, true);
  if (days < 1 || days > MAX_DAYS) throw new Error(`--days must be 1..${MAX_DAYS} (got ${days})`);
  const granularity = values.granularity.toUpperCase();
  if (granularity !== 'DAILY' && granularity !== 'MONTHLY') {
    throw new Error(`--granularity must be DAILY or MONTHLY (got "${values.granularity}")`);
  }
  return {
    stage: values.stage as StageName,
    days,
    granularity,
    thresholds: {
      pct: positive('--threshold-pct', values['threshold-pct'], false),
      usd: positive('--threshold-usd', values['threshold-usd'], false),
    },
    json: values.json,
  };
}

export interface ReviewDeps {
  readonly client: () => CostExplorerSender;
  readonly estimateFor: (
    stage: StageName,
  ) => Pick<Estimate, 'byService' | 'lineItems' | 'totalUsd'>;
  readonly now: () => Date;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export const defaultDeps: ReviewDeps = {
  // Default credential chain; its EC2-metadata step times out after 1 s without retries
  // (SDK defaults), so without credentials the CLI fails fast even offline.
  client: () => new CostExplorerClient({ region: COST_EXPLORER_REGION }),
  estimateFor: (stage) => {
    const { config, resources } = synthResources(stage);
    return estimate(resources, config.region);
  },
  now: () => new Date(),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Exit codes: 0 review printed (outliers or not), 1 Cost Explorer or other failure, 2 usage. */
export async function main(
  argv: readonly string[],
  deps: ReviewDeps = defaultDeps,
): Promise<number> {
  let args: ReviewArgs | undefined;
  try {
    args = parseArgs(argv);
  } catch (err) {
    deps.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!args) {
    deps.out(USAGE);
    return 0;
  }
  const config = loadStageConfig(args.stage);
  const period = periodFor(args.days, deps.now());
  const request = buildRequest(config, period, args.granularity);
  try {
    // Cost Explorer first: a credentials problem surfaces before the slower synth.
    const pages = await fetchAllPages(deps.client(), request);
    const review = compare({
      stage: args.stage,
      filter: filterTags(config),
      period,
      granularity: args.granularity,
      actual: parseSpend(pages),
      estimate: deps.estimateFor(args.stage),
      budgetUsd: config.budget.monthlyLimitUsd,
      thresholds: args.thresholds,
    });
    deps.out(renderReview(review));
    if (args.json) deps.out(JSON.stringify(reviewJson(review)));
    return 0;
  } catch (err) {
    const e = err as { name?: string; message?: string };
    deps.err(
      explainError(err) ?? `cost:review failed: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
    );
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
