// The EMF the real Powertools Metrics instance (lambdas/shared/powertools.ts) prints, captured
// from stdout as CloudWatch Logs would read it, validated line by line against the embedded
// metric format specification; metric names must come from the catalog the alarms read.
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { METRIC_DIMENSION, METRICS, SERVICES } from '../../lambdas/shared/metrics-catalog';
import { loadStageConfig } from '../../lib/config/stage-config';
import { createTestDatabase, type TestDatabase } from '../integration/support';
import { fixture, lambdaContext } from './fixtures';
import { emfDocumentSchema, issuePaths } from './shapes';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type Powertools = typeof import('../../lambdas/shared/powertools');
type EmfDoc = {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit?: string; StorageResolution?: number }>;
    }>;
  };
} & Record<string, unknown>;

const CATALOG: readonly string[] = Object.values(METRICS);
const NAMESPACE = loadStageConfig('dev').observability.metricsNamespace;
const SERVICE_NAMES: readonly string[] = Object.values(SERVICES);

let db: TestDatabase;
let handler: Handler;
let powertools: Powertools;
let closePool: () => Promise<void>;

beforeAll(async () => {
  db = await createTestDatabase('emf_contract');
  for (const [name, value] of Object.entries(db.envVars)) vi.stubEnv(name, value);
  // As the stack sets them on the function (lib/constructs/pipeline-function.ts): the service
  // name per function and the stage's metrics namespace.
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', SERVICES.orderApi);
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', NAMESPACE);
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_DEV', 'false');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  vi.resetModules();
  powertools = await import('../../lambdas/shared/powertools');
  ({ handler } = await import('../../lambdas/order-api/handler'));
  ({ closePool } = await import('../../lambdas/shared/db/pool'));
});

afterAll(async () => {
  await closePool?.();
  await db?.drop();
  vi.unstubAllEnvs();
});

/** Runs `work` with stdout captured; returns the lines written meanwhile. */
async function stdoutLines(work: () => Promise<unknown>): Promise<string[]> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return true;
  });
  try {
    await work();
  } finally {
    write.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** Every line that is an EMF document (has `_aws`), each validated against the spec. */
function emfDocuments(lines: readonly string[]): EmfDoc[] {
  const docs: EmfDoc[] = [];
  for (const line of lines) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // not JSON: not an EMF document
    }
    if (typeof parsed !== 'object' || parsed === null || !('_aws' in parsed)) continue;
    const result = emfDocumentSchema.safeParse(parsed);
    expect(result.error?.issues ?? [], `EMF line: ${line}`).toEqual([]);
    docs.push(parsed as EmfDoc);
  }
  return docs;
}

function metricNames(doc: EmfDoc): string[] {
  return doc._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));
}

describe('EMF printed by the order-api handler', () => {
  it('prints one valid EMF document per request that counts, with catalog names', async () => {
    const post = fixture('apigw-http-v2-post-orders.json') as unknown as APIGatewayProxyEventV2;
    const broken = { ...post, body: JSON.stringify({ customerId: 'c-1' }) };
    const health = fixture('apigw-http-v2-get-health.json') as unknown as APIGatewayProxyEventV2;
    const statuses: number[] = [];

    const lines = await stdoutLines(async () => {
      for (const event of [post, broken, health]) {
        statuses.push((await handler(event, lambdaContext('order-api'))).statusCode ?? 0);
      }
    });

    expect(statuses).toEqual([202, 400, 200]);
    const docs = emfDocuments(lines);
    // The health check counts nothing; an empty flush prints no document.
    expect(docs.map(metricNames)).toEqual([
      [METRICS.orderRequestsAccepted],
      [METRICS.orderRequestsRejected],
    ]);
    const before = Date.now();
    for (const doc of docs) {
      for (const name of metricNames(doc)) expect(CATALOG).toContain(name);
      const [directive] = doc._aws.CloudWatchMetrics;
      expect(directive?.Namespace).toBe(NAMESPACE);
      expect(directive?.Dimensions).toEqual([[METRIC_DIMENSION]]);
      expect(doc[METRIC_DIMENSION]).toBe(SERVICES.orderApi);
      expect(directive?.Metrics.every((m) => m.Unit === 'Count')).toBe(true);
      expect(before - doc._aws.Timestamp).toBeLessThan(60_000);
    }
  });
});

describe('EMF printed by the shared Powertools Metrics instance', () => {
  it('every catalog metric serialises to a valid document', async () => {
    const { metrics } = powertools;
    const lines = await stdoutLines(async () => {
      for (const name of CATALOG) metrics.addMetric(name, 'Count', 1);
      metrics.publishStoredMetrics();
    });
    const docs = emfDocuments(lines);
    expect(docs).toHaveLength(1);
    expect(metricNames(docs[0] as EmfDoc).sort()).toEqual([...CATALOG].sort());
  });

  it('repeated values become an array, high resolution becomes StorageResolution 1', async () => {
    const { metrics } = powertools;
    const lines = await stdoutLines(async () => {
      metrics.addMetric(METRICS.publishDuration, 'Milliseconds', 12.5);
      metrics.addMetric(METRICS.publishDuration, 'Milliseconds', 7);
      metrics.addMetric(METRICS.eventsPublished, 'Count', 3, 1);
      metrics.publishStoredMetrics();
    });
    const [doc, ...rest] = emfDocuments(lines);
    expect(rest).toEqual([]);
    expect(doc?.[METRICS.publishDuration]).toEqual([12.5, 7]);
    expect(doc?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: METRICS.publishDuration, Unit: 'Milliseconds' },
      { Name: METRICS.eventsPublished, Unit: 'Count', StorageResolution: 1 },
    ]);
  });

  it('a document that breaks the spec is caught by the same check', async () => {
    const { metrics } = powertools;
    const lines = await stdoutLines(async () => {
      metrics.addMetric(METRICS.parked, 'Count', 1);
      metrics.publishStoredMetrics();
    });
    const [line] = lines.filter((l) => l.includes('"_aws"'));
    const doc = JSON.parse(line ?? '{}') as EmfDoc;
    delete doc[METRICS.parked];
    expect(issuePaths(emfDocumentSchema.safeParse(doc))).toEqual([
      '_aws.CloudWatchMetrics.0.Metrics.0.Name',
    ]);
  });
});

describe('the EMF example fixture', () => {
  it('is valid EMF and names only catalog metrics and a known service', () => {
    const doc = fixture<EmfDoc>('emf-metrics.json');
    expect(emfDocumentSchema.safeParse(doc).error?.issues ?? []).toEqual([]);
    for (const name of metricNames(doc)) expect(CATALOG).toContain(name);
    expect(SERVICE_NAMES).toContain(doc[METRIC_DIMENSION]);
  });
});
