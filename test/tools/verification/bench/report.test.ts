import { describe, expect, it } from 'vitest';
import { PIPELINE_BUNDLING } from '../../../../lib/constructs/pipeline-function';
import { PARTS, parseBenchArgs } from '../../../../tools/verification/bench/args';
import { bytesByPackage, esbuildOptions } from '../../../../tools/verification/bench/bundles';
import {
  type BenchResult,
  formatTable,
  formatValue,
  jsonLine,
  ratiosOf,
  renderReport,
  targetResults,
} from '../../../../tools/verification/bench/report';

const figures = {
  relayEventsPerSec: 19_000,
  consumerEventsPerSec: 16_000,
  naiveConsumerEventsPerSec: 2_000,
  e2eP50Ms: 20,
  e2eP95Ms: 150,
  e2eP99Ms: 190,
  e2eFailedWritesAt500: 0,
  e2eFailedWritesAt1000: 12,
  debeziumEventsPerSec: 10_000,
  relayCommitToTopicP95Ms: 30,
  debeziumCommitToTopicP95Ms: 20,
  peers: {
    relay: {
      eventsPerSec: 12_000,
      commitToTopicP50Ms: 5,
      commitToTopicP95Ms: 30,
      commitToTopicP99Ms: 40,
    },
    debezium: {
      eventsPerSec: 10_000,
      commitToTopicP50Ms: 10,
      commitToTopicP95Ms: 20,
      commitToTopicP99Ms: 25,
    },
  },
  bundleBytes: { orderApi: 900_000, orderConsumer: 1_500_000 },
  coldInitMs: { orderApi: 250 },
  peakRssMb: { orderConsumer: 128 },
  rawLimits: {
    claimMarkRowsPerSec: 38_000,
    batchedUpdateRowsPerSec: 40_000,
    pipelinedSetNxOpsPerSec: 128_000,
    singleTxPerSec: 2_500,
  },
};

describe('ratios', () => {
  it('each project figure over its raw limit, and consumer over naive', () => {
    expect(ratiosOf(figures)).toEqual({
      relayToClaimMark: 0.5,
      consumerToBatchedUpdate: 0.4,
      consumerToPipelinedSetNx: 0.125,
      naiveConsumerToSingleTx: 0.8,
      consumerVsNaive: 8,
      // The peers run's own relay figure, not the relay part's: the same method as Debezium's.
      relayVsDebeziumThroughput: 1.2,
      relayVsDebeziumP95: 1.5,
    });
  });

  it('leaves out ratios whose figure or limit is missing', () => {
    const { peers: _peers, ...withoutPeers } = figures;
    expect(
      ratiosOf({
        ...withoutPeers,
        relayEventsPerSec: null,
        rawLimits: { singleTxPerSec: 2_500 },
        debeziumEventsPerSec: null,
        debeziumCommitToTopicP95Ms: null,
      }),
    ).toEqual({ naiveConsumerToSingleTx: 0.8, consumerVsNaive: 8 });
  });
});

describe('targets', () => {
  const byName = new Map(targetResults(figures).map((t) => [t.name, t]));

  it('checks every measured figure against its target', () => {
    expect(byName.get('relayEventsPerSec')).toMatchObject({
      met: false,
      missedBy: 1_000,
      missedByPercent: 5,
      bound: 20_000,
    });
    expect(byName.get('consumerEventsPerSec')?.met).toBe(true);
    expect(byName.get('relayToClaimMark')).toMatchObject({ value: 0.5, met: false, bound: 0.6 });
    expect(byName.get('consumerToBatchedUpdate')).toMatchObject({ value: 0.4, met: true });
    expect(byName.get('consumerVsNaive')).toMatchObject({ value: 8, met: false, missedBy: 2 });
    expect(byName.get('relayVsDebeziumThroughput')).toMatchObject({ value: 1.2, met: true });
    expect(byName.get('relayVsDebeziumP95')).toMatchObject({ value: 1.5, met: false });
    expect(byName.get('e2eP95Ms')).toMatchObject({ met: false, missedBy: 50, missedByPercent: 50 });
    expect(byName.get('e2eP99Ms')?.met).toBe(true);
    expect(byName.get('e2eFailedWritesAt500')).toMatchObject({ value: 0, met: true });
    expect(byName.get('e2eFailedWritesAt1000')).toMatchObject({
      met: false,
      missedBy: 12,
      missedByPercent: 100,
    });
    expect(byName.get('bundleBytes.orderConsumer')).toMatchObject({
      met: false,
      missedBy: 500_000,
      missedByPercent: 50,
    });
    expect(byName.get('bundleBytes.orderApi')?.met).toBe(true);
    expect(byName.get('coldInitMs.orderApi')?.met).toBe(true);
    expect(byName.get('peakRssMb.orderConsumer')?.met).toBe(true);
  });

  it('has no entry for what was not measured (p50 has no target)', () => {
    expect(byName.has('coldInitMs.dlqTriage')).toBe(false);
    expect(byName.has('e2eP50Ms')).toBe(false);
    expect(byName.size).toBe(15);
  });
});

describe('rendering', () => {
  it('pads columns: first left-aligned, others right-aligned', () => {
    expect(
      formatTable(
        ['name', 'value'],
        [
          ['a', '1'],
          ['long name', '22,000'],
        ],
      ),
    ).toBe(
      ['name        value', '---------  ------', 'a               1', 'long name  22,000'].join(
        '\n',
      ),
    );
  });

  it('formats values by unit', () => {
    expect(formatValue(19_999.6, 'events/s')).toBe('20,000 events/s');
    expect(formatValue(1_500_000, 'B')).toBe('1,500,000 B');
    expect(formatValue(41.96, 'ms')).toBe('42.0 ms');
    expect(formatValue(8, '×')).toBe('8.00×');
    expect(formatValue(null, 'ms')).toBe('n/a');
  });

  const result: BenchResult = {
    date: '2026-11-22T00:00:00.000Z',
    mode: 'quick',
    stage: 'dev',
    machine: {
      cpuModel: 'Test CPU',
      cores: 2,
      memoryGiB: 8,
      os: 'Linux',
      node: 'v20.0.0',
      postgres: '15.0',
      postgresSettings: {},
      redis: '7.0.0',
      kafka: '4.0.2',
      loadAverage1m: 0.5,
    },
    ...figures,
    ratios: ratiosOf(figures),
    targets: targetResults(figures),
    details: {},
    warnings: ['e2e: writes failed at the offered rate'],
    errors: ['e2e: something'],
  };

  it('the report names each missed target with its shortfall', () => {
    const text = renderReport(result);
    expect(text).toContain('MISSED by 1,000 events/s (5 %)');
    expect(text).toContain('MISSED by 50.0 ms (50 %)');
    expect(text).toContain('MISSED by 12 writes\n');
    expect(text).toMatch(/Debezium outbox router \(drain\)\s+10,000 events\/s/);
    expect(text).toMatch(/relay ÷ Debezium, p95\s+1\.50×\s+≤ 1\.00×\s+MISSED/);
    expect(text).toContain('bundleBytes +50 %');
    expect(text).toContain('8 of 15 targets met; 1 part(s) not measured:');
    expect(text).toContain('  - e2e: something');
    expect(text).toContain('notes:\n  - e2e: writes failed at the offered rate');
  });

  it('the JSON line is one line that parses back to the result with the issue keys', () => {
    const line = jsonLine(result);
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    for (const key of [
      'relayEventsPerSec',
      'consumerEventsPerSec',
      'naiveConsumerEventsPerSec',
      'e2eP50Ms',
      'e2eP95Ms',
      'e2eP99Ms',
      'e2eFailedWritesAt500',
      'e2eFailedWritesAt1000',
      'debeziumEventsPerSec',
      'relayCommitToTopicP95Ms',
      'debeziumCommitToTopicP95Ms',
      'bundleBytes',
      'coldInitMs',
      'peakRssMb',
      'rawLimits',
      'ratios',
    ]) {
      expect(parsed).toHaveProperty(key);
    }
    expect(parsed.bundleBytes).toEqual({ orderApi: 900_000, orderConsumer: 1_500_000 });
  });
});

describe('arguments', () => {
  it('defaults: table only, full sizes, dev, every part', () => {
    expect(parseBenchArgs([])).toEqual({
      json: false,
      quick: false,
      stage: 'dev',
      parts: [...PARTS],
      keep: false,
      peers: false,
      help: false,
    });
  });

  it('--json --quick --only keeps the canonical part order', () => {
    const args = parseBenchArgs(['--json', '--quick', '--only', 'bundles,relay']);
    expect(args).toMatchObject({ json: true, quick: true, parts: ['relay', 'bundles'] });
    expect(parseBenchArgs(['--peers']).peers).toBe(true);
  });

  it('rejects unknown parts, stages and flags', () => {
    expect(() => parseBenchArgs(['--only', 'relay,disk'])).toThrow(/unknown: disk/);
    expect(() => parseBenchArgs(['--stage', 'test'])).toThrow(/--stage/);
    expect(() => parseBenchArgs(['--fast'])).toThrow();
  });
});

describe('bundles', () => {
  it('maps the construct options onto esbuild as aws-lambda-nodejs does', () => {
    const options = esbuildOptions(PIPELINE_BUNDLING, '/repo/lambdas/x/handler.ts', '/out/x');
    expect(options).toMatchObject({
      entryPoints: ['/repo/lambdas/x/handler.ts'],
      bundle: true,
      outfile: '/out/x/index.mjs',
      target: 'node22',
      platform: 'node',
      format: 'esm',
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      mainFields: ['module', 'main'],
      external: ['bowser'],
    });
    expect(options.banner?.js).toContain('createRequire');
  });

  it('adds up output bytes per package, project code apart, largest first', () => {
    const metafile = {
      inputs: {},
      outputs: {
        'out/x/index.mjs': {
          bytes: 160,
          imports: [],
          exports: [],
          entryPoint: 'lambdas/x/handler.ts',
          inputs: {
            'lambdas/x/handler.ts': { bytesInOutput: 10 },
            'node_modules/zod/v4/core/schemas.js': { bytesInOutput: 50 },
            'node_modules/zod/v4/locales/he.js': { bytesInOutput: 40 },
            'node_modules/@redis/client/dist/index.js': { bytesInOutput: 60 },
          },
        },
      },
    };
    expect(bytesByPackage(metafile, 'out/x/index.mjs')).toEqual([
      ['zod', 90],
      ['@redis/client', 60],
      ['(project)', 10],
    ]);
  });
});
