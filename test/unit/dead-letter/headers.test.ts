import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  headersFromKafkaJs,
  headersFromMsk,
  headerText,
  type KafkaJsHeaders,
  toKafkaJsHeaders,
  utf8Text,
} from '../../../lambdas/shared/dead-letter/headers';

/** kafkajs' record decoder (record/v0/decoder.js): header names looked up on a plain object. */
function kafkajsDecoded(
  headers: Array<{ key: string; value: Buffer | null }>,
): Record<string, unknown> {
  return headers.reduce(
    (obj: Record<string, unknown>, { key, value }) => ({
      // biome-ignore lint/performance/noAccumulatingSpread: kafkajs' decoder, as it is written
      ...obj,
      [key]:
        obj[key] === undefined
          ? value
          : Array.isArray(obj[key])
            ? (obj[key] as unknown[]).concat([value])
            : [obj[key], value],
    }),
    {},
  );
}

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

describe('headersFromMsk', () => {
  it('flattens the one-entry objects in order, keeping repeats', () => {
    const headers = headersFromMsk([
      { correlationId: [...Buffer.from('req-1')] },
      { trace: [0xff] },
      { correlationId: [...Buffer.from('req-2')] },
    ]);
    expect(headers).toEqual([
      { key: 'correlationId', value: Buffer.from('req-1') },
      { key: 'trace', value: Buffer.from([0xff]) },
      { key: 'correlationId', value: Buffer.from('req-2') },
    ]);
    expect(headerText(headers, 'correlationId')).toBe('req-2');
  });

  it('accepts no headers', () => {
    expect(headersFromMsk(undefined)).toEqual([]);
  });
});

describe('headersFromKafkaJs', () => {
  it('expands arrays and drops undefined', () => {
    expect(headersFromKafkaJs({ a: 'x', b: [Buffer.from('y'), 'z'], c: undefined })).toEqual([
      { key: 'a', value: 'x' },
      { key: 'b', value: Buffer.from('y') },
      { key: 'b', value: 'z' },
    ]);
  });
});

describe('header names that are Object.prototype members', () => {
  it('headersFromKafkaJs keeps their values and drops what the decoder mixed in', () => {
    const decoded = kafkajsDecoded([
      ...PROTO_NAMES.map((key) => ({ key, value: Buffer.from(`v-${key}`) })),
      { key: 'plain', value: Buffer.from('p') },
    ]);
    const headers = headersFromKafkaJs(decoded as KafkaJsHeaders);
    expect(headers.map((h) => [h.key, Buffer.from(h.value ?? '').toString()])).toEqual([
      ...PROTO_NAMES.map((key) => [key, `v-${key}`]),
      ['plain', 'p'],
    ]);
  });

  it('headersFromKafkaJs keeps null values, alone or repeated', () => {
    const decoded = kafkajsDecoded([
      { key: 'a', value: null },
      { key: 'b', value: null },
      { key: 'b', value: Buffer.from('x') },
    ]);
    expect(headersFromKafkaJs(decoded as KafkaJsHeaders)).toEqual([
      { key: 'a', value: null },
      { key: 'b', value: null },
      { key: 'b', value: Buffer.from('x') },
    ]);
  });

  it('toKafkaJsHeaders makes each name an own key, with repeats in order', () => {
    const h = toKafkaJsHeaders([
      ...PROTO_NAMES.map((key) => ({ key, value: key })),
      { key: 'constructor', value: 'again' },
    ]);
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
    expect(Object.keys(h)).toEqual(PROTO_NAMES);
    for (const key of PROTO_NAMES.filter((k) => k !== 'constructor')) {
      expect(Object.hasOwn(h, key)).toBe(true);
      expect(String(h[key])).toBe(key);
    }
    expect((h.constructor as unknown as Buffer[]).map(String)).toEqual(['constructor', 'again']);
  });

  it('toKafkaJsHeaders sends a null value as an empty one (kafkajs cannot send null)', () => {
    const h = toKafkaJsHeaders([{ key: 'n', value: null }]);
    expect(h.n).toEqual(Buffer.alloc(0));
  });

  it('headersFromMsk reads them from the MSK event as ordinary names', () => {
    const msk = JSON.parse('[{"__proto__":[120]},{"constructor":[121]}]');
    expect(headersFromMsk(msk).map((h) => h.key)).toEqual(['__proto__', 'constructor']);
  });
});

describe('utf8Text / headerText', () => {
  it('decodes UTF-8 and refuses other bytes', () => {
    expect(utf8Text(Buffer.from('ünïcode'))).toBe('ünïcode');
    expect(utf8Text(Uint8Array.from([0xc3, 0x28]))).toBeUndefined();
    expect(utf8Text(null)).toBeUndefined();
  });

  it('is undefined for a missing header or one without a value', () => {
    expect(headerText([{ key: 'a', value: null }], 'a')).toBeUndefined();
    expect(headerText([{ key: 'a', value: 'x' }], 'b')).toBeUndefined();
  });
});
