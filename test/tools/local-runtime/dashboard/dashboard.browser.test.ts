// The local dashboard in headless Chromium (Debian's chromium driven by playwright-core): the
// dashboard runs with its real probes on the local broker, PostgreSQL and Redis, a small feeder
// puts what the local run would put (app metrics, AWS/Lambda, AWS/S3), and every signal of
// buildSignals(dev) must show as a widget with its title, a plotted series and its thresholds.
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../../../lambdas/kafka-topics/ensure-topics';
import { parseKafkaEnv, parsePgEnv, parseRedisEnv } from '../../../../lambdas/shared/env';
import { buildSignals, type SignalDefinition } from '../../../../lib/config/signals';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { topicSpecs } from '../../../../lib/config/topics';
import {
  type LocalDashboard,
  startLocalDashboard,
} from '../../../../tools/local-runtime/dashboard';
import { signalMetrics } from '../../../../tools/local-runtime/dashboard/probes';
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
} from '../../../../tools/verification/prerequisites/chromium';
import { quietLogger, testKafka } from '../../../integration/support';

const config = loadStageConfig('dev');
const signals = buildSignals(config);
const PIPELINE_NAMESPACES = [config.observability.metricsNamespace, 'AWS/Lambda', 'AWS/S3'];

/**
 * Stands in for the local run: every period, each metric the signals read from the pipeline's
 * namespaces gets a datapoint. Consumer counters give a 2 % error rate (1 failed, 49 processed)
 * and latency samples 1..100 ms give p99 = 99, which the page must show after evaluation.
 */
function startFeeder(dashboard: LocalDashboard): () => void {
  const metrics = signals
    .flatMap(signalMetrics)
    .filter((m) => PIPELINE_NAMESPACES.includes(m.namespace));
  const feed = () => {
    const timestamp = Date.now();
    for (const m of metrics) {
      const values =
        m.metricName === 'EventsFailed'
          ? [1]
          : m.metricName === 'EventsProcessed'
            ? [49]
            : m.metricName === 'EndToEndLatency'
              ? Array.from({ length: 100 }, (_, i) => i + 1)
              : [0];
      for (const value of values) dashboard.store.put({ ...m, value, timestamp });
    }
  };
  feed();
  const timer = setInterval(feed, 250);
  return () => clearInterval(timer);
}

interface WidgetView {
  id: string;
  group: string | null;
  title: string | null;
  unit: string | null;
  points: number;
  seriesPoints: number;
  polyline: string;
  latest: string | null;
  origin: string | null;
  note: string | null;
  thresholds: Array<{ value: string | null; severity: string | null; label: string; y: number }>;
}

// Passed to the page as source text so no test-runner transform can touch the function.
const READ_WIDGETS = `Array.from(document.querySelectorAll('[data-signal-id]')).map((n) => ({
  id: n.getAttribute('data-signal-id'),
  group: n.closest('.grid') ? n.closest('.grid').getAttribute('data-group') : null,
  title: n.querySelector('[data-role="title"]')?.textContent ?? null,
  unit: n.querySelector('[data-role="unit"]')?.textContent ?? null,
  points: Number(n.getAttribute('data-points')),
  seriesPoints: Number(n.querySelector('[data-role="series"]')?.getAttribute('data-points')),
  polyline: n.querySelector('[data-role="series"]')?.getAttribute('points') ?? '',
  latest: n.getAttribute('data-latest'),
  origin: n.getAttribute('data-origin'),
  note: n.querySelector('[data-role="note"]')?.textContent ?? null,
  thresholds: Array.from(n.querySelectorAll('[data-role="threshold"]')).map((t) => ({
    value: t.getAttribute('data-threshold'),
    severity: t.getAttribute('data-severity'),
    label: t.textContent ?? '',
    y: Number(t.querySelector('line')?.getAttribute('y1')),
  })),
}))`;

async function readWidgets(page: Page): Promise<WidgetView[]> {
  return (await page.evaluate(READ_WIDGETS)) as WidgetView[];
}

describe('local dashboard page in headless Chromium', () => {
  let dashboard: LocalDashboard;
  let stopFeeder: () => void = () => undefined;
  let browser: Browser;
  let localBrokerIds: number[] = [];

  beforeAll(async () => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      // npm start creates the stage's topics before it serves the dashboard; so does this test,
      // so the lag probe reads the signal's own topic and consumer group.
      await ensureTopics(admin, topicSpecs(config, 1), { logger: quietLogger });
      localBrokerIds = (await admin.describeCluster()).brokers.map((b) => b.nodeId);
    } finally {
      await admin.disconnect();
    }
    dashboard = await startLocalDashboard({
      config,
      periodMs: 1_000,
      probes: {
        pgEnv: parsePgEnv(process.env),
        redisEnv: parseRedisEnv(process.env),
        kafkaEnv: parseKafkaEnv(process.env),
        logger: quietLogger,
      },
    });
    stopFeeder = startFeeder(dashboard);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    stopFeeder();
    await browser?.close();
    await dashboard?.close();
  });

  it('shows every alarmed signal with its title, a plotted series and each threshold', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await page.goto(dashboard.url);
    await expect.poll(() => page.getAttribute('#status', 'data-state')).toBe('live');

    // A metric of a broker id the local one-broker cluster lacks has no local analogue.
    const noAnalogue = (s: SignalDefinition) =>
      signalMetrics(s).some(
        (m) =>
          m.metricName === 'KafkaDataLogsDiskUsed' &&
          !localBrokerIds.includes(Number(m.dimensions['Broker ID'])),
      );
    const expectData = signals.filter((s) => !noAnalogue(s)).map((s) => s.id);
    // Wait until every signal with a local source has plotted at least two periods.
    await expect
      .poll(
        async () =>
          (await readWidgets(page))
            .filter((w) => w.points < 2)
            .map((w) => w.id)
            .filter((id) => expectData.includes(id)),
        { timeout: 60_000, interval: 500 },
      )
      .toEqual([]);

    const widgets = await readWidgets(page);
    const ordered = [
      ...signals.filter((s) => s.group === 'pipeline'),
      ...signals.filter((s) => s.group !== 'pipeline'),
    ];
    expect(widgets.map((w) => w.id)).toEqual(ordered.map((s) => s.id));

    for (const signal of signals) {
      const w = widgets.find((x) => x.id === signal.id);
      expect(w, signal.id).toBeDefined();
      if (!w) continue;
      expect(w.group, signal.id).toBe(signal.group);
      expect(w.title, signal.id).toBe(signal.title);
      expect(w.unit, signal.id).toBe(`[${signal.unit}]`);

      expect(w.thresholds, signal.id).toHaveLength(signal.thresholds.length);
      signal.thresholds.forEach((t, i) => {
        const drawn = w.thresholds[i];
        expect(drawn?.value, signal.id).toBe(String(t.value));
        expect(drawn?.severity, signal.id).toBe(t.severity);
        expect(drawn?.label, signal.id).toContain(`${t.severity} `);
        expect(drawn?.label, signal.id).toContain(t.value.toLocaleString('en-US'));
        // The line sits inside the 150-unit-high chart.
        expect(drawn?.y, signal.id).toBeGreaterThanOrEqual(0);
        expect(drawn?.y, signal.id).toBeLessThanOrEqual(150);
      });

      if (noAnalogue(signal)) {
        expect(w.origin, signal.id).toBe('none');
        expect(w.note, signal.id).toMatch(/^No local analogue: the local cluster has no broker/);
        expect(w.points, signal.id).toBe(0);
        continue;
      }
      expect(w.origin, signal.id).not.toBe('none');
      expect(w.seriesPoints, signal.id).toBe(w.points);
      const pairs = w.polyline.trim().split(/\s+/);
      expect(pairs, signal.id).toHaveLength(w.points);
      for (const pair of pairs) expect(pair, signal.id).toMatch(/^\d+(\.\d)?,\d+(\.\d)?$/);
      expect(Number.isFinite(Number(w.latest)), signal.id).toBe(true);
    }

    // Values the page shows after the store and the math evaluation: 100*1/(1+49), p99 of 1..100.
    // Polled: on a loaded machine the feeder's timer can miss a whole 1 s period, and the page
    // then shows that empty period (error rate 0) until the next refresh.
    const latest = async (id: string) =>
      Number((await readWidgets(page)).find((w) => w.id === id)?.latest);
    await expect.poll(() => latest('error-rate'), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => latest('end-to-end-latency'), { timeout: 10_000 }).toBe(99);
    // The strict CSP lets the inline script and style run and nothing else complains.
    expect(problems).toEqual([]);
    await page.close();
  });
});
