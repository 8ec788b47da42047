import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  headersFromKafkaJs,
  headersFromMsk,
  headerText,
  utf8Text,
} from '../../../lambdas/shared/dead-letter/headers';

describe('headersFromMsk', () => {
  it('flattens the one-entry objects in order, keeping repeats', () => {
    const headers = headersFromMsk([
      { correlationId: [...Buffer.from('req-1')] },
      { trace: [0xff] },
      { correlationId: [...Buffer.from('req-2')] },
    ]);
    expect(headers).toEqual([
      { key: 'correlationId', value: Uint8Array.from(Buffer.from('req-1')) },
      { key: 'trace', value: Uint8Array.from([0xff]) },
      { key: 'correlationId', value: Uint8Array.from(Buffer.from('req-2')) },
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
