import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CostExplorerServiceException,
  DataUnavailableException,
  type GetCostAndUsageCommand,
  type GetCostAndUsageCommandInput,
  type GetCostAndUsageResponse,
} from '@aws-sdk/client-cost-explorer';
import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { REQUIRED_TAGS } from '../../../../lib/tags';
import type { Estimate } from '../../../../tools/operations/cost/estimate';
import {
  type ActualSpend,
  buildRequest,
  type CompareInput,
  type CostExplorerSender,
  compare,
  explainError,
  fetchAllPages,
  filterTags,
  parseSpend,
  periodFor,
  renderReview,
  reviewJson,
} from '../../../../tools/operations/cost/review';

const FIXTURES = join(__dirname, '../../../fixtures/cost-explorer');
const fixture = (name: string): GetCostAndUsageResponse =>
  JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as GetCostAndUsageResponse;

/** A `send`-compatible double: replays recorded responses and keeps each request's input. */
function recordedClient(pages: GetCostAndUsageResponse[]) {
  const inputs: GetCostAndUsageCommandInput[] = [];
  const client: CostExplorerSender = {
    send: async (command: GetCostAndUsageCommand) => {
      inputs.push(command.input);
      const page = pages[inputs.length - 1];
      if (!page) throw new Error(`unexpected request #${inputs.length}`);
      return page;
    },
  };
  return { client, inputs };
}

const prod = loadStageConfig('prod');
// The fixtures hold the 4 days 2025-03-10 .. 2025-03-13 (End 2025-03-14 exclusive).
const NOW = new Date('2025-03-14T09:30:00Z');
const PERIOD = periodFor(4, NOW);
const SCALE = 30 / 4;

/** Hand-made estimate (monthly USD): independent of the price table so the figures stay fixed. */
const ESTIMATE: Pick<Estimate, 'byService' | 'lineItems' | 'totalUsd'> = {
  byService: {
    streaming: 550,
    data: 415,
    cache: 22,
    network: 168.63,
    observability: 7.1,
    'outbox-relay': 0,
    'order-consumer': 0,
    service: 1,
  },
  lineItems: ['outbox-relay', 'order-consumer'].map((service) => ({
    service,
    stack: 'service',
    logicalId: `${service}Fn`,
    type: 'AWS::Lambda::Function',
    monthlyUsd: 0,
    basis: 'usage' as const,
    detail: 'usage-based',
    approximate: false,
  })),
  totalUsd: 550 + 415 + 22 + 168.63 + 7.1 + 1,
};

async function recordedSpend(): Promise<ActualSpend> {
  const { client } = recordedClient([
    fixture('prod-daily-page1.json'),
    fixture('prod-daily-page2.json'),
  ]);
  return parseSpend(await fetchAllPages(client, buildRequest(prod, PERIOD, 'DAILY')));
}

function input(actual: ActualSpend, over: Partial<CompareInput> = {}): CompareInput {
  return {
    stage: 'prod',
    filter: filterTags(prod),
    period: PERIOD,
    granularity: 'DAILY',
    actual,
    estimate: ESTIMATE,
    // The prod budget when these responses were recorded (an over-budget month).
    budgetUsd: 1_300,
    ...over,
  };
}

describe('periodFor', () => {
  it('covers the last N complete UTC days, End exclusive (today excluded)', () => {
    expect(periodFor(30, NOW)).toEqual({ start: '2025-02-12', end: '2025-03-14', days: 30 });
    expect(periodFor(4, NOW)).toEqual({ start: '2025-03-10', end: '2025-03-14', days: 4 });
    // Just after midnight UTC the day before is the last one; across a year and a leap day.
    expect(periodFor(10, new Date('2025-01-05T00:00:01Z'))).toEqual({
      start: '2024-12-26',
      end: '2025-01-05',
      days: 10,
    });
    expect(periodFor(2, new Date('2024-03-01T23:59:59Z')).start).toBe('2024-02-28');
    expect(() => periodFor(0, NOW)).toThrow(/positive integer/);
    expect(() => periodFor(1.5, NOW)).toThrow(/positive integer/);
  });
});

describe('buildRequest', () => {
  it('asks for UnblendedCost grouped by the Service tag, filtered on Project and Environment', () => {
    const request = buildRequest(prod, periodFor(30, NOW), 'DAILY');
    expect(request).toEqual({
      TimePeriod: { Start: '2025-02-12', End: '2025-03-14' },
      Granularity: 'DAILY',
      Metrics: ['UnblendedCost'],
      GroupBy: [{ Type: 'TAG', Key: 'Service' }],
      Filter: {
        And: [
          { Tags: { Key: 'Project', Values: ['order-pipeline'] } },
          { Tags: { Key: 'Environment', Values: ['prod'] } },
        ],
      },
    });
    expect(buildRequest(loadStageConfig('dev'), PERIOD, 'MONTHLY')).toMatchObject({
      Granularity: 'MONTHLY',
      Filter: { And: [{ Tags: { Values: ['order-pipeline'] } }, { Tags: { Values: ['dev'] } }] },
    });
    // The keys are the ones the stacks tag every resource with.
    for (const e of request.Filter?.And ?? []) {
      expect(REQUIRED_TAGS).toContain(e.Tags?.Key);
    }
  });
});

describe('fetchAllPages', () => {
  it('follows NextPageToken: the second request repeats the first with the token', async () => {
    const page1 = fixture('prod-daily-page1.json');
    const { client, inputs } = recordedClient([page1, fixture('prod-daily-page2.json')]);
    const request = buildRequest(prod, PERIOD, 'DAILY');
    const pages = await fetchAllPages(client, request);
    expect(pages).toHaveLength(2);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]).toEqual(request);
    expect(inputs[0]?.NextPageToken).toBeUndefined();
    expect(page1.NextPageToken).toMatch(/\S/);
    expect(inputs[1]).toEqual({ ...request, NextPageToken: page1.NextPageToken });
  });

  it('stops a token that never ends at maxPages', async () => {
    const looping = { ...fixture('prod-daily-page1.json') };
    const { client, inputs } = recordedClient([looping, looping, looping, looping]);
    await expect(fetchAllPages(client, buildRequest(prod, PERIOD, 'DAILY'), 3)).rejects.toThrow(
      /NextPageToken after 3 pages/,
    );
    expect(inputs).toHaveLength(3);
  });
});

describe('parseSpend', () => {
  it('sums both pages per Service tag; the empty value is untagged spend', async () => {
    const spend = await recordedSpend();
    // Hand sums of the four daily amounts in the fixtures.
    expect(spend.byService.streaming).toBeCloseTo(17.9876 + 18.0124 + 18 + 18, 9); // 72
    expect(spend.byService.data).toBeCloseTo(19.5 + 20.5 + 20.25 + 19.75, 9); // 80
    expect(spend.byService.cache).toBeCloseTo(2.8, 9);
    expect(spend.byService.network).toBeCloseTo(22.4, 9);
    expect(spend.byService['outbox-relay']).toBeCloseTo(1.6, 9);
    expect(spend.byService['order-consumer']).toBeCloseTo(0.4, 9);
    expect(spend.byService['legacy-batch']).toBeCloseTo(4, 9);
    expect(Object.keys(spend.byService)).not.toContain('');
    expect(spend.untaggedUsd).toBeCloseTo(2, 9);
    expect(spend.totalUsd).toBeCloseTo(185.2, 9);
    // 2025-03-12 is split across the pages but is one period.
    expect(spend.periods).toBe(4);
    expect(spend.periodsWithSpend).toBe(4);
    expect(spend.estimatedPeriods).toBe(4);
  });

  it('reads MONTHLY results (partial months) the same way', () => {
    const spend = parseSpend([fixture('prod-monthly.json')]);
    expect(spend.byService.streaming).toBeCloseTo(306.0123456789 + 233.9876543211, 9); // 540
    expect(spend.untaggedUsd).toBeCloseTo(1.2345678901, 9);
    expect(spend.periods).toBe(2);
    expect(spend.estimatedPeriods).toBe(1);
  });

  it('rejects group keys of another tag and non-USD amounts', () => {
    const page = fixture('prod-monthly.json');
    const first = page.ResultsByTime?.[0]?.Groups?.[0];
    if (!first) throw new Error('fixture has no group');
    first.Keys = ['Team$orders'];
    expect(() => parseSpend([page])).toThrow(/unexpected group key/);
    first.Keys = ['Service$streaming'];
    first.Metrics = { UnblendedCost: { Amount: '3', Unit: 'EUR' } };
    expect(() => parseSpend([page])).toThrow(/EUR/);
    first.Metrics = { BlendedCost: { Amount: '3', Unit: 'USD' } };
    expect(() => parseSpend([page])).toThrow(/no numeric UnblendedCost/);
  });
});

describe('compare', () => {
  it('scales to a 30-day month and compares with the estimate and the budget', async () => {
    const r = compare(input(await recordedSpend()));
    expect(r.scale).toBe(SCALE);
    const data = r.services.find((s) => s.service === 'data');
    expect(data?.monthlyUsd).toBeCloseTo(600, 9); // 80 × 7.5
    expect(data?.deltaUsd).toBeCloseTo(185, 9); // 600 − 415
    expect(data?.deltaPct).toBeCloseTo((185 / 415) * 100, 9); // 44.58 %
    const streaming = r.services.find((s) => s.service === 'streaming');
    expect(streaming?.monthlyUsd).toBeCloseTo(540, 9);
    expect(streaming?.deltaPct).toBeCloseTo((-10 / 550) * 100, 9);
    const legacy = r.services.find((s) => s.service === 'legacy-batch');
    expect(legacy).toMatchObject({ inEstimate: false, estimateUsd: 0, deltaPct: null });
    expect(r.services.map((s) => s.service)).toEqual([
      'cache',
      'data',
      'legacy-batch',
      'network',
      'observability',
      'order-consumer',
      'outbox-relay',
      'service',
      'streaming',
    ]);
    expect(r.untagged.monthlyUsd).toBeCloseTo(15, 9); // 2 × 7.5
    expect(r.totals.forecastUsd).toBeCloseTo(1389, 9); // 185.2 × 7.5
    expect(r.totals.budgetUsd).toBe(1300);
    expect(r.totals.forecastPctOfBudget).toBeCloseTo((1389 / 1300) * 100, 9);
  });

  it('flags each outlier rule once, and nothing within the thresholds', async () => {
    const r = compare(input(await recordedSpend()));
    const found = r.outliers.map((o) => `${o.rule}:${o.service ?? ''}`).sort();
    expect(found).toEqual([
      'deviation:data', // +185 $ and +44.6 %
      'deviation:legacy-batch', // 30 $/month, not in the estimate
      'deviation:outbox-relay', // 12 $/month against a usage-based $0
      'no-spend:observability',
      'no-spend:service',
      'over-budget:',
      'untagged:',
    ]);
    const message = (rule: string, service?: string) =>
      r.outliers.find((o) => o.rule === rule && o.service === service)?.message;
    expect(message('deviation', 'data')).toBe(
      'data: $600.00/month actual vs $415.00 estimated, +$185.00 (+45%)',
    );
    expect(message('deviation', 'legacy-batch')).toMatch(/not in the synthesized stage/);
    expect(message('deviation', 'outbox-relay')).toMatch(/usage-based/);
    expect(message('untagged')).toMatch(
      /^\$15\.00\/month \(\$2\.00 in 4 days\) has no Service tag/,
    );
    expect(message('over-budget')).toBe(
      'forecast $1389.00/month is above the prod budget of $1300.00 (107%)',
    );
    // Cost Explorer marks the days Estimated; all 4 days have spend, so no coverage warning.
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/4 period\(s\) are marked Estimated/);
  });

  it('applies both deviation thresholds, overridable', async () => {
    const spend = await recordedSpend();
    const deviating = (pct: number, usd: number) =>
      compare(input(spend, { thresholds: { pct, usd } }))
        .outliers.filter((o) => o.rule === 'deviation')
        .map((o) => o.service)
        .sort();
    expect(deviating(50, 5)).toEqual(['legacy-batch', 'outbox-relay']); // data is +44.6 %
    expect(deviating(25, 200)).toEqual([]); // the largest gap is $185
    expect(deviating(25, 11)).toEqual(['data', 'legacy-batch', 'outbox-relay']);
    expect(deviating(25, 12.5)).toEqual(['data', 'legacy-batch']); // outbox-relay is $12
    expect(deviating(1, 0.5)).toEqual([
      'cache', // −$1.00, −4.5 %
      'data',
      'legacy-batch',
      'order-consumer', // $3 against $0
      'outbox-relay',
      'streaming', // −$10, −1.8 %
    ]);
  });

  it('no over-budget flag when the forecast fits, no untagged flag without untagged spend', async () => {
    const spend = await recordedSpend();
    const r = compare(input({ ...spend, untaggedUsd: 0 }, { budgetUsd: 1389.01 }));
    expect(r.outliers.map((o) => o.rule)).not.toContain('over-budget');
    expect(r.outliers.map((o) => o.rule)).not.toContain('untagged');
    expect(compare(input(spend, { budgetUsd: 1388.99 })).outliers.map((o) => o.rule)).toContain(
      'over-budget',
    );
  });

  it('no spend at all: every estimated service has no spend and the tags are suspect', async () => {
    const { client } = recordedClient([fixture('prod-daily-no-data.json')]);
    const spend = parseSpend(await fetchAllPages(client, buildRequest(prod, PERIOD, 'DAILY')));
    const r = compare(input(spend));
    expect(r.totals.forecastUsd).toBe(0);
    expect(
      r.outliers
        .filter((o) => o.rule === 'no-spend')
        .map((o) => o.service)
        .sort(),
    ).toEqual(['cache', 'data', 'network', 'observability', 'service', 'streaming']);
    expect(r.outliers.map((o) => o.rule)).not.toContain('deviation');
    expect(r.warnings[0]).toMatch(
      /^No spend matched Project=order-pipeline, Environment=prod: .*cost-allocation tags may not be activated/,
    );
  });

  it('warns when only some days have spend (recent deploy or tag activation)', async () => {
    const page1 = fixture('prod-daily-page1.json');
    // Drop the spend of the first two days, as before the tags were activated.
    for (const result of page1.ResultsByTime?.slice(0, 2) ?? []) result.Groups = [];
    const { client } = recordedClient([page1, fixture('prod-daily-page2.json')]);
    const spend = parseSpend(await fetchAllPages(client, buildRequest(prod, PERIOD, 'DAILY')));
    expect(spend.periodsWithSpend).toBe(2);
    const r = compare(input(spend));
    expect(r.warnings.some((w) => /Spend on only 2 of 4 days.*--days 2/.test(w))).toBe(true);
  });
});

describe('renderReview and reviewJson', () => {
  it('prints one row per Service tag, the untagged row, totals, budget and outliers', async () => {
    const r = compare(input(await recordedSpend()));
    const text = renderReview(r);
    expect(text).toContain(
      'stage prod (Project=order-pipeline, Environment=prod), 2025-03-10 to 2025-03-14 exclusive: 4 days, DAILY',
    );
    expect(text).toMatch(/^data\s+\$80\.00\s+\$600\.00\s+\$415\.00\s+\+\$185\.00\s+\+45%\s+!$/m);
    expect(text).toMatch(/^legacy-batch\s+\$4\.00\s+\$30\.00\s+—\s+\+\$30\.00\s*!$/m);
    expect(text).toMatch(/^streaming\s+\$72\.00\s+\$540\.00\s+\$550\.00\s+-\$10\.00\s+-2%$/m);
    expect(text).toMatch(/^network\s+\$22\.40\s+\$168\.00\s+\$168\.63\s+-\$0\.63\s+0%$/m); // −0.37 %
    expect(text).toMatch(/^\(no Service tag\)\s+\$2\.00\s+\$15\.00\s+—\s+!$/m);
    expect(text).toMatch(/^TOTAL\s+\$185\.20\s+\$1389\.00\s+\$1163\.73\s+\+\$225\.27$/m);
    expect(text).toContain('Budget $1300.00/month: forecast $1389.00 = 107% of budget.');
    expect(text).toContain('Outliers (7; deviation thresholds: > 25% and > $5.00/month):');
  });

  it('JSON: money in cents, percentages to 0.1, every outlier', async () => {
    const r = compare(input(await recordedSpend()));
    const json = JSON.parse(JSON.stringify(reviewJson(r))) as {
      services: { service: string; monthlyUsd: number; deltaPct: number | null }[];
      totals: Record<string, number>;
      outliers: unknown[];
    };
    expect(json.services.find((s) => s.service === 'data')).toMatchObject({
      monthlyUsd: 600,
      deltaPct: 44.6,
    });
    expect(json.totals).toEqual({
      actualUsd: 185.2,
      forecastUsd: 1389,
      estimateUsd: 1163.73,
      budgetUsd: 1300,
      forecastPctOfBudget: 106.8,
    });
    expect(json.outliers).toHaveLength(7);
  });
});

describe('explainError', () => {
  it('gives a clear message for the fixable failures', () => {
    const named = (name: string, message = 'x') => Object.assign(new Error(message), { name });
    expect(
      explainError(
        named('CredentialsProviderError', 'Could not load credentials from any providers'),
      ),
    ).toMatch(/^No AWS credentials .*AWS_PROFILE.*AWS_ACCESS_KEY_ID.*ce:GetCostAndUsage/);
    const denied = new CostExplorerServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'User is not authorized to perform: ce:GetCostAndUsage',
    });
    expect(explainError(denied)).toMatch(/^Access denied by Cost Explorer.*ce:GetCostAndUsage/);
    const unavailable = new DataUnavailableException({
      $metadata: { httpStatusCode: 400 },
      message: 'Data is not available.',
    });
    expect(explainError(unavailable)).toMatch(/^Cost Explorer has no data.*24 h/);
    expect(explainError(named('UnrecognizedClientException'))).toMatch(/invalid or expired/);
    expect(explainError(named('ExpiredTokenException'))).toMatch(/invalid or expired/);
    expect(explainError(named('LimitExceededException'))).toMatch(/throttling/);
    expect(explainError(Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }))).toMatch(
      /Cannot reach Cost Explorer at ce\.us-east-1\.amazonaws\.com \(ENOTFOUND\)/,
    );
    expect(explainError(new TypeError('boom'))).toBeUndefined();
    expect(explainError('a string')).toBeUndefined();
  });
});
