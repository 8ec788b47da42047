// W3C trace context (`traceparent`) for one order's events across the asynchronous hop: the
// order API decides it per request, the outbox row's headers carry it to the Kafka record, and
// the relay and consumer log its trace id. Pure: no environment reads, randomness injectable.
import { randomBytes } from 'node:crypto';

/** The Kafka header (and HTTP request header) that carries the context. */
export const TRACEPARENT_HEADER = 'traceparent';

export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** The span the next hop continues from: 16 lower-case hex digits, not all zero. */
  readonly spanId: string;
  /** The sampled flag (bit 0 of trace-flags). */
  readonly sampled: boolean;
}

/** What new ids are made of; tests pass fixed ones. */
export interface TraceIds {
  readonly randomHex: (bytes: number) => string;
  readonly nowMs: () => number;
}

export const SYSTEM_TRACE_IDS: TraceIds = {
  randomHex: (bytes) => randomBytes(bytes).toString('hex'),
  nowMs: Date.now,
};

// Far above any valid header; hostile input is rejected before a regex looks at it.
const MAX_HEADER_CHARS = 512;
const HEX_PAIR = /^[0-9a-f]{2}$/;
const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
// A later version may append fields after a dash (W3C Trace Context, "Versioning of traceparent").
const LATER_VERSION = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/s;
const ALL_ZERO = /^0+$/;

/**
 * A `traceparent` value per W3C Trace Context level 1, or undefined when it is not valid (the
 * caller then starts a new trace): lower-case hex only, version ff invalid, version 00 exactly
 * 55 characters, neither id all zeros. Surrounding spaces or tabs (HTTP OWS) are ignored.
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string' || value.length > MAX_HEADER_CHARS) return undefined;
  const header = value.replace(/^[ \t]+|[ \t]+$/g, '');
  const version = header.slice(0, 2);
  if (!HEX_PAIR.test(version) || version === 'ff') return undefined;
  const match = (version === '00' ? VERSION_00 : LATER_VERSION).exec(header);
  if (match === null) return undefined;
  const [, traceId = '', spanId = '', flags = ''] = match;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** Always version 00; only the sampled flag is carried (the other bits are not defined in 00). */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

/** An X-Ray trace header's fields (Root, Parent, Sampled); Parent may be absent. */
export interface XRayTraceHeader {
  readonly traceId: string;
  readonly parentId: string | undefined;
  readonly sampled: boolean;
}

const XRAY_ROOT = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * Reads `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>` (Lambda's `_X_AMZN_TRACE_ID`),
 * fields in any order, others ignored. The mapping to W3C is AWS's, from the X-Ray Developer
 * Guide, "Sending trace data to AWS X-Ray" (Generating trace IDs: W3C trace id
 * 4efaaf4d1e8720b39541901950019ee5 is X-Ray 1-4efaaf4d-1e8720b39541901950019ee5) and "AWS X-Ray
 * concepts" (Tracing header): trace id = Root without "1-" and dashes, span id = Parent,
 * sampled = Sampled=1 (a deferred "?" counts as not sampled).
 */
export function parseXRayTraceHeader(value: unknown): XRayTraceHeader | undefined {
  if (typeof value !== 'string' || value.length > MAX_HEADER_CHARS) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const root = XRAY_ROOT.exec(fields.get('Root') ?? '');
  if (root === null) return undefined;
  const traceId = `${root[1]}${root[2]}`;
  if (ALL_ZERO.test(traceId)) return undefined;
  const parent = fields.get('Parent');
  const parentId = parent !== undefined && SPAN_ID.test(parent) && !ALL_ZERO.test(parent);
  return {
    traceId,
    parentId: parentId ? parent : undefined,
    sampled: fields.get('Sampled') === '1',
  };
}

/** The X-Ray form of a W3C trace id: what X-Ray's console and filter expressions take. */
export function toXRayTraceId(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

/** A span id that is not all zeros (8 random bytes). */
export function newSpanId(ids: TraceIds = SYSTEM_TRACE_IDS): string {
  for (;;) {
    const id = ids.randomHex(8);
    if (SPAN_ID.test(id) && !ALL_ZERO.test(id)) return id;
  }
}

/**
 * A new trace, sampled. Its first 8 hex digits are the epoch seconds, so it is a valid X-Ray
 * trace id too (X-Ray reads them as the trace's start time).
 */
export function newTraceContext(ids: TraceIds = SYSTEM_TRACE_IDS): TraceContext {
  const seconds = Math.floor(ids.nowMs() / 1000) >>> 0;
  return {
    traceId: `${seconds.toString(16).padStart(8, '0')}${ids.randomHex(12)}`,
    spanId: newSpanId(ids),
    sampled: true,
  };
}

export type TraceSource = 'xray' | 'traceparent' | 'new';

export interface RequestTrace {
  readonly context: TraceContext;
  readonly source: TraceSource;
  /** The caller's valid `traceparent` trace id when the X-Ray context took precedence. */
  readonly callerTraceId?: string;
}

/**
 * One request's context: the Lambda's X-Ray context when present (the API call's own trace, so
 * the hop continues it), else the caller's valid `traceparent` under a new span id, else a new
 * trace. A caller cannot force sampling on Lambda: X-Ray's decision wins there.
 */
export function requestTraceContext(
  input: { readonly xrayHeader?: string | undefined; readonly traceparent?: string | null },
  ids: TraceIds = SYSTEM_TRACE_IDS,
): RequestTrace {
  const caller = parseTraceparent(input.traceparent ?? undefined);
  const xray = parseXRayTraceHeader(input.xrayHeader);
  if (xray !== undefined) {
    const context = {
      traceId: xray.traceId,
      spanId: xray.parentId ?? newSpanId(ids),
      sampled: xray.sampled,
    };
    return caller !== undefined && caller.traceId !== xray.traceId
      ? { context, source: 'xray', callerTraceId: caller.traceId }
      : { context, source: 'xray' };
  }
  if (caller !== undefined) {
    return { context: { ...caller, spanId: newSpanId(ids) }, source: 'traceparent' };
  }
  return { context: newTraceContext(ids), source: 'new' };
}

/** The trace id and sampled flag a `traceparent` value names; nothing for an invalid one. */
export function traceOf(traceparent: unknown): { traceId?: string; sampled: boolean } {
  const context = parseTraceparent(traceparent);
  return context === undefined
    ? { sampled: false }
    : { traceId: context.traceId, sampled: context.sampled };
}
