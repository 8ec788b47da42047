// Kafka record headers as bytes: one shape for the MSK event, kafkajs and the dead-letter
// format. Headers may repeat and carry binary values, so they stay an ordered list of bytes.
import { Buffer } from 'node:buffer';
import type { IHeaders } from 'kafkajs';

export interface KafkaHeader {
  readonly key: string;
  /** Raw bytes; a string is taken as UTF-8. null is a header without a value. */
  readonly value: Uint8Array | string | null;
}

/** The MSK event's shape: a list of one-entry objects whose values are byte arrays. */
export type MskHeaders = ReadonlyArray<Readonly<Record<string, readonly number[]>>>;

/** kafkajs' IHeaders, structurally (domain code does not import kafkajs types). */
export type KafkaJsHeaders = Readonly<
  Record<string, Uint8Array | string | ReadonlyArray<Uint8Array | string> | undefined>
>;

export function headersFromMsk(headers: MskHeaders | undefined): KafkaHeader[] {
  const out: KafkaHeader[] = [];
  for (const entry of headers ?? []) {
    // Buffer.from takes small arrays from Node's shared pool: one record's headers do not each
    // cost an allocation of their own (the consumer's profile showed them).
    for (const [key, bytes] of Object.entries(entry)) out.push({ key, value: Buffer.from(bytes) });
  }
  return out;
}

export function headersFromKafkaJs(headers: KafkaJsHeaders | undefined): KafkaHeader[] {
  const out: KafkaHeader[] = [];
  if (headers === undefined) return out;
  for (const key of Object.keys(headers)) {
    const value: unknown = headers[key];
    if (value === undefined) continue;
    // A repeated header arrives as an array; keep every value in order. kafkajs' decoder looks
    // a name up on a plain object, so "constructor" or "toString" arrive as [Function, value]:
    // only bytes, strings and null are header values.
    const values: readonly unknown[] = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === null || typeof v === 'string' || v instanceof Uint8Array)
        out.push({ key, value: v });
    }
  }
  return out;
}

export function headerBytes(value: Uint8Array | string | null): Buffer | null {
  if (value === null) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text of a value, or undefined when absent or not valid UTF-8. */
export function utf8Text(value: Uint8Array | string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  try {
    return utf8.decode(value);
  } catch {
    return undefined;
  }
}

/** Text of the last header named `key` (the last one wins, as in most Kafka clients). */
export function headerText(headers: readonly KafkaHeader[], key: string): string | undefined {
  for (let i = headers.length - 1; i >= 0; i--) {
    const header = headers[i];
    if (header?.key === key) return utf8Text(header.value);
  }
  return undefined;
}

/** kafkajs headers from an ordered list; repeated keys become arrays (their order kept). */
export function toKafkaJsHeaders(headers: readonly KafkaHeader[]): IHeaders {
  // A Map, never a plain object: a header named "__proto__" or "constructor" is data here.
  const grouped = new Map<string, Buffer[]>();
  for (const h of headers) {
    // kafkajs 2.2.4 cannot send a null header value (its size check calls
    // Buffer.byteLength(null) and throws): the nearest it can send is an empty one.
    const value = h.value === null ? Buffer.alloc(0) : Buffer.from(h.value);
    const values = grouped.get(h.key);
    if (values === undefined) grouped.set(h.key, [value]);
    else values.push(value);
  }
  // fromEntries defines own properties, so even "__proto__" stays an ordinary key.
  return Object.fromEntries(
    [...grouped].map(([k, v]) => [k, v.length === 1 ? (v[0] as Buffer) : v]),
  );
}
