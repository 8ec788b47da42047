import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatTraceparent,
  newSpanId,
  newTraceContext,
  parseTraceparent,
  parseXRayTraceHeader,
  requestTraceContext,
  SYSTEM_TRACE_IDS,
  type TraceIds,
  toXRayTraceId,
  traceOf,
} from '../../../lambdas/shared/tracing/trace-context';

// The W3C Trace Context specification's own example ids.
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

const FIXED: TraceIds = {
  nowMs: () => 1_704_067_200_000, // 2024-01-01T00:00:00Z = 0x65920080 s
  randomHex: (bytes) => 'ab'.repeat(bytes),
};

describe('parseTraceparent', () => {
  it('reads a valid version-00 header, sampled or not', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: false,
    });
  });

  it('takes the sampled flag from bit 0 only', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-09`)?.sampled).toBe(true);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-02`)?.sampled).toBe(false);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-ff`)?.sampled).toBe(true);
  });

  it('ignores surrounding spaces and tabs (HTTP optional whitespace)', () => {
    expect(parseTraceparent(` \t${VALID}\t `)?.traceId).toBe(TRACE);
  });

  it.each([
    ['trace id one digit short', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['trace id one digit long', `00-${TRACE}0-${SPAN}-01`],
    ['span id one digit short', `00-${TRACE}-${SPAN.slice(1)}-01`],
    ['span id one digit long', `00-${TRACE}-${SPAN}0-01`],
    ['flags one digit', `00-${TRACE}-${SPAN}-1`],
    ['flags three digits', `00-${TRACE}-${SPAN}-011`],
    ['version one digit', `0-${TRACE}-${SPAN}-01`],
    ['upper-case trace id', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['upper-case span id', `00-${TRACE}-${SPAN.toUpperCase()}-01`],
    ['upper-case flags', `00-${TRACE}-${SPAN}-0A`],
    ['upper-case version', `0A-${TRACE}-${SPAN}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with a trailing field', `${VALID}-extra`],
    ['version 00 with a trailing dash', `${VALID}-`],
    ['a non-hex digit', `00-${TRACE.slice(0, 31)}g-${SPAN}-01`],
    ['underscores for dashes', `00_${TRACE}_${SPAN}_01`],
    ['no dashes', `00${TRACE}${SPAN}01`],
    ['two headers joined by a comma', `${VALID},${VALID}`],
    ['a newline inside', `00-${TRACE}\n-${SPAN}-01`],
    ['full-width digits', `００-${TRACE}-${SPAN}-01`],
    ['the empty string', ''],
    ['only spaces', '   '],
    ['over-long input', `${VALID}${'-0'.repeat(300)}`],
    ['a huge input', 'a'.repeat(100_000)],
  ])('rejects %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an array of headers', [VALID]],
    ['an object', { toString: () => VALID }],
  ])('rejects %s (not a string)', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('reads a later version by its first four fields, extra fields after a dash', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01`)?.traceId).toBe(TRACE);
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
    });
    // The flags must end the value or be followed by a dash.
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01what`)).toBeUndefined();
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}`)).toBeUndefined();
  });

  it('never throws, and whatever it accepts is well-formed (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.anything()), (value) => {
        const parsed = parseTraceparent(value);
        if (parsed === undefined) return;
        expect(parsed.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(parsed.spanId).toMatch(/^[0-9a-f]{16}$/);
      }),
    );
  });
});

describe('formatTraceparent', () => {
  it('writes version 00 with the sampled flag alone', () => {
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true })).toBe(VALID);
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: false })).toBe(
      `00-${TRACE}-${SPAN}-00`,
    );
    // Unknown flag bits are not carried on: only the sampled bit is defined in version 00.
    const read = parseTraceparent(`00-${TRACE}-${SPAN}-03`);
    expect(read && formatTraceparent(read)).toBe(VALID);
  });

  it('round-trips every valid context (property)', () => {
    const hex = (n: number) =>
      fc
        .uint8Array({ minLength: n, maxLength: n })
        .map((b) => Buffer.from(b).toString('hex'))
        .filter((h) => !/^0+$/.test(h));
    fc.assert(
      fc.property(hex(16), hex(8), fc.boolean(), (traceId, spanId, sampled) => {
        const context = { traceId, spanId, sampled };
        expect(parseTraceparent(formatTraceparent(context))).toEqual(context);
      }),
    );
  });
});

describe('parseXRayTraceHeader (Lambda _X_AMZN_TRACE_ID)', () => {
  const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
  const PARENT = '53995c3f42cd8ad8';

  it('maps Root, Parent and Sampled to the W3C fields', () => {
    expect(parseXRayTraceHeader(`Root=${ROOT};Parent=${PARENT};Sampled=1`)).toEqual({
      traceId: '5759e988bd862e3fe1be46a994272793',
      parentId: PARENT,
      sampled: true,
    });
  });

  it.each([
    ['Sampled=0', false],
    ['Sampled=?', false],
    ['Sampled=true', false],
  ])('reads %s as sampled %s', (field, sampled) => {
    expect(parseXRayTraceHeader(`Root=${ROOT};Parent=${PARENT};${field}`)?.sampled).toBe(sampled);
  });

  it('takes the fields in any order, ignores others and spaces around them', () => {
    expect(
      parseXRayTraceHeader(
        ` Sampled=1 ; Lineage=a87bd80c:1|68fd508a:5 ;Parent=${PARENT}; Root=${ROOT}`,
      ),
    ).toEqual({ traceId: '5759e988bd862e3fe1be46a994272793', parentId: PARENT, sampled: true });
  });

  it('keeps the root without a usable Parent, and reads no Sampled as not sampled', () => {
    expect(parseXRayTraceHeader(`Root=${ROOT}`)).toEqual({
      traceId: '5759e988bd862e3fe1be46a994272793',
      parentId: undefined,
      sampled: false,
    });
    expect(parseXRayTraceHeader(`Root=${ROOT};Parent=${PARENT.toUpperCase()}`)?.parentId).toBe(
      undefined,
    );
    expect(parseXRayTraceHeader(`Root=${ROOT};Parent=${'0'.repeat(16)}`)?.parentId).toBe(undefined);
  });

  it.each([
    ['no Root', `Parent=${PARENT};Sampled=1`],
    ['another version', 'Root=2-5759e988-bd862e3fe1be46a994272793'],
    ['an upper-case Root', `Root=${ROOT.toUpperCase()}`],
    ['a short Root', 'Root=1-5759e988-bd862e3fe1be46a99427279'],
    ['an all-zero Root', `Root=1-00000000-${'0'.repeat(24)}`],
    ['a Root without its dashes', 'Root=15759e988bd862e3fe1be46a994272793'],
    ['the empty string', ''],
    ['garbage', ';;==;'],
    ['over-long input', `Root=${ROOT};${'x'.repeat(600)}`],
    ['not a string', undefined],
  ])('rejects %s', (_name, header) => {
    expect(parseXRayTraceHeader(header)).toBeUndefined();
  });
});

describe('toXRayTraceId', () => {
  it("writes AWS's documented example", () => {
    expect(toXRayTraceId('4efaaf4d1e8720b39541901950019ee5')).toBe(
      '1-4efaaf4d-1e8720b39541901950019ee5',
    );
  });

  it('is the inverse of the Root mapping', () => {
    const root = '1-5759e988-bd862e3fe1be46a994272793';
    const read = parseXRayTraceHeader(`Root=${root}`);
    expect(read && toXRayTraceId(read.traceId)).toBe(root);
  });
});

describe('new ids', () => {
  it('starts a new trace with the epoch seconds first (a valid X-Ray trace id), sampled', () => {
    expect(newTraceContext(FIXED)).toEqual({
      traceId: `65920080${'ab'.repeat(12)}`,
      spanId: 'ab'.repeat(8),
      sampled: true,
    });
  });

  it('makes valid, distinct ids from the system source', () => {
    const a = newTraceContext(SYSTEM_TRACE_IDS);
    const b = newTraceContext(SYSTEM_TRACE_IDS);
    expect(parseTraceparent(formatTraceparent(a))).toEqual(a);
    expect(a.traceId).not.toBe(b.traceId);
    const seconds = Number.parseInt(a.traceId.slice(0, 8), 16);
    expect(Math.abs(seconds - Date.now() / 1000)).toBeLessThan(60);
  });

  it('never makes an all-zero span id', () => {
    const draws = ['0'.repeat(16), '0'.repeat(16), '0000000000000001'];
    const ids: TraceIds = { nowMs: Date.now, randomHex: () => draws.shift() ?? 'x' };
    expect(newSpanId(ids)).toBe('0000000000000001');
  });
});

describe('requestTraceContext', () => {
  const XRAY = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0';

  it('continues the X-Ray context first, and names a different caller trace', () => {
    expect(requestTraceContext({ xrayHeader: XRAY, traceparent: VALID }, FIXED)).toEqual({
      context: {
        traceId: '5759e988bd862e3fe1be46a994272793',
        spanId: '53995c3f42cd8ad8',
        sampled: false,
      },
      source: 'xray',
      callerTraceId: TRACE,
    });
    expect(requestTraceContext({ xrayHeader: XRAY }, FIXED)).not.toHaveProperty('callerTraceId');
  });

  it('gives an X-Ray context without a Parent a new span id', () => {
    const trace = requestTraceContext(
      { xrayHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' },
      FIXED,
    );
    expect(trace.context).toEqual({
      traceId: '5759e988bd862e3fe1be46a994272793',
      spanId: 'ab'.repeat(8),
      sampled: true,
    });
  });

  it("continues a valid caller's trace under a new span id, keeping its sampled flag", () => {
    expect(requestTraceContext({ traceparent: `00-${TRACE}-${SPAN}-00` }, FIXED)).toEqual({
      context: { traceId: TRACE, spanId: 'ab'.repeat(8), sampled: false },
      source: 'traceparent',
    });
  });

  it('starts a new sampled trace without a usable context', () => {
    for (const input of [
      {},
      { traceparent: null },
      { traceparent: 'nope', xrayHeader: 'Root=x' },
    ]) {
      expect(requestTraceContext(input, FIXED)).toEqual({
        context: newTraceContext(FIXED),
        source: 'new',
      });
    }
  });
});

describe('traceOf', () => {
  it('names the trace id and sampled flag of a valid header, nothing of an invalid one', () => {
    expect(traceOf(VALID)).toEqual({ traceId: TRACE, sampled: true });
    expect(traceOf(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, sampled: false });
    expect(traceOf('garbage')).toEqual({ sampled: false });
    expect(traceOf(undefined)).toEqual({ sampled: false });
  });
});
