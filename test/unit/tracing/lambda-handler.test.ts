// The Powertools Tracer around the handlers, with the real Tracer and X-Ray SDK: enabled as in
// Lambda (AWS_EXECUTION_ENV), under a segment set by hand where Lambda would give a facade one.
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { Segment, type Subsegment } from 'aws-xray-sdk-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { xrayEventTracing } from '../../../lambdas/order-consumer/event-tracing';
import { captureLambdaHandler } from '../../../lambdas/shared/tracing/lambda-handler';
import { orderEvent } from '../../../tools/fixtures/order-events';

const context = {} as Context;

beforeEach(() => {
  vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
  vi.stubEnv('_HANDLER', 'index.handler');
  // No daemon here: segments are inspected, never sent.
  vi.stubEnv('AWS_XRAY_CONTEXT_MISSING', 'IGNORE_ERROR');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** Runs `work` with `segment` as the current one, as Lambda's facade segment would be. */
function under<T>(tracer: Tracer, segment: Segment, work: () => Promise<T>): Promise<T> {
  const ns = tracer.provider.getNamespace();
  return ns.runAndReturn(() => {
    tracer.setSegment(segment);
    return work();
  });
}

const annotationsOf = (s: Subsegment | undefined) =>
  (s as unknown as { annotations?: Record<string, unknown> } | undefined)?.annotations ?? {};
/** The fault flag the SDK sets on a subsegment that recorded an error. */
const faulted = (s: Subsegment | undefined) =>
  (s as unknown as { fault?: boolean } | undefined)?.fault === true;

describe('captureLambdaHandler', () => {
  it('returns the handler itself when there is no Tracer (outside Lambda)', () => {
    const handler = async () => 'ok';
    expect(captureLambdaHandler(undefined, handler)).toBe(handler);
  });

  it('runs the handler in its own "## <handler>" subsegment, annotated and closed', async () => {
    const tracer = new Tracer({ serviceName: 'order-api' });
    expect(tracer.isTracingEnabled()).toBe(true);
    const segment = new Segment('test');
    const traced = captureLambdaHandler(tracer, async (event: { n: number }) => ({
      twice: event.n * 2,
    }));

    expect(await under(tracer, segment, () => traced({ n: 21 }, context))).toEqual({ twice: 42 });
    const [sub] = segment.subsegments ?? [];
    expect(sub?.name).toBe('## index.handler');
    expect(annotationsOf(sub)).toMatchObject({
      ColdStart: expect.any(Boolean),
      Service: 'order-api',
    });
    expect(sub?.isClosed()).toBe(true);
  });

  it('records a thrown error on the subsegment and rethrows it', async () => {
    const tracer = new Tracer({ serviceName: 'outbox-relay' });
    const segment = new Segment('test');
    const boom = new Error('broker down');
    const traced = captureLambdaHandler(tracer, async () => {
      throw boom;
    });
    await expect(under(tracer, segment, () => traced({}, context))).rejects.toBe(boom);
    const [sub] = segment.subsegments ?? [];
    expect(faulted(sub)).toBe(true);
    expect(sub?.isClosed()).toBe(true);
  });

  it("gives each sampled event its own subsegment under the handler's, tagged with the origin trace", async () => {
    const tracer = new Tracer({ serviceName: 'order-consumer' });
    const segment = new Segment('test');
    const tracing = xrayEventTracing(() => tracer.getSegment());
    const event = orderEvent('OrderPlaced', 'o-traced', 0);
    const traced = captureLambdaHandler(tracer, async () => {
      // Two events at once, as two partitions would run: neither becomes the current segment.
      const a = tracing.start(event, '4efaaf4d1e8720b39541901950019ee5');
      const b = tracing.start(event, '5759e988bd862e3fe1be46a994272793');
      a?.end('applied');
      b?.end('dead-letter', new Error('invalid transition'));
      return tracer.getSegment()?.name;
    });

    // The handler's subsegment stayed current throughout.
    expect(await under(tracer, segment, () => traced({}, context))).toBe('## index.handler');
    const events = segment.subsegments?.[0]?.subsegments ?? [];
    expect(events.map((s) => s.name)).toEqual(['order-event', 'order-event']);
    expect(annotationsOf(events[0])).toEqual({
      orderTraceId: '1-4efaaf4d-1e8720b39541901950019ee5',
      eventId: event.eventId,
      eventType: 'OrderPlaced',
      orderId: 'o-traced',
      outcome: 'applied',
    });
    expect(annotationsOf(events[1])).toMatchObject({
      orderTraceId: '1-5759e988-bd862e3fe1be46a994272793',
      outcome: 'dead-letter',
    });
    expect(faulted(events[1])).toBe(true);
    expect(faulted(events[0])).toBe(false);
    expect(events.every((s) => s.isClosed())).toBe(true);
  });
});

describe('xrayEventTracing', () => {
  it('opens nothing when there is no current segment', () => {
    const tracing = xrayEventTracing(() => undefined);
    expect(tracing.start(orderEvent('OrderPlaced', 'o', 0), 'ab'.repeat(16))).toBeUndefined();
  });
});
