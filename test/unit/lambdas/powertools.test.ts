import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

async function load() {
  vi.resetModules();
  // env.ts caches per module instance, so a fresh import reads the stubbed variables.
  return import('../../../lambdas/shared/powertools');
}

describe('powertools', () => {
  it('configures service, namespace and level from the environment', async () => {
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'order-consumer');
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'OrderPipeline/test');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'WARN');
    const { logger, metrics } = await load();
    expect(logger.getLevelName()).toBe('WARN');
    metrics.addMetric('Probe', 'Count', 1);
    const emf = metrics.serializeMetrics();
    metrics.clearMetrics();
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('OrderPipeline/test');
    expect(emf.service).toBe('order-consumer');
  });

  it('does not throw when flushing with no metrics', async () => {
    const { metrics } = await load();
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(() => metrics.publishStoredMetrics()).not.toThrow();
    } finally {
      write.mockRestore();
      warn.mockRestore();
    }
  });

  it('loads no Tracer outside Lambda: the X-Ray SDK and its async hook stay out of the process', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', '');
    const { tracer } = await load();
    expect(tracer).toBeUndefined();
  });

  it('has one enabled Tracer inside Lambda', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    const { tracer } = await load();
    expect(tracer?.isTracingEnabled()).toBe(true);
  });

  it('fails at load on an invalid log level', async () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'CHATTY');
    await expect(load()).rejects.toThrow(/POWERTOOLS_LOG_LEVEL/);
  });
});
