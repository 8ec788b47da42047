import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CostExplorerClient,
  CostExplorerServiceException,
  DataUnavailableException,
  type GetCostAndUsageCommand,
  type GetCostAndUsageCommandInput,
  type GetCostAndUsageResponse,
} from '@aws-sdk/client-cost-explorer';
import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import type { Estimate } from '../../../../tools/operations/cost/estimate';
import type { CostExplorerSender } from '../../../../tools/operations/cost/review';
import {
  defaultDeps,
  main,
  parseArgs,
  type ReviewDeps,
} from '../../../../tools/operations/cost/review-cli';

const ROOT = join(__dirname, '../../../..');
const fixture = (name: string): GetCostAndUsageResponse =>
  JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/cost-explorer', name), 'utf8'),
  ) as GetCostAndUsageResponse;

const ESTIMATE: Pick<Estimate, 'byService' | 'lineItems' | 'totalUsd'> = {
  byService: { streaming: 550, data: 415 },
  lineItems: [],
  totalUsd: 965,
};

function harness(send: CostExplorerSender['send']) {
  const out: string[] = [];
  const err: string[] = [];
  const inputs: GetCostAndUsageCommandInput[] = [];
  const estimated: string[] = [];
  const deps: ReviewDeps = {
    client: () => ({
      send: (command: GetCostAndUsageCommand) => {
        inputs.push(command.input);
        return send(command);
      },
    }),
    estimateFor: (stage) => {
      estimated.push(stage);
      return ESTIMATE;
    },
    now: () => new Date('2025-03-14T09:30:00Z'),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  };
  return { deps, out, err, inputs, estimated };
}

describe('parseArgs', () => {
  it('reads the flags with their defaults and rejects bad values', () => {
    expect(parseArgs(['--stage', 'prod', '--days', '30', '--json'])).toEqual({
      stage: 'prod',
      days: 30,
      granularity: 'DAILY',
      thresholds: { pct: 25, usd: 5 },
      json: true,
    });
    expect(
      parseArgs([
        '--stage=dev',
        '--days=7',
        '--granularity',
        'monthly',
        '--threshold-pct',
        '10',
        '--threshold-usd',
        '2.5',
      ]),
    ).toEqual({
      stage: 'dev',
      days: 7,
      granularity: 'MONTHLY',
      thresholds: { pct: 10, usd: 2.5 },
      json: false,
    });
    expect(parseArgs(['--help'])).toBeUndefined();
    expect(() => parseArgs(['--stage', 'qa'])).toThrow(/--stage must be one of/);
    expect(() => parseArgs(['--days', '0'])).toThrow(/--days must be 1\.\.365/);
    expect(() => parseArgs(['--days', '2.5'])).toThrow(/whole number/);
    expect(() => parseArgs(['--days', '400'])).toThrow(/--days must be 1\.\.365/);
    expect(() => parseArgs(['--granularity', 'HOURLY'])).toThrow(/DAILY or MONTHLY/);
    expect(() => parseArgs(['--threshold-pct', 'x'])).toThrow(/--threshold-pct/);
    expect(() => parseArgs(['--bogus'])).toThrow(/--bogus/);
  });
});

describe('main with a recorded Cost Explorer', () => {
  it('pages through both responses, prints the table and, with --json, JSON as the last line', async () => {
    const pages = [fixture('prod-daily-page1.json'), fixture('prod-daily-page2.json')];
    const h = harness(async () => {
      const page = pages.shift();
      if (!page) throw new Error('one request too many');
      return page;
    });
    const code = await main(['--stage', 'prod', '--days', '4', '--json'], h.deps);
    expect(h.err).toEqual([]);
    expect(code).toBe(0);
    expect(h.inputs).toHaveLength(2);
    expect(h.inputs[0]?.TimePeriod).toEqual({ Start: '2025-03-10', End: '2025-03-14' });
    expect(h.inputs[1]?.NextPageToken).toMatch(/\S/);
    expect(h.estimated).toEqual(['prod']);
    expect(h.out[0]).toMatch(/^Cost review — stage prod/);
    const last = JSON.parse(h.out.at(-1) ?? '') as {
      stage: string;
      totals: { forecastUsd: number; budgetUsd: number };
      outliers: { rule: string; service?: string }[];
    };
    expect(last.stage).toBe('prod');
    // The recorded month's $1,389 forecast fits the stage budget.
    const budgetUsd = loadStageConfig('prod').budget.monthlyLimitUsd;
    expect(budgetUsd).toBeGreaterThan(1389);
    expect(last.totals).toMatchObject({ forecastUsd: 1389, budgetUsd });
    expect(last.outliers.map((o) => `${o.rule}:${o.service ?? ''}`).sort()).toEqual([
      'deviation:cache', // $21 against no estimate here
      'deviation:data',
      'deviation:legacy-batch',
      'deviation:network',
      'deviation:outbox-relay',
      'untagged:',
    ]);
  });

  it('without --json the output has no JSON line', async () => {
    const h = harness(async () => fixture('prod-monthly.json'));
    expect(await main(['--stage', 'prod', '--granularity', 'MONTHLY'], h.deps)).toBe(0);
    expect(h.inputs[0]?.Granularity).toBe('MONTHLY');
    expect(h.out.join('\n')).not.toMatch(/^\{/m);
  });

  it('Cost Explorer errors end with a clear message and exit 1, before the synth', async () => {
    const unavailable = harness(async () => {
      throw new DataUnavailableException({ $metadata: {}, message: 'Data is not available.' });
    });
    expect(await main(['--stage', 'prod'], unavailable.deps)).toBe(1);
    expect(unavailable.err.join('\n')).toMatch(/^Cost Explorer has no data/);
    expect(unavailable.estimated).toEqual([]);

    const denied = harness(async () => {
      throw new CostExplorerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'not authorized to perform: ce:GetCostAndUsage',
      });
    });
    expect(await main(['--stage', 'prod'], denied.deps)).toBe(1);
    expect(denied.err.join('\n')).toMatch(/^Access denied by Cost Explorer/);

    const other = harness(async () => {
      throw new RangeError('odd');
    });
    expect(await main(['--stage', 'prod'], other.deps)).toBe(1);
    expect(other.err).toEqual(['cost:review failed: RangeError: odd']);
  });

  it('usage errors exit 2 with the usage line; --help exits 0', async () => {
    const h = harness(async () => fixture('prod-monthly.json'));
    expect(await main(['--stage', 'qa'], h.deps)).toBe(2);
    expect(h.err.join('\n')).toMatch(/--stage must be one of[\s\S]*usage: npm run cost:review/);
    expect(h.inputs).toEqual([]);
    expect(await main(['--help'], h.deps)).toBe(0);
    expect(h.out.at(-1)).toMatch(/^usage: npm run cost:review/);
  });
});

describe('defaultDeps.client', () => {
  it('is a Cost Explorer client in us-east-1 whatever AWS_REGION says', async () => {
    const saved = process.env.AWS_REGION;
    process.env.AWS_REGION = 'eu-west-1';
    try {
      const client = defaultDeps.client();
      expect(client).toBeInstanceOf(CostExplorerClient);
      expect(await (client as CostExplorerClient).config.region()).toBe('us-east-1');
    } finally {
      if (saved === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = saved;
    }
  });
});

describe('review-cli without AWS credentials', () => {
  it('exits non-zero with an actionable message and no stack trace', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('AWS_')) env[k] = v;
    }
    const missing = join(tmpdir(), `no-such-aws-dir-${process.pid}`);
    env.AWS_CONFIG_FILE = join(missing, 'config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(missing, 'credentials');
    // A closed local port: the metadata step runs and fails, and never reaches a real
    // instance role when the tests run on EC2.
    env.AWS_EC2_METADATA_SERVICE_ENDPOINT = 'http://127.0.0.1:9';
    const run = spawnSync(
      'npx',
      ['tsx', 'tools/operations/cost/review-cli.ts', '--stage', 'prod', '--days', '30'],
      {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.error).toBeUndefined();
    expect(run.status).not.toBe(0);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /No AWS credentials .*set AWS_PROFILE .*AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY.*ce:GetCostAndUsage/,
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).not.toMatch(/Cost review/);
  }, 90_000);
});
