// What can still be read from a dead-letter-topic record that is not a valid dead letter: a
// forged or damaged dead letter whose source and original bytes are intact, or a raw record a
// mapping's on-failure destination wrote with its origin in failure headers. Either way the
// record keeps its original source, so an operator can restore it there; never throws.
import * as z from 'zod';
import { isErrorType } from '../errors/taxonomy';
import { headerText, type KafkaHeader } from './headers';
import {
  DEAD_LETTER_FORMAT_VERSION,
  type DeadLetterMessage,
  deadLetterSchema,
  MAX_ERROR_MESSAGE_LENGTH,
  ROW_LIMITS,
} from './message';

/**
 * The failure headers the consumer mapping's on-failure destination puts on a record it writes
 * raw to the dead-letter topic (the local mapping emulator writes these names).
 */
export const MAPPING_BACKSTOP_HEADERS = {
  reason: 'esm-failure-reason',
  sourceTopic: 'esm-source-topic',
  sourcePartition: 'esm-source-partition',
  sourceOffset: 'esm-source-offset',
  attempts: 'esm-attempts',
  consumerGroup: 'esm-consumer-group',
} as const;

const BACKSTOP_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(MAPPING_BACKSTOP_HEADERS));

/** Kafka's legal topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export interface BackstopOrigin {
  readonly source: { readonly topic: string; readonly partition: number; readonly offset: string };
  readonly reason: string | undefined;
  /** Invocations the mapping made before giving up, when recorded. */
  readonly attempts: number | undefined;
  readonly consumerGroup: string | undefined;
}

/** Where a raw record came from, per its failure headers; undefined unless all are valid. */
export function backstopOrigin(headers: readonly KafkaHeader[]): BackstopOrigin | undefined {
  const topic = headerText(headers, MAPPING_BACKSTOP_HEADERS.sourceTopic);
  const partition = headerText(headers, MAPPING_BACKSTOP_HEADERS.sourcePartition);
  const offset = headerText(headers, MAPPING_BACKSTOP_HEADERS.sourceOffset);
  if (topic === undefined || !TOPIC_NAME.test(topic)) return undefined;
  if (partition === undefined || !/^\d{1,10}$/.test(partition)) return undefined;
  if (Number(partition) > ROW_LIMITS.int32Max) return undefined;
  if (offset === undefined || !/^\d{1,19}$/.test(offset)) return undefined;
  if (BigInt(offset) > ROW_LIMITS.int64Max) return undefined;
  const attempts = headerText(headers, MAPPING_BACKSTOP_HEADERS.attempts);
  return {
    source: { topic, partition: Number(partition), offset },
    reason: headerText(headers, MAPPING_BACKSTOP_HEADERS.reason),
    attempts:
      attempts !== undefined && /^\d{1,9}$/.test(attempts) && Number(attempts) > 0
        ? Number(attempts)
        : undefined,
    consumerGroup: headerText(headers, MAPPING_BACKSTOP_HEADERS.consumerGroup),
  };
}

/** One of the headers an on-failure destination adds (not the record's own). */
export function isBackstopHeader(key: string): boolean {
  return BACKSTOP_HEADER_NAMES.has(key);
}

/** The record's own headers, without the ones the on-failure destination added. */
export function withoutBackstopHeaders(headers: readonly KafkaHeader[]): KafkaHeader[] {
  return headers.filter((h) => !isBackstopHeader(h.key));
}

export interface Salvaged {
  readonly message: DeadLetterMessage;
  /** What was missing or out of range, and what is stored instead. */
  readonly repairs: readonly string[];
}

const base64 = z.base64();
const isBase64 = (v: unknown): v is string => typeof v === 'string' && base64.safeParse(v).success;

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.hasOwn(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function show(value: unknown): string {
  try {
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return text.length > 40 ? `${text.slice(0, 39)}…` : text;
  } catch {
    return typeof value;
  }
}

/**
 * A dead letter rebuilt from a JSON value that fails the format, when its source position and
 * original bytes are intact: the rest is taken where valid and bounded or defaulted where not
 * (counts into the integer columns, failure times into [2000-01-01, now], first <= last).
 * Undefined when there is no trustworthy source or original value to restore.
 */
export function salvageDeadLetter(raw: unknown, now: number): Salvaged | undefined {
  try {
    return salvage(raw, now);
  } catch {
    return undefined;
  }
}

function salvage(raw: unknown, now: number): Salvaged | undefined {
  const source = field(raw, 'source');
  const original = field(raw, 'original');
  const topic = field(source, 'topic');
  const partition = field(source, 'partition');
  const offset = field(source, 'offset');
  const value = field(original, 'value');
  if (typeof topic !== 'string' || topic === '') return undefined;
  if (!(value === null || isBase64(value))) return undefined;
  const offsetText =
    typeof offset === 'string' && /^\d+$/.test(offset)
      ? offset
      : Number.isSafeInteger(offset) && (offset as number) >= 0
        ? String(offset)
        : undefined;
  if (offsetText === undefined) return undefined;
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
    return undefined;
  }
  const repairs: string[] = [];
  const count = (name: string, min: number): number => {
    const v = field(raw, name);
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= ROW_LIMITS.int32Max) {
      return v;
    }
    const stored =
      typeof v === 'number' && !Number.isNaN(v)
        ? Math.min(Math.max(Math.trunc(v), min), ROW_LIMITS.int32Max)
        : min;
    repairs.push(`${name} ${show(v)} stored as ${stored}`);
    return stored;
  };
  const latest = now + ROW_LIMITS.futureSkewMs;
  const time = (name: string, fallback: number): number => {
    const v = field(raw, name);
    const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN;
    if (ms >= ROW_LIMITS.earliestFailureMs && ms <= latest) return ms;
    const stored = Number.isNaN(ms) || ms > latest ? fallback : ROW_LIMITS.earliestFailureMs;
    repairs.push(`${name} ${show(v)} stored as ${new Date(stored).toISOString()}`);
    return stored;
  };
  const text = (name: string): string | null => {
    const v = field(raw, name);
    return typeof v === 'string' && v !== '' ? v : null;
  };

  const errorType = field(raw, 'errorType');
  if (!isErrorType(errorType))
    repairs.push(`errorType ${show(errorType)} stored as PROCESSING_FAILURE`);
  const errorMessage = field(raw, 'errorMessage');
  const key = field(raw, 'key');
  if (!(key === null || isBase64(key)))
    repairs.push(`key ${show(key)} is not base64; stored as null`);
  const headersIn = field(raw, 'headers');
  const headers = (Array.isArray(headersIn) ? headersIn : []).filter(
    (h): h is { key: string; value: string | null } =>
      typeof field(h, 'key') === 'string' &&
      (field(h, 'value') === null || isBase64(field(h, 'value'))),
  );
  const dropped = (Array.isArray(headersIn) ? headersIn.length : 0) - headers.length;
  if (!Array.isArray(headersIn)) repairs.push(`headers ${show(headersIn)} stored as []`);
  else if (dropped > 0)
    repairs.push(`${dropped} header(s) without a string key and base64 value dropped`);
  const storedPartition = Math.min(partition, ROW_LIMITS.int32Max);
  if (storedPartition !== partition)
    repairs.push(`source.partition ${partition} stored as ${storedPartition}`);
  const storedOffset =
    BigInt(offsetText) > ROW_LIMITS.int64Max ? String(ROW_LIMITS.int64Max) : offsetText;
  if (storedOffset !== offsetText)
    repairs.push(`source.offset ${offsetText} stored as ${storedOffset}`);

  const last = time('lastFailureAt', now);
  let first = time('firstFailureAt', last);
  if (first > last) {
    repairs.push(`firstFailureAt after lastFailureAt; stored as ${new Date(last).toISOString()}`);
    first = last;
  }
  const message = {
    formatVersion: DEAD_LETTER_FORMAT_VERSION,
    errorType: isErrorType(errorType) ? errorType : 'PROCESSING_FAILURE',
    errorMessage:
      typeof errorMessage === 'string'
        ? errorMessage.slice(0, MAX_ERROR_MESSAGE_LENGTH)
        : '(no error message recorded)',
    firstFailureAt: new Date(first).toISOString(),
    lastFailureAt: new Date(last).toISOString(),
    attempts: count('attempts', 1),
    redriveCount: count('redriveCount', 0),
    source: { topic, partition: storedPartition, offset: storedOffset },
    key: key === null || isBase64(key) ? key : null,
    headers: headers.map((h) => ({ key: h.key, value: h.value })),
    correlationId: text('correlationId'),
    eventId: text('eventId'),
    eventType: text('eventType'),
    aggregateId: text('aggregateId'),
    original: { value },
  };
  const parsed = deadLetterSchema.safeParse(message);
  return parsed.success ? { message: parsed.data, repairs } : undefined;
}
