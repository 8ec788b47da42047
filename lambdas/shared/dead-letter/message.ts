// The dead-letter message (docs/ARCHITECTURE.md §3): the original record exactly as received plus its
// failure history. The consumer writes it, triage reads it, `dead_letters` stores it.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { classify, ERROR_TYPES, type ErrorContext } from '../errors/taxonomy';
import { formatPath, type SchemaIssue } from '../events/envelope';
import { parseSchemaVersion, SCHEMA_VERSION_PATTERN } from '../events/version';
import { headerBytes, headerText, type KafkaHeader, utf8Text } from './headers';

export const DEAD_LETTER_FORMAT_VERSION = '1.0.0';
const FORMAT_MAJOR = 1;

/** Long messages (stack-like driver output) would only bloat every dead letter. */
export const MAX_ERROR_MESSAGE_LENGTH = 2_000;
/**
 * Largest value whose parsed copy rides along in `original.json`. A dead letter holds the value
 * as base64 (4/3) plus that copy (~1): about 2.3 times the record. Above this size the copy is
 * left out so the dead letter stays under Kafka's (and MSK's) default 1 MiB message limit for
 * records up to ~750 KB; the exact bytes stay in `original.value` either way.
 */
export const MAX_JSON_COPY_BYTES = 384 * 1024;
/**
 * Deepest nesting read or copied. Events are a few levels deep; a record nested thousands deep
 * overflows the stack of the schema check, JSON.stringify and PostgreSQL's jsonb parser.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Headers on the dead-letter record, so triage can route without parsing the value. The
 * same names on a redriven record carry the failure history back to the consumer.
 */
export const DEAD_LETTER_HEADERS = {
  formatVersion: 'deadLetterFormatVersion',
  errorType: 'errorType',
  attempts: 'attempts',
  redriveCount: 'redriveCount',
  firstFailureAt: 'firstFailureAt',
  correlationId: 'correlationId',
  eventId: 'eventId',
  eventType: 'eventType',
} as const;

const base64 = z.base64();

export const deadLetterSchema = z
  .object({
    formatVersion: z.string().regex(SCHEMA_VERSION_PATTERN),
    errorType: z.enum(ERROR_TYPES),
    errorMessage: z.string(),
    firstFailureAt: z.iso.datetime(),
    lastFailureAt: z.iso.datetime(),
    attempts: z.int().min(1),
    redriveCount: z.int().min(0),
    source: z.object({
      topic: z.string().min(1),
      partition: z.int().min(0),
      // int64 as a decimal string: JSON numbers lose precision above 2^53.
      offset: z.string().regex(/^\d+$/, 'must be a non-negative integer string'),
    }),
    /** Original key bytes; the dead-letter record reuses it, keeping per-order partitioning. */
    key: base64.nullable(),
    headers: z.array(z.object({ key: z.string(), value: base64.nullable() })),
    correlationId: z.string().nullable(),
    eventId: z.string().nullable(),
    eventType: z.string().nullable(),
    aggregateId: z.string().nullable(),
    original: z.object({
      /** The exact value bytes (null for a tombstone): nothing is lost, whatever they were. */
      value: base64.nullable(),
      /** Present only when the bytes were UTF-8 JSON: readable without decoding. */
      json: z.json().optional(),
    }),
  })
  .refine((m) => Date.parse(m.lastFailureAt) >= Date.parse(m.firstFailureAt), {
    path: ['lastFailureAt'],
    message: 'must not be before firstFailureAt',
  });

export type DeadLetterMessage = z.output<typeof deadLetterSchema>;

export interface DeadLetterSource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string | number | bigint;
}

export interface BuildDeadLetterInput {
  /** The record's value as received (decoded from the MSK event's base64). */
  readonly value: Uint8Array | null;
  readonly key: Uint8Array | string | null;
  readonly headers?: readonly KafkaHeader[];
  /** Where the record was consumed from (for a redrive: the redriven copy's position). */
  readonly source: DeadLetterSource;
  /** Classified here, so the type always comes from the one taxonomy mapping. */
  readonly error: unknown;
  /** Attempts so far, including earlier redrive cycles (see redriveStateFromHeaders). */
  readonly attempts: number;
  readonly firstFailureAt: Date;
  /** Defaults to firstFailureAt. */
  readonly lastFailureAt?: Date;
  /** 0 on first dead-lettering. */
  readonly redriveCount?: number;
  /** Overrides what is read from the error, the event and the headers. */
  readonly context?: ErrorContext;
}

/** Throws on impossible input (attempts < 1, times out of order): that is a caller bug. */
export function buildDeadLetter(input: BuildDeadLetterInput): DeadLetterMessage {
  const classification = classify(input.error);
  const headers = input.headers ?? [];
  const json = parseJson(input.value);
  const envelope = json.ok ? envelopeFields(json.value) : {};
  const pick = (field: 'eventId' | 'eventType' | 'aggregateId' | 'correlationId') =>
    stringOf(input.context?.[field]) ??
    stringOf(classification.context[field]) ??
    envelope[field] ??
    (field === 'aggregateId' ? undefined : headerText(headers, field)) ??
    null;

  const message = {
    formatVersion: DEAD_LETTER_FORMAT_VERSION,
    errorType: classification.errorType,
    errorMessage: truncate(classification.message, MAX_ERROR_MESSAGE_LENGTH),
    firstFailureAt: input.firstFailureAt.toISOString(),
    lastFailureAt: (input.lastFailureAt ?? input.firstFailureAt).toISOString(),
    attempts: input.attempts,
    redriveCount: input.redriveCount ?? 0,
    source: {
      topic: input.source.topic,
      partition: input.source.partition,
      offset: String(input.source.offset),
    },
    key: toBase64(input.key),
    headers: headers.map((h) => ({ key: h.key, value: toBase64(h.value) })),
    correlationId: pick('correlationId'),
    eventId: pick('eventId'),
    eventType: pick('eventType'),
    aggregateId: pick('aggregateId'),
    original: {
      value: toBase64(input.value),
      ...(json.ok &&
      (input.value?.length ?? 0) <= MAX_JSON_COPY_BYTES &&
      !nestedDeeperThan(json.value, MAX_JSON_DEPTH)
        ? { json: json.value }
        : {}),
    },
  };
  const parsed = deadLetterSchema.safeParse(message);
  if (!parsed.success) {
    throw new RangeError(
      `invalid dead letter: ${toIssues(parsed.error.issues)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return parsed.data;
}

/** A record for kafkajs' producer.send. */
export interface EncodedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

export function encodeDeadLetter(message: DeadLetterMessage): EncodedRecord {
  const headers: Record<string, string> = {
    [DEAD_LETTER_HEADERS.formatVersion]: message.formatVersion,
    [DEAD_LETTER_HEADERS.errorType]: message.errorType,
    [DEAD_LETTER_HEADERS.attempts]: String(message.attempts),
    [DEAD_LETTER_HEADERS.redriveCount]: String(message.redriveCount),
    [DEAD_LETTER_HEADERS.firstFailureAt]: message.firstFailureAt,
  };
  if (message.correlationId !== null)
    headers[DEAD_LETTER_HEADERS.correlationId] = message.correlationId;
  if (message.eventId !== null) headers[DEAD_LETTER_HEADERS.eventId] = message.eventId;
  if (message.eventType !== null) headers[DEAD_LETTER_HEADERS.eventType] = message.eventType;
  return {
    key: fromBase64(message.key),
    value: Buffer.from(JSON.stringify(message), 'utf8'),
    headers,
  };
}

export type DeadLetterDecodeErrorKind =
  | 'NOT_JSON'
  /** JSON, but not this format: e.g. a record the event source mapping's backstop wrote. */
  | 'NOT_A_DEAD_LETTER'
  | 'UNSUPPORTED_FORMAT_VERSION';

export interface DeadLetterDecodeError {
  readonly kind: DeadLetterDecodeErrorKind;
  readonly message: string;
  readonly issues: readonly SchemaIssue[];
}

export type DecodeDeadLetterResult =
  | { readonly ok: true; readonly message: DeadLetterMessage }
  | { readonly ok: false; readonly error: DeadLetterDecodeError };

/** Reads a dead-letter record's value. Never throws: a malformed one is for triage to park. */
export function decodeDeadLetter(
  value: Uint8Array | string | null | undefined,
): DecodeDeadLetterResult {
  const json = parseJson(
    value === null || value === undefined
      ? null
      : typeof value === 'string'
        ? Buffer.from(value, 'utf8')
        : value,
  );
  if (!json.ok) {
    return fail('NOT_JSON', 'dead-letter record is not UTF-8 JSON', [
      { path: '', message: json.reason },
    ]);
  }
  const raw = json.value;
  const version =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? (raw as Record<string, unknown>).formatVersion
      : undefined;
  if (typeof version === 'string') {
    const major = parseSchemaVersion(version)?.major;
    // Minor and patch add optional fields only; a new major may change any of them.
    if (major !== undefined && major !== FORMAT_MAJOR) {
      return fail(
        'UNSUPPORTED_FORMAT_VERSION',
        `dead-letter format ${version} is not readable here`,
        [{ path: 'formatVersion', message: `known major: ${FORMAT_MAJOR}` }],
      );
    }
  }
  // The message wraps the event two levels down (original.json).
  if (nestedDeeperThan(raw, MAX_JSON_DEPTH + 2)) {
    return fail('NOT_A_DEAD_LETTER', 'record does not match the dead-letter format', [
      { path: '', message: `nested deeper than ${MAX_JSON_DEPTH + 2} levels` },
    ]);
  }
  let parsed: ReturnType<typeof deadLetterSchema.safeParse>;
  try {
    parsed = deadLetterSchema.safeParse(raw);
  } catch (error) {
    return fail('NOT_A_DEAD_LETTER', 'record could not be checked against the format', [
      { path: '', message: error instanceof Error ? error.message : String(error) },
    ]);
  }
  if (!parsed.success) {
    return fail(
      'NOT_A_DEAD_LETTER',
      'record does not match the dead-letter format',
      toIssues(parsed.error.issues),
    );
  }
  return { ok: true, message: parsed.data };
}

/** Columns of a `dead_letters` insert (migrations 0001 and 0003), in this order. */
export const DEAD_LETTER_ROW_COLUMNS = [
  'event_id',
  'event_type',
  'aggregate_id',
  'correlation_id',
  'error_type',
  'error_message',
  'payload',
  'source_topic',
  'source_partition',
  'source_offset',
  'attempts',
  'redrive_count',
  'first_failed_at',
  'last_failed_at',
  'record_digest',
] as const;

export type DeadLetterRow = {
  readonly event_id: string | null;
  readonly event_type: string | null;
  readonly aggregate_id: string | null;
  readonly correlation_id: string | null;
  readonly error_type: DeadLetterMessage['errorType'];
  readonly error_message: string;
  /**
   * JSON text for the jsonb column (bind as `$n::jsonb`): the parsed event when it was JSON,
   * else the raw text as a JSON string. Bytes that are not UTF-8, NUL and unpaired surrogates
   * (jsonb holds neither) show as U+FFFD: the exact bytes stay in the dead-letter message.
   */
  readonly payload: string;
  readonly source_topic: string;
  readonly source_partition: number;
  /** int64 as a decimal string (pg casts it to bigint). */
  readonly source_offset: string;
  readonly attempts: number;
  readonly redrive_count: number;
  /** ISO-8601 UTC. */
  readonly first_failed_at: string;
  readonly last_failed_at: string;
  /** recordDigest(message): with the source position, the key that parks a record once. */
  readonly record_digest: string;
};

/**
 * Hex SHA-256 of the original record's key and value as carried (base64), so that a
 * redelivered dead letter matches its parked row and another record at a reused offset (a
 * recreated topic) does not. Migration 0003 computes the same formula in SQL.
 */
export function recordDigest(message: Pick<DeadLetterMessage, 'key' | 'original'>): string {
  return createHash('sha256')
    .update(`${message.key ?? ''}\n${message.original.value ?? ''}`, 'utf8')
    .digest('hex');
}

/** What the `dead_letters` columns hold, and what is believable in them. */
export const ROW_LIMITS = {
  /** integer columns: attempts, redrive_count, source_partition. */
  int32Max: 2_147_483_647,
  /** source_offset (bigint). */
  int64Max: 9_223_372_036_854_775_807n,
  /** Ids, types and the topic name; btree entries must stay under ~2.7 kB. */
  shortTextBytes: 1_024,
  errorMessageBytes: 16_384,
  /** Failure times before this predate the pipeline. */
  earliestFailureMs: Date.UTC(2000, 0, 1),
  /** Failure times more than this after now are a forged or broken clock. */
  futureSkewMs: 60_000,
} as const;

export interface RowAdjustment {
  /** The message field, e.g. "attempts". */
  readonly field: string;
  /**
   * `range`: a number or time outside the column or outside belief, so the failure history
   * cannot be trusted; `text`: text made storable (escaped or shortened), nothing else wrong.
   */
  readonly kind: 'range' | 'text';
  /** What was found and what is stored instead. */
  readonly detail: string;
}

/**
 * The row for a message, every value one `dead_letters` can hold: numbers clamped into their
 * columns, failure times into [2000-01-01, now + 1 min] with first <= last, text without NUL
 * or unpaired surrogates and within its size. Each change is listed; the message itself (and
 * its exact bytes) are stored beside the row.
 */
export function boundedDeadLetterRow(
  message: DeadLetterMessage,
  now: number = Date.now(),
): { readonly row: DeadLetterRow; readonly adjustments: readonly RowAdjustment[] } {
  const adjustments: RowAdjustment[] = [];
  const note = (field: string, kind: RowAdjustment['kind'], detail: string) =>
    adjustments.push({ field, kind, detail });
  const text = (field: string, value: string, maxBytes: number): string => {
    const storable = pgText(value);
    if (storable !== value) note(field, 'text', 'NUL or unpaired surrogate replaced with U+FFFD');
    const short = truncateUtf8(storable, maxBytes);
    if (short !== storable) {
      note(field, 'text', `${Buffer.byteLength(storable)} bytes shortened to ${maxBytes}`);
    }
    return short;
  };
  const shortText = (field: string, value: string | null) =>
    value === null ? null : text(field, value, ROW_LIMITS.shortTextBytes);
  const int32 = (field: string, value: number, min: number): number => {
    const stored = Math.min(Math.max(value, min), ROW_LIMITS.int32Max);
    if (stored !== value)
      note(field, 'range', `${value} is outside ${min}..${ROW_LIMITS.int32Max}; stored ${stored}`);
    return stored;
  };
  const offset = (() => {
    const value = BigInt(message.source.offset);
    if (value <= ROW_LIMITS.int64Max) return message.source.offset;
    note(
      'source.offset',
      'range',
      `${message.source.offset} is above ${ROW_LIMITS.int64Max}; stored ${ROW_LIMITS.int64Max}`,
    );
    return String(ROW_LIMITS.int64Max);
  })();
  const time = (field: string, iso: string): number => {
    const ms = Date.parse(iso);
    const latest = now + ROW_LIMITS.futureSkewMs;
    if (ms >= ROW_LIMITS.earliestFailureMs && ms <= latest) return ms;
    const stored = ms > latest ? now : ROW_LIMITS.earliestFailureMs;
    note(
      field,
      'range',
      `${iso} is ${ms > latest ? `after now + ${ROW_LIMITS.futureSkewMs / 1000} s` : 'before 2000-01-01'}; stored ${new Date(stored).toISOString()}`,
    );
    return stored;
  };
  const last = time('lastFailureAt', message.lastFailureAt);
  let first = time('firstFailureAt', message.firstFailureAt);
  if (first > last) {
    note(
      'firstFailureAt',
      'range',
      `after lastFailureAt once clamped; stored ${new Date(last).toISOString()}`,
    );
    first = last;
  }
  const payloadValue = payloadOf(message);
  const payload = jsonbText(payloadValue);
  if (payload !== JSON.stringify(payloadValue)) {
    note(
      'original',
      'text',
      'NUL or unpaired surrogate escapes replaced with \\ufffd in the payload copy',
    );
  }
  const row: DeadLetterRow = {
    event_id: shortText('eventId', message.eventId),
    event_type: shortText('eventType', message.eventType),
    aggregate_id: shortText('aggregateId', message.aggregateId),
    correlation_id: shortText('correlationId', message.correlationId),
    error_type: message.errorType,
    error_message: text('errorMessage', message.errorMessage, ROW_LIMITS.errorMessageBytes),
    payload,
    source_topic: text('source.topic', message.source.topic, ROW_LIMITS.shortTextBytes),
    source_partition: int32('source.partition', message.source.partition, 0),
    source_offset: offset,
    attempts: int32('attempts', message.attempts, 1),
    redrive_count: int32('redriveCount', message.redriveCount, 0),
    first_failed_at: new Date(first).toISOString(),
    last_failed_at: new Date(last).toISOString(),
    record_digest: recordDigest(message),
  };
  return { row, adjustments };
}

export function toDeadLetterRow(message: DeadLetterMessage, now?: number): DeadLetterRow {
  return boundedDeadLetterRow(message, now).row;
}

/** Row values in DEAD_LETTER_ROW_COLUMNS order, for a parameterised INSERT. */
export function deadLetterRowValues(row: DeadLetterRow): unknown[] {
  return DEAD_LETTER_ROW_COLUMNS.map((column) => row[column]);
}

// --- redrive ------------------------------------------------------------------------------

const REDRIVE_HEADER_KEYS: ReadonlySet<string> = new Set([
  DEAD_LETTER_HEADERS.attempts,
  DEAD_LETTER_HEADERS.redriveCount,
  DEAD_LETTER_HEADERS.firstFailureAt,
]);

/**
 * The original record, byte for byte, to produce back to its source topic, with the failure
 * history in headers so the next dead-lettering continues it instead of starting over.
 */
export function toRedriveRecord(message: DeadLetterMessage): {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: KafkaHeader[];
} {
  const headers: KafkaHeader[] = message.headers
    .filter((h) => !REDRIVE_HEADER_KEYS.has(h.key))
    .map((h) => ({ key: h.key, value: fromBase64(h.value) }));
  headers.push(
    { key: DEAD_LETTER_HEADERS.redriveCount, value: String(message.redriveCount + 1) },
    { key: DEAD_LETTER_HEADERS.attempts, value: String(message.attempts) },
    { key: DEAD_LETTER_HEADERS.firstFailureAt, value: message.firstFailureAt },
  );
  return {
    topic: message.source.topic,
    key: fromBase64(message.key),
    value: fromBase64(message.original.value),
    headers,
  };
}

export interface RedriveState {
  /** 0 for a record that was never redriven. */
  readonly redriveCount: number;
  /** Attempts made before this delivery. */
  readonly priorAttempts: number;
  readonly firstFailureAt: Date | undefined;
}

/** What a consumed record's headers say about earlier failures; garbage reads as none. */
export function redriveStateFromHeaders(headers: readonly KafkaHeader[]): RedriveState {
  const count = (key: string) => {
    const n = Number(headerText(headers, key));
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  };
  const first = headerText(headers, DEAD_LETTER_HEADERS.firstFailureAt);
  const firstMs = first === undefined ? Number.NaN : Date.parse(first);
  return {
    redriveCount: count(DEAD_LETTER_HEADERS.redriveCount),
    priorAttempts: count(DEAD_LETTER_HEADERS.attempts),
    firstFailureAt: Number.isNaN(firstMs) ? undefined : new Date(firstMs),
  };
}

// --- helpers ------------------------------------------------------------------------------

type ParsedJson = { ok: true; value: z.core.util.JSONType } | { ok: false; reason: string };

function parseJson(bytes: Uint8Array | null): ParsedJson {
  if (bytes === null) return { ok: false, reason: 'no value (tombstone)' };
  const text = utf8Text(bytes);
  if (text === undefined) return { ok: false, reason: 'bytes are not valid UTF-8' };
  try {
    return { ok: true, value: JSON.parse(text) as z.core.util.JSONType };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

function envelopeFields(value: unknown): Partial<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const out: Partial<Record<string, string>> = {};
  for (const key of ['eventId', 'eventType', 'aggregateId', 'correlationId']) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return out;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function payloadOf(message: DeadLetterMessage): unknown {
  if (message.original.json !== undefined) return message.original.json;
  const bytes = fromBase64(message.original.value);
  // Lossy only for bytes that are not UTF-8; the column must hold valid JSON text.
  return bytes === null ? null : bytes.toString('utf8');
}

// An escape jsonb refuses: NUL, or a UTF-16 surrogate that is not half of a pair. A pair is
// matched first, so it is kept; `\\` is consumed as one escape, so a backslash followed by the
// text "u0000" is left alone.
const JSON_ESCAPE =
  /\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u([0-9a-fA-F]{4})|[^u])/g;

/**
 * JSON text as jsonb accepts it: escapes of NUL and of unpaired surrogates (JSON allows both,
 * PostgreSQL neither) become \ufffd. Exact bytes are kept elsewhere (base64, raw_record).
 */
export function jsonbSafeJson(json: string): string {
  return json.replace(JSON_ESCAPE, (match: string, hex: string | undefined) => {
    if (hex === undefined) return match;
    const code = Number.parseInt(hex, 16);
    return code === 0 || (code >= 0xd800 && code <= 0xdfff) ? '\\ufffd' : match;
  });
}

/** A value as JSON text for a jsonb column (see jsonbSafeJson). */
export function jsonbText(value: unknown): string {
  return jsonbSafeJson(JSON.stringify(value) ?? 'null');
}

const UNPAIRED_SURROGATE =
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text a PostgreSQL text column accepts: NUL and unpaired surrogates become U+FFFD. */
export function pgText(text: string): string {
  return text.replaceAll('\u0000', '\ufffd').replace(UNPAIRED_SURROGATE, '\ufffd');
}

/** At most `maxBytes` of UTF-8, cut at a character boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // The first byte left out continues a character: that character goes too.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** True when objects and arrays nest deeper than `max` (iterative: any depth is safe). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<readonly [unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, depth] = item;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function toBase64(value: Uint8Array | string | null): string | null {
  const bytes = headerBytes(value);
  return bytes === null ? null : bytes.toString('base64');
}

function fromBase64(value: string | null): Buffer | null {
  return value === null ? null : Buffer.from(value, 'base64');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function toIssues(issues: readonly z.core.$ZodIssue[]): SchemaIssue[] {
  return issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

function fail(
  kind: DeadLetterDecodeErrorKind,
  message: string,
  issues: readonly SchemaIssue[],
): DecodeDeadLetterResult {
  return { ok: false, error: { kind, message, issues } };
}
