import { describe, expect, it } from 'vitest';
import { buildSignals, isMathSpec, type SignalDefinition } from '../../../../lib/config/signals';
import { loadStageConfig, STAGES } from '../../../../lib/config/stage-config';
import { compileSignal, signalSeries } from '../../../../tools/local-runtime/dashboard/evaluate';
import {
  evaluateMetricMath,
  MetricMathError,
  parseMetricMath,
} from '../../../../tools/local-runtime/dashboard/metric-math';
import { MetricStore } from '../../../../tools/local-runtime/dashboard/store';

const u = undefined;

function evaluate(expression: string, metrics: Record<string, (number | undefined)[]>) {
  const length = Object.values(metrics)[0]?.length ?? 1;
  return evaluateMetricMath(parseMetricMath(expression, Object.keys(metrics)), metrics, length);
}

describe('metric math parser', () => {
  it.each(STAGES)('parses every expression of the %s signals', (stage) => {
    const math = buildSignals(loadStageConfig(stage)).filter((s) => isMathSpec(s.source));
    expect(math.map((s) => s.id)).toEqual(['circuit-breaker-open', 'error-rate']);
    for (const signal of math) expect(compileSignal(signal)).toBeDefined();
  });

  it('builds the tree with the usual precedence', () => {
    expect(parseMetricMath('a + 2 * b', ['a', 'b'])).toEqual({
      kind: 'binary',
      op: '+',
      left: { kind: 'metric', id: 'a' },
      right: {
        kind: 'binary',
        op: '*',
        left: { kind: 'number', value: 2 },
        right: { kind: 'metric', id: 'b' },
      },
    });
    expect(evaluate('(a + 2) * 3 - 4 / 2', { a: [1] })).toEqual([7]);
    expect(evaluate('-a - -1', { a: [5] })).toEqual([-4]);
    expect(evaluate('FILL(a, -1.5)', { a: [u, 2] })).toEqual([-1.5, 2]);
  });

  it.each([
    ['SUM([a, b])', /unsupported function SUM/],
    ['IF(a, b)', /unsupported function IF/],
    ['METRICS()', /unsupported function METRICS/],
    ['FILL(a, REPEAT)', /FILL value .* must be a number/],
    ['FILL(a, b)', /FILL value .* must be a number/],
    ['MAX(a)', /MAX takes an array/],
    ['a ^ 2', /unsupported character "\^"/],
    ['a > b', /unsupported character ">"/],
    ["a + 'x'", /unsupported character "'"/],
    ['a +', /unexpected end of expression/],
    ['(a + b', /expected "\)", found end of expression/],
    ['a b', /unexpected "b" after the expression/],
    ['MAX([a, b)', /expected "\]"/],
    ['c + a', /unknown metric id "c"/],
    ['', /unexpected end of expression/],
  ])('rejects %s', (expression, message) => {
    const parse = () => parseMetricMath(expression, ['a', 'b']);
    expect(parse).toThrow(MetricMathError);
    expect(parse).toThrow(message);
  });
});

describe('metric math evaluation over aligned periods', () => {
  const errorRate = '100 * FILL(failed, 0) / MAX([FILL(failed, 0) + FILL(processed, 0), 1])';

  it('evaluates the error-rate expression with FILL and MAX', () => {
    // Periods: both present; only processed; only failed; neither.
    const result = evaluate(errorRate, {
      failed: [2, u, 3, u],
      processed: [98, 50, u, u],
    });
    // 100*2/100 = 2; 100*0/50 = 0; 100*3/MAX(3,1) = 100; 100*0/MAX(0,1) = 0.
    expect(result).toEqual([2, 0, 100, 0]);
  });

  it('gives a sum of series only where every series has a value (as CloudWatch does)', () => {
    expect(
      evaluate('relay + consumer + triage', {
        relay: [1, 1, u, 0],
        consumer: [2, u, u, 0],
        triage: [3, 1, 1, 0],
      }),
    ).toEqual([6, u, u, 0]);
  });

  it('drops division by zero and takes MAX of present values', () => {
    expect(evaluate('a / b', { a: [1, 1, u], b: [0, 4, 2] })).toEqual([u, 0.25, u]);
    expect(evaluate('MAX([a, b, 2])', { a: [1, u, u], b: [5, u, 1] })).toEqual([5, 2, 2]);
    expect(evaluate('MAX([a, b])', { a: [u], b: [u] })).toEqual([u]);
  });

  it('refuses series of the wrong length', () => {
    const node = parseMetricMath('a', ['a']);
    expect(() => evaluateMetricMath(node, { a: [1, 2] }, 3)).toThrow(/2 periods, expected 3/);
  });
});

describe('signal series from the store', () => {
  const T0 = 1_700_000_000_000;
  const config = loadStageConfig('dev');
  const signals = buildSignals(config);
  const byId = (id: string): SignalDefinition => {
    const s = signals.find((x) => x.id === id);
    if (!s) throw new Error(`no signal ${id}`);
    return s;
  };

  it('evaluates the error rate per period from the consumer counters, filling empty periods', () => {
    const clock = { now: T0 };
    const store = new MetricStore({ periodMs: 5_000, now: () => clock.now });
    const signal = byId('error-rate');
    if (!isMathSpec(signal.source)) throw new Error('error-rate is a math signal');
    const { failed, processed } = signal.source.usingMetrics;
    if (!failed || !processed) throw new Error('error-rate reads failed and processed');
    store.put({ ...failed, value: 1, timestamp: T0 + 10 });
    store.put({ ...failed, value: 2, timestamp: T0 + 20 });
    store.put({ ...processed, value: 57, timestamp: T0 + 30 });
    store.put({ ...processed, value: 40, timestamp: T0 + 10_010 });
    clock.now = T0 + 14_000;
    // Period 1: 100*3/60 = 5; period 2: nothing (0); period 3: 100*0/40 = 0.
    expect(signalSeries(signal, store)).toEqual([
      { t: T0, v: 5 },
      { t: T0 + 5_000, v: 0 },
      { t: T0 + 10_000, v: 0 },
    ]);
  });

  it('reads a plain metric with the statistic of its definition', () => {
    const clock = { now: T0 };
    const store = new MetricStore({ periodMs: 5_000, now: () => clock.now });
    const signal = byId('end-to-end-latency');
    if (isMathSpec(signal.source)) throw new Error('latency is a metric signal');
    for (let v = 1; v <= 200; v++) store.put({ ...signal.source, value: v, timestamp: T0 });
    expect(signal.source.statistic).toBe('p99');
    expect(signalSeries(signal, store)).toEqual([{ t: T0, v: 198 }]);
  });
});
