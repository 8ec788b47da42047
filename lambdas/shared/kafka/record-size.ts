// How many bytes a message takes in a Kafka record batch (magic v2, no compression: our
// producers set none), as an upper bound, so that sends can be cut to stay under the topic's
// max.message.bytes, which the broker checks per partition batch. Varints are counted at their
// widest, so the estimate never falls below the real size.
import type { IHeaders, Message } from 'kafkajs';

/**
 * The batch header including the log overhead (baseOffset 8, batchLength 4), which the broker
 * counts against max.message.bytes: 8+4+4+1+4+2+4+8+8+8+2+4+4.
 */
export const BATCH_OVERHEAD_BYTES = 61;

const VARINT_MAX = 5;
const VARLONG_MAX = 10;
/** length, attributes, timestampDelta, offsetDelta, key length, value length, header count. */
export const RECORD_OVERHEAD_BYTES =
  VARINT_MAX + 1 + VARLONG_MAX + VARINT_MAX + VARINT_MAX + VARINT_MAX + VARINT_MAX;
/** A header's key length and value length. */
export const HEADER_OVERHEAD_BYTES = 2 * VARINT_MAX;

function bytesOf(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

function headerBytes(headers: IHeaders | undefined): number {
  let total = 0;
  for (const [key, value] of Object.entries(headers ?? {})) {
    // kafkajs writes one header per array element, each with the key.
    for (const v of Array.isArray(value) ? value : [value]) {
      total += HEADER_OVERHEAD_BYTES + bytesOf(key) + bytesOf(v);
    }
  }
  return total;
}

/** Upper bound of one record's bytes inside a batch (without the batch header). */
export function estimateRecordBytes(message: Message): number {
  return (
    RECORD_OVERHEAD_BYTES +
    bytesOf(message.key) +
    bytesOf(message.value) +
    headerBytes(message.headers)
  );
}

/** Whether a record can be sent at all: alone in its batch, within the limit. */
export function fitsAlone(recordBytes: number, maxMessageBytes: number): boolean {
  return BATCH_OVERHEAD_BYTES + recordBytes <= maxMessageBytes;
}

/**
 * Cuts items, in order, into chunks whose batch header plus records stay within the limit. A
 * chunk's share on any one partition is a subset of it, so no partition batch exceeds the limit
 * either. Every item must fit alone (see fitsAlone); one that does not throws.
 */
export function chunkBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxMessageBytes: number,
): T[][] {
  const budget = maxMessageBytes - BATCH_OVERHEAD_BYTES;
  const chunks: T[][] = [];
  let current: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (size > budget) throw new RangeError(`an item of ${size} bytes exceeds the limit alone`);
    if (used + size > budget) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
