// Per-event X-Ray subsegments for the consumer on Lambda. The MSK event source mapping starts
// each invocation's own trace (Lambda reads no trace context from Kafka records), so an event's
// work cannot be a child of the order API call's trace. Instead each sampled event gets a
// subsegment annotated with the origin trace id in X-Ray form: the filter expression
// `annotation.orderTraceId = "1-…"` finds it from the order's trace (docs/OPERATIONS.md).
import type { OrderEvent } from '../shared/events/envelope';
import { toXRayTraceId } from '../shared/tracing/trace-context';
import type { EventSpan, EventTracing } from './consumer';

/** The X-Ray SDK's (sub)segment, as much of it as is used here. */
export interface XRaySubsegmentLike {
  addAnnotation(key: string, value: string | number | boolean): void;
  addError(error: Error | string): void;
  close(): void;
}

export interface XRaySegmentLike {
  addNewSubsegment(name: string): XRaySubsegmentLike;
}

/** The annotation that joins the consumer's work to the order API call's trace. */
export const ORIGIN_TRACE_ANNOTATION = 'orderTraceId';

/**
 * Subsegments under the invocation's current (handler) segment. Never made the active segment:
 * partitions run concurrently, and only the handler's own context is safe to set.
 */
export function xrayEventTracing(current: () => XRaySegmentLike | undefined): EventTracing {
  return {
    start(event: OrderEvent, traceId: string): EventSpan | undefined {
      const parent = current();
      if (parent === undefined) return undefined;
      const sub = parent.addNewSubsegment('order-event');
      sub.addAnnotation(ORIGIN_TRACE_ANNOTATION, toXRayTraceId(traceId));
      sub.addAnnotation('eventId', event.eventId);
      sub.addAnnotation('eventType', event.eventType);
      sub.addAnnotation('orderId', event.aggregateId);
      return {
        end(outcome, error) {
          sub.addAnnotation('outcome', outcome);
          if (error !== undefined) sub.addError(error instanceof Error ? error : String(error));
          sub.close();
        },
      };
    },
  };
}
