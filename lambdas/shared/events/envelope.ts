// The event envelope (docs/ARCHITECTURE.md §3) and the one entry point consumers use to read an event.
// Every failure here is a schema violation; the structured `kind` says which check failed.
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import {
  isOrderEventType,
  ORDER_EVENT_REGISTRY,
  type OrderEventData,
  type OrderEventDataInput,
  type OrderEventType,
} from './orders';
import { parseSchemaVersion, SCHEMA_VERSION_PATTERN } from './version';

/** Version of the envelope's own shape; the schema check guards it like an event type. */
export const ENVELOPE_VERSION = '1.0.0';

// z.object strips unknown top-level fields: consumers ignore what they do not know.
export const envelopeSchema = z.object({
  schemaVersion: z.string().regex(SCHEMA_VERSION_PATTERN, 'must be "MAJOR.MINOR.PATCH"'),
  eventId: z.string().min(1),
  eventType: z.string().min(1),
  aggregateId: z.string().min(1),
  // UTC only (offset: false): one spelling per instant keeps idempotency keys stable.
  timestamp: z.iso.datetime({ error: 'must be ISO-8601 UTC ending in "Z"' }),
  correlationId: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
});

export type Envelope = z.output<typeof envelopeSchema>;

/** A parsed envelope whose `data` matched its event type's schema. */
export type OrderEvent<T extends OrderEventType = OrderEventType> = {
  [K in T]: Omit<Envelope, 'eventType' | 'data'> & {
    readonly eventType: K;
    readonly data: OrderEventData<K>;
  };
}[T];

export type EnvelopeErrorKind =
  | 'NOT_JSON'
  | 'ENVELOPE_INVALID'
  | 'UNKNOWN_EVENT_TYPE'
  | 'UNKNOWN_MAJOR'
  | 'PAYLOAD_INVALID';

export interface SchemaIssue {
  /** Dotted path into the event, e.g. "data.items[0].quantity"; "" is the whole event. */
  readonly path: string;
  readonly message: string;
}

/** Fields read from the raw input when they are strings, so a rejected event stays traceable. */
export type EnvelopeContext = Partial<
  Record<'eventId' | 'eventType' | 'aggregateId' | 'correlationId' | 'schemaVersion', string>
>;

export interface EnvelopeError {
  readonly kind: EnvelopeErrorKind;
  readonly message: string;
  readonly issues: readonly SchemaIssue[];
  readonly context: EnvelopeContext;
}

export type ParseEnvelopeResult =
  | { readonly ok: true; readonly event: OrderEvent }
  | { readonly ok: false; readonly error: EnvelopeError };

/**
 * Reads one event. A string or bytes (a Kafka value) is decoded as UTF-8 JSON first; any
 * other value is taken as already-parsed JSON. Never throws.
 */
export function parseEnvelope(input: unknown): ParseEnvelopeResult {
  let raw: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const decoded = decodeJson(input);
    if (!decoded.ok) return fail('NOT_JSON', 'event is not valid JSON', {}, [decoded.issue]);
    raw = decoded.value;
  }
  const context = contextOf(raw);

  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    return fail('ENVELOPE_INVALID', 'event does not match the envelope schema', context, [
      ...toIssues(envelope.error.issues),
    ]);
  }
  const event = envelope.data;

  if (!isOrderEventType(event.eventType)) {
    return fail('UNKNOWN_EVENT_TYPE', `unknown eventType "${event.eventType}"`, context, [
      { path: 'eventType', message: `not one of ${Object.keys(ORDER_EVENT_REGISTRY).join(', ')}` },
    ]);
  }
  const spec = ORDER_EVENT_REGISTRY[event.eventType];

  // The envelope regex guarantees a parsable version; minor and patch never matter here.
  const major = parseSchemaVersion(event.schemaVersion)?.major;
  if (major === undefined || !spec.knownMajors.some((known) => known === major)) {
    return fail(
      'UNKNOWN_MAJOR',
      `${event.eventType} schema major ${major} is not known to this consumer`,
      context,
      [{ path: 'schemaVersion', message: `known majors: ${spec.knownMajors.join(', ')}` }],
    );
  }

  const data = spec.schema.safeParse(event.data);
  if (!data.success) {
    return fail('PAYLOAD_INVALID', `${event.eventType} data does not match its schema`, context, [
      ...toIssues(data.error.issues, ['data']),
    ]);
  }
  // The order id is the Kafka key; a payload naming another order would break per-key order.
  if (data.data.orderId !== event.aggregateId) {
    return fail('PAYLOAD_INVALID', `${event.eventType} data names another order`, context, [
      { path: 'data.orderId', message: `must equal aggregateId "${event.aggregateId}"` },
    ]);
  }
  return { ok: true, event: { ...event, data: data.data } as OrderEvent };
}

export interface CreateEnvelopeInput<T extends OrderEventType> {
  readonly eventType: T;
  /** Validated against the event type's schema; `aggregateId` is taken from `data.orderId`. */
  readonly data: OrderEventDataInput<T>;
  /** The id of the request or event that caused this one; defaults to the new event's id. */
  readonly correlationId?: string;
  /** When the fact happened; defaults to now. */
  readonly occurredAt?: Date;
}

/** Injectable clock and id source, so tests get fixed values without mocking modules. */
export interface CreateEnvelopeDeps {
  readonly now?: () => Date;
  readonly newId?: () => string;
}

export class InvalidEventError extends Error {
  constructor(
    message: string,
    readonly issues: readonly SchemaIssue[],
  ) {
    super(`${message}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'InvalidEventError';
  }
}

/**
 * Builds a new event at the type's current version. Throws InvalidEventError when `data`
 * does not match the schema: producing an invalid event is a bug, not a runtime condition.
 */
export function createEnvelope<T extends OrderEventType>(
  input: CreateEnvelopeInput<T>,
  deps: CreateEnvelopeDeps = {},
): OrderEvent<T> {
  const spec = ORDER_EVENT_REGISTRY[input.eventType];
  const data = spec.schema.safeParse(input.data);
  if (!data.success) {
    throw new InvalidEventError(
      `invalid ${input.eventType} data`,
      toIssues(data.error.issues, ['data']),
    );
  }
  const eventId = (deps.newId ?? randomUUID)();
  const occurredAt = input.occurredAt ?? (deps.now ?? (() => new Date()))();
  const event = {
    schemaVersion: spec.currentVersion,
    eventId,
    eventType: input.eventType,
    aggregateId: data.data.orderId,
    timestamp: occurredAt.toISOString(),
    correlationId: input.correlationId ?? eventId,
    data: data.data,
  };
  // Same check a consumer runs, so a producer can never emit what consumers reject.
  const envelope = envelopeSchema.safeParse(event);
  if (!envelope.success) {
    throw new InvalidEventError('invalid envelope', toIssues(envelope.error.issues));
  }
  return event as OrderEvent<T>;
}

// --- helpers -----------------------------------------------------------------------------

type Decoded = { ok: true; value: unknown } | { ok: false; issue: SchemaIssue };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(input: string | Uint8Array): Decoded {
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch {
    return { ok: false, issue: { path: '', message: 'bytes are not valid UTF-8' } };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, issue: { path: '', message: (err as Error).message } };
  }
}

function contextOf(raw: unknown): EnvelopeContext {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const record = raw as Record<string, unknown>;
  const context: Record<string, string> = {};
  for (const key of [
    'eventId',
    'eventType',
    'aggregateId',
    'correlationId',
    'schemaVersion',
  ] as const) {
    const value = record[key];
    if (typeof value === 'string') context[key] = value;
  }
  return context;
}

function toIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): SchemaIssue[] {
  return issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/** ["data", "items", 0, "sku"] → "data.items[0].sku" */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function fail(
  kind: EnvelopeErrorKind,
  message: string,
  context: EnvelopeContext,
  issues: readonly SchemaIssue[],
): ParseEnvelopeResult {
  return { ok: false, error: { kind, message, issues, context } };
}
