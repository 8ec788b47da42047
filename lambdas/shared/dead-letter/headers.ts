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
    for (const [key, bytes] of Object.entries(entry))
      out.push({ key, value: Uint8Array.from(bytes) });
  }
  return out;
}

export function headersFromKafkaJs(headers: KafkaJsHeaders | undefined): KafkaHeader[] {
  const out: KafkaHeader[] = [];
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    // A repeated header arrives as an array; keep every value in order.
    const values: ReadonlyArray<Uint8Array | string> =
      typeof value === 'string' || value instanceof Uint8Array ? [value] : value;
    for (const v of values) out.push({ key, value: v });
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
  const out: Record<string, Array<Buffer | string>> = {};
  for (const h of headers) {
    // kafkajs encodes a null header value as a null (-1 length) header; its type omits it.
    const value = (h.value === null ? null : Buffer.from(h.value)) as Buffer;
    const values = out[h.key] ?? [];
    values.push(value);
    out[h.key] = values;
  }
  return Object.fromEntries(
    Object.entries(out).map(([k, v]) => [k, v.length === 1 ? (v[0] as Buffer) : v]),
  );
}
