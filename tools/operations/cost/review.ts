/**
 * Pure logic of `npm run cost:review`: the Cost Explorer request, NextPageToken paging over an
 * injected client, parsing of grouped results, the comparison of actual spend per `Service` tag
 * with the `npm run cost` estimate and the stage budget, the outlier rules and the table.
 */
import {
  GetCostAndUsageCommand,
  type GetCostAndUsageCommandInput,
  type GetCostAndUsageResponse,
} from '@aws-sdk/client-cost-explorer';
import type { StageConfig } from '../../../lib/config/stage-config';
import { costTags, type RequiredTag } from '../../../lib/tags';
import { type Estimate, lpad, money, pad } from './estimate';

/** Cost Explorer has one endpoint, in us-east-1, whatever region the stage runs in. */
export const COST_EXPLORER_REGION = 'us-east-1';
export const METRIC = 'UnblendedCost';
/** The cost-allocation tag spend is grouped by. */
export const GROUP_TAG: RequiredTag = 'Service';
/** The cost-allocation tags that select the stage's spend. */
export const FILTER_TAGS: readonly RequiredTag[] = ['Project', 'Environment'];
/** Actual spend is scaled to a month of this many days. */
export const MONTH_DAYS = 30;
/** Amounts below half a cent print as $0.00 and count as no spend. */
const CENT = 0.005;

export type Granularity = 'DAILY' | 'MONTHLY';

export interface Thresholds {
  /** A Service tag is an outlier when |actual − estimate| exceeds this percentage of the estimate… */
  readonly pct: number;
  /** …and this many USD a month (both must hold: small services swing by large percentages). */
  readonly usd: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { pct: 25, usd: 5 };

export interface Period {
  /** Inclusive, YYYY-MM-DD (UTC). */
  readonly start: string;
  /** Exclusive, YYYY-MM-DD (UTC). */
  readonly end: string;
  readonly days: number;
}

/** Anything with the client's `send` for this one command: the real client or a test double. */
export interface CostExplorerSender {
  send(command: GetCostAndUsageCommand): Promise<GetCostAndUsageResponse>;
}

// ---------- request ----------

/** The last `days` complete UTC days: today is excluded because its spend is still accruing. */
export function periodFor(days: number, now: Date): Period {
  if (!Number.isInteger(days) || days < 1) throw new Error(`days must be a positive integer`);
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const start = new Date(end.getTime() - days * 86_400_000);
  const iso = (d: Date) => d.toISOString().slice(0, 10);
  return { start: iso(start), end: iso(end), days };
}

/** The tag filter values of a stage, taken from the tags the stacks put on every resource. */
export function filterTags(config: StageConfig): Record<string, string> {
  const tags = costTags(config, '');
  return Object.fromEntries(FILTER_TAGS.map((k) => [k, tags[k]]));
}

export function buildRequest(
  config: StageConfig,
  period: Period,
  granularity: Granularity,
): GetCostAndUsageCommandInput {
  return {
    TimePeriod: { Start: period.start, End: period.end },
    Granularity: granularity,
    Metrics: [METRIC],
    GroupBy: [{ Type: 'TAG', Key: GROUP_TAG }],
    Filter: {
      And: Object.entries(filterTags(config)).map(([Key, value]) => ({
        Tags: { Key, Values: [value] },
      })),
    },
  };
}

/**
 * Every page of one GetCostAndUsage query. Hand-written because the SDK ships no paginator for
 * this operation (it has them for other Cost Explorer calls only). Each page is a billed request
 * ($0.01), so a runaway token stops at `maxPages`.
 */
export async function fetchAllPages(
  client: CostExplorerSender,
  input: GetCostAndUsageCommandInput,
  maxPages = 50,
): Promise<GetCostAndUsageResponse[]> {
  const pages: GetCostAndUsageResponse[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new GetCostAndUsageCommand(token ? { ...input, NextPageToken: token } : input),
    );
    pages.push(page);
    token = page.NextPageToken || undefined;
  } while (token && pages.length < maxPages);
  if (token) throw new Error(`Cost Explorer still had a NextPageToken after ${maxPages} pages`);
  return pages;
}

// ---------- response ----------

export interface ActualSpend {
  /** USD over the period per `Service` tag value. */
  readonly byService: Record<string, number>;
  /** USD of the spend whose resources carry no `Service` tag (group key `Service$`). */
  readonly untaggedUsd: number;
  readonly totalUsd: number;
  /** Distinct time periods in the response. */
  readonly periods: number;
  /** Distinct periods with any spend. */
  readonly periodsWithSpend: number;
  /** Distinct periods Cost Explorer marks `Estimated` (not final yet). */
  readonly estimatedPeriods: number;
}

/** Sums every page; a period's groups may continue on the next page, so periods are counted by start. */
export function parseSpend(pages: readonly GetCostAndUsageResponse[]): ActualSpend {
  const prefix = `${GROUP_TAG}$`;
  const byService: Record<string, number> = {};
  let untaggedUsd = 0;
  const periods = new Set<string>();
  const withSpend = new Set<string>();
  const estimated = new Set<string>();
  for (const page of pages) {
    for (const result of page.ResultsByTime ?? []) {
      const start = result.TimePeriod?.Start ?? '';
      periods.add(start);
      if (result.Estimated) estimated.add(start);
      for (const group of result.Groups ?? []) {
        const key = group.Keys?.[0];
        if (key === undefined || !key.startsWith(prefix)) {
          throw new Error(`unexpected group key ${JSON.stringify(group.Keys)} (want ${prefix}…)`);
        }
        const metric = group.Metrics?.[METRIC];
        const amount = Number(metric?.Amount);
        if (metric?.Amount === undefined || !Number.isFinite(amount)) {
          throw new Error(`group ${key} on ${start} has no numeric ${METRIC}`);
        }
        if (metric.Unit !== 'USD') {
          throw new Error(
            `group ${key} on ${start} is in ${metric.Unit}; estimate and budget are USD`,
          );
        }
        const service = key.slice(prefix.length);
        if (service === '') untaggedUsd += amount;
        else byService[service] = (byService[service] ?? 0) + amount;
        if (Math.abs(amount) >= CENT) withSpend.add(start);
      }
    }
  }
  const taggedUsd = Object.values(byService).reduce((s, v) => s + v, 0);
  return {
    byService,
    untaggedUsd,
    totalUsd: taggedUsd + untaggedUsd,
    periods: periods.size,
    periodsWithSpend: withSpend.size,
    estimatedPeriods: estimated.size,
  };
}

// ---------- comparison ----------

export interface ServiceComparison {
  readonly service: string;
  /** Monthly USD of the `npm run cost` estimate (0 when the tag is not in it). */
  readonly estimateUsd: number;
  /** Actual USD over the period. */
  readonly actualUsd: number;
  /** Actual scaled to a {@link MONTH_DAYS}-day month. */
  readonly monthlyUsd: number;
  readonly deltaUsd: number;
  /** Delta as a percentage of the estimate; null when the estimate is 0. */
  readonly deltaPct: number | null;
  readonly inEstimate: boolean;
  /** The estimate has usage-based items ($0 at idle) for this tag. */
  readonly usageBased: boolean;
}

export type OutlierRule = 'deviation' | 'untagged' | 'no-spend' | 'over-budget';

export interface Outlier {
  readonly rule: OutlierRule;
  readonly service?: string;
  readonly message: string;
}

export interface Review {
  readonly stage: string;
  readonly filter: Record<string, string>;
  readonly period: Period;
  readonly granularity: Granularity;
  readonly monthDays: number;
  /** monthDays / period.days. */
  readonly scale: number;
  readonly thresholds: Thresholds;
  readonly services: ServiceComparison[];
  readonly untagged: { readonly actualUsd: number; readonly monthlyUsd: number };
  readonly totals: {
    readonly actualUsd: number;
    /** All matched spend (tagged and untagged) scaled to a month. */
    readonly forecastUsd: number;
    readonly estimateUsd: number;
    readonly budgetUsd: number;
    readonly forecastPctOfBudget: number;
  };
  readonly outliers: Outlier[];
  readonly warnings: string[];
}

export interface CompareInput {
  readonly stage: string;
  readonly filter: Record<string, string>;
  readonly period: Period;
  readonly granularity: Granularity;
  readonly actual: ActualSpend;
  readonly estimate: Pick<Estimate, 'byService' | 'lineItems' | 'totalUsd'>;
  readonly budgetUsd: number;
  readonly thresholds?: Thresholds;
}

const signed = (n: number) => `${n < 0 ? '-' : '+'}${money(Math.abs(n))}`;
const pct = (n: number) => {
  const whole = Math.round(n);
  return `${whole > 0 ? '+' : ''}${whole === 0 ? 0 : whole}%`;
};

export function compare(input: CompareInput): Review {
  const { actual, estimate, period } = input;
  const thresholds = input.thresholds ?? DEFAULT_THRESHOLDS;
  const scale = MONTH_DAYS / period.days;
  const usage = new Set(
    estimate.lineItems.filter((i) => i.basis === 'usage').map((i) => i.service),
  );
  const names = [
    ...new Set([...Object.keys(estimate.byService), ...Object.keys(actual.byService)]),
  ];
  names.sort();

  const services: ServiceComparison[] = names.map((service) => {
    const estimateUsd = estimate.byService[service] ?? 0;
    const actualUsd = actual.byService[service] ?? 0;
    const monthlyUsd = actualUsd * scale;
    const deltaUsd = monthlyUsd - estimateUsd;
    return {
      service,
      estimateUsd,
      actualUsd,
      monthlyUsd,
      deltaUsd,
      deltaPct: estimateUsd > 0 ? (deltaUsd / estimateUsd) * 100 : null,
      inEstimate: service in estimate.byService,
      usageBased: usage.has(service),
    };
  });

  const outliers: Outlier[] = [];
  for (const s of services) {
    if (s.estimateUsd >= CENT && Math.abs(s.actualUsd) < CENT) {
      outliers.push({
        rule: 'no-spend',
        service: s.service,
        message: `${s.service}: estimated ${money(s.estimateUsd)}/month but no spend in ${period.days} days — not deployed, deleted, or its resources lack the ${GROUP_TAG} tag`,
      });
      continue;
    }
    const over = Math.abs(s.deltaUsd);
    const overPct = s.deltaPct === null || Math.abs(s.deltaPct) > thresholds.pct;
    if (over > thresholds.usd && overPct) {
      const why = !s.inEstimate
        ? ` — ${GROUP_TAG}=${s.service} is not in the synthesized stage`
        : s.estimateUsd === 0 && s.usageBased
          ? ' — usage-based: the estimate counts $0 at idle'
          : '';
      const rel = s.deltaPct === null ? '' : ` (${pct(s.deltaPct)})`;
      outliers.push({
        rule: 'deviation',
        service: s.service,
        message: `${s.service}: ${money(s.monthlyUsd)}/month actual vs ${money(s.estimateUsd)} estimated, ${signed(s.deltaUsd)}${rel}${why}`,
      });
    }
  }

  const untaggedMonthly = actual.untaggedUsd * scale;
  if (Math.abs(actual.untaggedUsd) >= CENT) {
    outliers.push({
      rule: 'untagged',
      message: `${money(untaggedMonthly)}/month (${money(actual.untaggedUsd)} in ${period.days} days) has no ${GROUP_TAG} tag — the ${GROUP_TAG} cost-allocation tag is not activated (or was activated after this spend), or some resources are untagged`,
    });
  }

  const forecastUsd = actual.totalUsd * scale;
  const forecastPctOfBudget = input.budgetUsd > 0 ? (forecastUsd / input.budgetUsd) * 100 : 0;
  if (forecastUsd > input.budgetUsd) {
    outliers.push({
      rule: 'over-budget',
      message: `forecast ${money(forecastUsd)}/month is above the ${input.stage} budget of ${money(input.budgetUsd)} (${forecastPctOfBudget.toFixed(0)}%)`,
    });
  }

  const warnings: string[] = [];
  const filterText = Object.entries(input.filter)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (actual.periodsWithSpend === 0) {
    warnings.push(
      `No spend matched ${filterText}: the Project and Environment cost-allocation tags may not be activated yet (activation takes up to 24 h and covers earlier spend only after a tag backfill), the stage may not be deployed, or these credentials belong to another account.`,
    );
  } else if (input.granularity === 'DAILY' && actual.periodsWithSpend < period.days) {
    warnings.push(
      `Spend on only ${actual.periodsWithSpend} of ${period.days} days (deployed or tags activated recently?): monthly figures are scaled over all ${period.days} days and understate; rerun with --days ${actual.periodsWithSpend}.`,
    );
  }
  if (actual.estimatedPeriods > 0) {
    warnings.push(
      `${actual.estimatedPeriods} period(s) are marked Estimated by Cost Explorer (not final; the latest day can lag by up to 24 h).`,
    );
  }

  return {
    stage: input.stage,
    filter: input.filter,
    period,
    granularity: input.granularity,
    monthDays: MONTH_DAYS,
    scale,
    thresholds,
    services,
    untagged: { actualUsd: actual.untaggedUsd, monthlyUsd: untaggedMonthly },
    totals: {
      actualUsd: actual.totalUsd,
      forecastUsd,
      estimateUsd: estimate.totalUsd,
      budgetUsd: input.budgetUsd,
      forecastPctOfBudget,
    },
    outliers,
    warnings,
  };
}

// ---------- output ----------

export function renderReview(r: Review): string {
  const filter = Object.entries(r.filter)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const lines: string[] = [];
  lines.push(
    `Cost review — stage ${r.stage} (${filter}), ${r.period.start} to ${r.period.end} exclusive: ${r.period.days} days, ${r.granularity}`,
  );
  lines.push(
    `Actual ${METRIC} from Cost Explorer by ${GROUP_TAG} tag, × ${r.scale.toFixed(2)} to a ${r.monthDays}-day month, beside the \`npm run cost\` estimate.`,
  );
  lines.push('');
  const header = `${pad(`${GROUP_TAG} tag`, 22)}${lpad('actual', 11)}${lpad('per month', 12)}${lpad('estimate', 11)}${lpad('delta', 11)}${lpad('%', 7)}`;
  lines.push(header);
  lines.push('-'.repeat(header.length + 3));
  const flagged = new Set(r.outliers.map((o) => o.service).filter(Boolean));
  for (const s of r.services) {
    lines.push(
      `${pad(s.service, 22)}${lpad(money(s.actualUsd), 11)}${lpad(money(s.monthlyUsd), 12)}${lpad(s.inEstimate ? money(s.estimateUsd) : '—', 11)}${lpad(signed(s.deltaUsd), 11)}${lpad(s.deltaPct === null ? '' : pct(s.deltaPct), 7)}${flagged.has(s.service) ? '  !' : ''}`,
    );
  }
  lines.push(
    `${pad(`(no ${GROUP_TAG} tag)`, 22)}${lpad(money(r.untagged.actualUsd), 11)}${lpad(money(r.untagged.monthlyUsd), 12)}${lpad('—', 11)}${Math.abs(r.untagged.actualUsd) >= CENT ? `${' '.repeat(18)}  !` : ''}`,
  );
  lines.push('-'.repeat(header.length + 3));
  lines.push(
    `${pad('TOTAL', 22)}${lpad(money(r.totals.actualUsd), 11)}${lpad(money(r.totals.forecastUsd), 12)}${lpad(money(r.totals.estimateUsd), 11)}${lpad(signed(r.totals.forecastUsd - r.totals.estimateUsd), 11)}`,
  );
  lines.push('');
  lines.push(
    `Budget ${money(r.totals.budgetUsd)}/month: forecast ${money(r.totals.forecastUsd)} = ${r.totals.forecastPctOfBudget.toFixed(0)}% of budget.`,
  );
  lines.push('');
  if (r.outliers.length === 0) {
    lines.push(
      `Outliers: none (thresholds: > ${r.thresholds.pct}% and > ${money(r.thresholds.usd)}/month)`,
    );
  } else {
    lines.push(
      `Outliers (${r.outliers.length}; deviation thresholds: > ${r.thresholds.pct}% and > ${money(r.thresholds.usd)}/month):`,
    );
    for (const o of r.outliers) lines.push(`  ! ${pad(o.rule, 12)}${o.message}`);
  }
  for (const w of r.warnings) lines.push(`Warning: ${w}`);
  lines.push('');
  lines.push(
    `Only spend on resources tagged ${filter} is shown: untaggable charges, data transfer, tax and support are not in this view. The estimate prices fixed capacity; usage-based items (Lambda, logs, requests) are $0 in it.`,
  );
  return lines.join('\n');
}

const cents = (n: number) => Math.round(n * 100) / 100;

/** The review as one JSON-ready object, money rounded to cents and percentages to 0.1. */
export function reviewJson(r: Review): Record<string, unknown> {
  return {
    stage: r.stage,
    filter: r.filter,
    period: r.period,
    granularity: r.granularity,
    metric: METRIC,
    monthDays: r.monthDays,
    scale: r.scale,
    thresholds: r.thresholds,
    services: r.services.map((s) => ({
      ...s,
      estimateUsd: cents(s.estimateUsd),
      actualUsd: cents(s.actualUsd),
      monthlyUsd: cents(s.monthlyUsd),
      deltaUsd: cents(s.deltaUsd),
      deltaPct: s.deltaPct === null ? null : Math.round(s.deltaPct * 10) / 10,
    })),
    untagged: { actualUsd: cents(r.untagged.actualUsd), monthlyUsd: cents(r.untagged.monthlyUsd) },
    totals: {
      actualUsd: cents(r.totals.actualUsd),
      forecastUsd: cents(r.totals.forecastUsd),
      estimateUsd: cents(r.totals.estimateUsd),
      budgetUsd: r.totals.budgetUsd,
      forecastPctOfBudget: Math.round(r.totals.forecastPctOfBudget * 10) / 10,
    },
    outliers: r.outliers,
    warnings: r.warnings,
  };
}

// ---------- errors ----------

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * A clear, actionable sentence for the failures a user can fix; undefined for anything else.
 * Matched by name, not class: credential errors come from a transitive package, and
 * AccessDeniedException is not a modeled Cost Explorer error.
 */
export function explainError(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: unknown; message?: unknown; code?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  const detail = typeof e.message === 'string' && e.message ? ` (${e.message})` : '';
  const code = typeof e.code === 'string' ? e.code : '';
  switch (name) {
    case 'CredentialsProviderError':
    case 'TokenProviderError':
      return `No AWS credentials${detail}: set AWS_PROFILE (after \`aws configure\` or \`aws sso login\`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys). Cost Explorer needs the IAM permission ce:GetCostAndUsage; it is called in ${COST_EXPLORER_REGION} whatever the stage region.`;
    case 'AccessDeniedException':
    case 'AccessDenied':
      return `Access denied by Cost Explorer${detail}: grant the identity ce:GetCostAndUsage (resource "*"). In an AWS Organizations member account, the management account must also allow member accounts to use Cost Explorer.`;
    case 'DataUnavailableException':
      return `Cost Explorer has no data for this request${detail}: Cost Explorer becomes available about 24 h after it is first enabled (open Billing and Cost Management → Cost Explorer once), and newly activated cost-allocation tags take up to 24 h. Try again later or with fewer --days.`;
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
    case 'ExpiredTokenException':
      return `AWS rejected the credentials (${name}): they are invalid or expired. Refresh them (\`aws sso login\`, new keys) and retry.`;
    case 'LimitExceededException':
    case 'ThrottlingException':
      return `Cost Explorer is throttling requests (${name}); wait a minute and retry.`;
    case 'BillExpirationException':
      return `Cost Explorer no longer has bills that old${detail}; use fewer --days.`;
    case 'InvalidNextTokenException':
    case 'RequestChangedException':
      return `Cost Explorer rejected the paging token (${name}); retry the whole review.`;
  }
  if (NETWORK_CODES.has(code) || name === 'TimeoutError') {
    return `Cannot reach Cost Explorer at ce.${COST_EXPLORER_REGION}.amazonaws.com (${code || name}): check the network, proxy (HTTPS_PROXY) or AWS_ENDPOINT_URL settings.`;
  }
  return undefined;
}
