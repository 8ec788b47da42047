import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { orderPlacedSchema } from '../../../../lambdas/shared/events/orders';
import {
  type ChangeKind,
  checkAll,
  checkSnapshot,
  compareSchemas,
  formatCheck,
  type JsonSchema,
  type SchemaSnapshot,
  typeKey,
} from '../../../../tools/verification/schema-check/compare';
import {
  currentSnapshots,
  readReleased,
  serializeSnapshot,
  toContractSchema,
  writeReleased,
} from '../../../../tools/verification/schema-check/snapshot';

const str = { type: 'string' };
const int = { type: 'integer' };

function obj(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: 'object', properties, required };
}

const kinds = (before: JsonSchema, after: JsonSchema) =>
  compareSchemas(before, after).map((c) => [c.kind, c.path, c.breaking]);

describe('compareSchemas (synthetic JSON Schema)', () => {
  const base = obj({ id: str, qty: int, note: str }, ['id', 'qty']);

  it.each<[string, JsonSchema, JsonSchema, [ChangeKind, string, boolean][]]>([
    ['identical', base, base, []],
    [
      'required field removed',
      base,
      obj({ qty: int, note: str }, ['qty']),
      [['REQUIRED_FIELD_REMOVED', 'id', true]],
    ],
    [
      'required field renamed',
      base,
      obj({ ident: str, qty: int, note: str }, ['ident', 'qty']),
      [
        ['REQUIRED_FIELD_REMOVED', 'id', true],
        ['REQUIRED_FIELD_ADDED', 'ident', true],
      ],
    ],
    [
      'new required field',
      base,
      obj({ id: str, qty: int, note: str, sku: str }, ['id', 'qty', 'sku']),
      [['REQUIRED_FIELD_ADDED', 'sku', true]],
    ],
    [
      'new optional field',
      base,
      obj({ id: str, qty: int, note: str, sku: str }, ['id', 'qty']),
      [['OPTIONAL_FIELD_ADDED', 'sku', false]],
    ],
    [
      'optional field made required',
      base,
      obj({ id: str, qty: int, note: str }, ['id', 'qty', 'note']),
      [['OPTIONAL_MADE_REQUIRED', 'note', true]],
    ],
    [
      'required field made optional',
      base,
      obj({ id: str, qty: int, note: str }, ['id']),
      [['REQUIRED_MADE_OPTIONAL', 'qty', true]],
    ],
    [
      'optional field removed',
      base,
      obj({ id: str, qty: int }, ['id', 'qty']),
      [['OPTIONAL_FIELD_REMOVED', 'note', false]],
    ],
    [
      'type changed',
      base,
      obj({ id: str, qty: str, note: str }, ['id', 'qty']),
      [['TYPE_CHANGED', 'qty', true]],
    ],
    [
      'integer widened to number',
      base,
      obj({ id: str, qty: { type: 'number' }, note: str }, ['id', 'qty']),
      [['TYPE_CHANGED', 'qty', true]],
    ],
    [
      'made nullable',
      base,
      obj({ id: str, qty: int, note: { anyOf: [str, { type: 'null' }] } }, ['id', 'qty']),
      [['TYPE_CHANGED', 'note', true]],
    ],
    ['root type changed', base, { type: 'array', items: base }, [['TYPE_CHANGED', '', true]]],
    [
      'unknown fields now rejected',
      base,
      { ...base, additionalProperties: false },
      [['UNKNOWN_FIELDS_REJECTED', '', true]],
    ],
  ])('%s', (_name, before, after, expected) => {
    expect(kinds(before, after)).toEqual(expected);
  });

  it.each<[string, JsonSchema, JsonSchema, [ChangeKind, boolean][]]>([
    [
      'enum value removed',
      { type: 'string', enum: ['A', 'B'] },
      { type: 'string', enum: ['A'] },
      [['ENUM_VALUE_REMOVED', true]],
    ],
    [
      'enum value added',
      { type: 'string', enum: ['A'] },
      { type: 'string', enum: ['A', 'B'] },
      [['ENUM_VALUE_ADDED', false]],
    ],
    [
      'enum reordered',
      { type: 'string', enum: ['A', 'B'] },
      { type: 'string', enum: ['B', 'A'] },
      [],
    ],
    [
      'free string restricted to enum',
      str,
      { type: 'string', enum: ['A'] },
      [['ENUM_RESTRICTED', true]],
    ],
    [
      'enum relaxed to free string',
      { type: 'string', enum: ['A'] },
      str,
      [['ENUM_RELAXED', false]],
    ],
    [
      'const changed',
      { type: 'string', const: 'v1' },
      { type: 'string', const: 'v2' },
      [
        ['ENUM_VALUE_REMOVED', true],
        ['ENUM_VALUE_ADDED', false],
      ],
    ],
    [
      'minimum raised',
      { type: 'integer', minimum: 0 },
      { type: 'integer', minimum: 1 },
      [['CONSTRAINT_TIGHTENED', true]],
    ],
    [
      'minimum lowered',
      { type: 'integer', minimum: 1 },
      { type: 'integer', minimum: 0 },
      [['CONSTRAINT_RELAXED', false]],
    ],
    [
      'maxLength lowered',
      { type: 'string', maxLength: 10 },
      { type: 'string', maxLength: 5 },
      [['CONSTRAINT_TIGHTENED', true]],
    ],
    ['maxLength removed', { type: 'string', maxLength: 10 }, str, [['CONSTRAINT_RELAXED', false]]],
    [
      'pattern added',
      str,
      { type: 'string', pattern: '^[A-Z]+$' },
      [['CONSTRAINT_TIGHTENED', true]],
    ],
    [
      'pattern changed',
      { type: 'string', pattern: '^a' },
      { type: 'string', pattern: '^b' },
      [['CONSTRAINT_TIGHTENED', true]],
    ],
    [
      'default changed',
      { type: 'string', default: 'a' },
      { type: 'string', default: 'b' },
      [['DEFAULT_CHANGED', false]],
    ],
    ['unconstrained became typed', {}, str, [['TYPE_CHANGED', true]]],
  ])('%s', (_name, before, after, expected) => {
    expect(compareSchemas(before, after).map((c) => [c.kind, c.breaking])).toEqual(expected);
  });

  it('finds changes nested in arrays and union branches, with their paths', () => {
    const before = obj({
      items: { type: 'array', items: obj({ sku: str, qty: int }, ['sku', 'qty']) },
      ship: { anyOf: [obj({ carrier: str }, ['carrier']), { type: 'null' }] },
    });
    const after = obj({
      items: { type: 'array', items: obj({ qty: str }, ['qty']) },
      ship: { anyOf: [{ type: 'null' }, obj({ carrier: str }, [])] },
    });
    expect(kinds(before, after)).toEqual([
      ['TYPE_CHANGED', 'items[].qty', true],
      ['REQUIRED_FIELD_REMOVED', 'items[].sku', true],
      ['REQUIRED_MADE_OPTIONAL', 'ship|1.carrier', true],
    ]);
  });

  it.each([
    [{ type: 'string' }, 'string'],
    [{ type: ['null', 'string'] }, 'null|string'],
    [{ anyOf: [{ type: 'integer' }, { type: 'null' }] }, 'integer|null'],
    [{ const: 3 }, 'integer'],
    [{ enum: ['a', 1.5] }, 'number|string'],
    [{}, 'any'],
  ])('typeKey(%j) = %s', (schema, expected) => {
    expect(typeKey(schema)).toBe(expected);
  });
});

describe('compareSchemas (real zod schemas)', () => {
  const before = toContractSchema(orderPlacedSchema);
  const breakingKinds = (after: z.ZodType) =>
    compareSchemas(before, toContractSchema(after))
      .filter((c) => c.breaking)
      .map((c) => `${c.kind}@${c.path}`);

  it.each<[string, z.ZodType, string[]]>([
    ['unchanged', orderPlacedSchema, []],
    [
      'required field removed',
      orderPlacedSchema.omit({ customerId: true }),
      ['REQUIRED_FIELD_REMOVED@customerId'],
    ],
    ['optional field added', orderPlacedSchema.extend({ note: z.string().optional() }), []],
    [
      'optional field with a default added',
      orderPlacedSchema.extend({ channel: z.enum(['web', 'app']).default('web') }),
      [],
    ],
    [
      'new required field',
      orderPlacedSchema.extend({ channel: z.string() }),
      ['REQUIRED_FIELD_ADDED@channel'],
    ],
    [
      'required field made optional',
      orderPlacedSchema.extend({ customerId: z.string().min(1).max(200).optional() }),
      ['REQUIRED_MADE_OPTIONAL@customerId'],
    ],
    [
      'type changed',
      orderPlacedSchema.extend({ totalMinor: z.string() }),
      ['TYPE_CHANGED@totalMinor'],
    ],
    [
      'nested type changed',
      orderPlacedSchema.extend({
        items: z
          .array(
            z.object({
              sku: z.string().min(1).max(200),
              quantity: z.string(),
              unitPriceMinor: z.number().int().nonnegative(),
            }),
          )
          .min(1),
      }),
      ['TYPE_CHANGED@items[].quantity'],
    ],
    [
      'unknown fields rejected',
      z.strictObject(orderPlacedSchema.shape),
      ['UNKNOWN_FIELDS_REJECTED@'],
    ],
  ])('%s', (_name, after, expected) => {
    expect(breakingKinds(after)).toEqual(expected);
  });

  it('optional field made required is breaking', () => {
    const v1 = z.object({ orderId: z.string(), note: z.string().optional() });
    const v2 = z.object({ orderId: z.string(), note: z.string() });
    expect(kinds(toContractSchema(v1), toContractSchema(v2))).toEqual([
      ['OPTIONAL_MADE_REQUIRED', 'note', true],
    ]);
  });

  it('enum value removed is breaking, added is not', () => {
    const v1 = toContractSchema(z.object({ reason: z.enum(['customer', 'fraud']) }));
    const removed = toContractSchema(z.object({ reason: z.enum(['customer']) }));
    const added = toContractSchema(z.object({ reason: z.enum(['customer', 'fraud', 'stock']) }));
    expect(kinds(v1, removed)).toEqual([['ENUM_VALUE_REMOVED', 'reason', true]]);
    expect(kinds(v1, added)).toEqual([['ENUM_VALUE_ADDED', 'reason', false]]);
  });

  it('snapshots are deterministic and key-sorted', () => {
    const a = serializeSnapshot({
      name: 'X',
      version: '1.0.0',
      schema: toContractSchema(orderPlacedSchema),
    });
    const b = serializeSnapshot({
      name: 'X',
      version: '1.0.0',
      schema: toContractSchema(orderPlacedSchema),
    });
    expect(a).toBe(b);
    const keys = Object.keys(toContractSchema(orderPlacedSchema));
    expect(keys).toEqual([...keys].sort());
  });
});

describe('checkSnapshot (version rules)', () => {
  const v1 = toContractSchema(z.object({ orderId: z.string(), note: z.string().optional() }));
  const removedNote = toContractSchema(z.object({ orderId: z.string() }));
  const addedOptional = toContractSchema(
    z.object({ orderId: z.string(), note: z.string().optional(), tag: z.string().default('') }),
  );
  const madeRequired = toContractSchema(z.object({ orderId: z.string(), note: z.string() }));
  const retyped = toContractSchema(z.object({ orderId: z.number(), note: z.string().optional() }));
  const snap = (version: string, schema: JsonSchema): SchemaSnapshot => ({
    name: 'E',
    version,
    schema,
  });

  it.each<[string, string, JsonSchema, string, 'pass' | 'warn' | 'fail']>([
    ['no change, same version', '1.0.0', v1, '1.0.0', 'pass'],
    ['no change, patch bump', '1.0.0', v1, '1.0.1', 'pass'],
    ['optional field added with minor bump', '1.0.0', addedOptional, '1.1.0', 'pass'],
    ['optional field added without bump', '1.0.0', addedOptional, '1.0.0', 'warn'],
    ['optional field removed without bump', '1.0.0', removedNote, '1.0.0', 'warn'],
    ['field made required, minor bump', '1.0.0', madeRequired, '1.1.0', 'fail'],
    ['field made required, major bump', '1.0.0', madeRequired, '2.0.0', 'pass'],
    ['type changed, same version', '1.2.3', retyped, '1.2.3', 'fail'],
    ['type changed, major bump', '1.2.3', retyped, '2.0.0', 'pass'],
    ['version went down', '1.2.0', v1, '1.1.9', 'fail'],
    ['major went down with a breaking change', '2.0.0', retyped, '1.0.0', 'fail'],
    ['current version malformed', '1.0.0', v1, '1.0', 'fail'],
    ['released version malformed', 'one', v1, '1.0.0', 'fail'],
  ])('%s', (_name, releasedVersion, after, currentVersion, outcome) => {
    const r = checkSnapshot(snap(releasedVersion, v1), snap(currentVersion, after));
    const actual = r.errors.length > 0 ? 'fail' : r.warnings.length > 0 ? 'warn' : 'pass';
    expect(actual).toBe(outcome);
  });

  it('a major bump passes but reminds that consumers must know the new major', () => {
    const r = checkSnapshot(snap('1.0.0', v1), snap('2.0.0', madeRequired));
    expect(r.errors).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/knownMajors/);
  });

  it('lists each breaking change with its path when the major was not bumped', () => {
    const r = checkSnapshot(snap('1.0.0', v1), snap('1.1.0', retyped));
    expect(r.errors[0]).toBe(
      'breaking: orderId: type changed from string to number [TYPE_CHANGED]',
    );
    expect(r.errors).toHaveLength(2);
  });

  it('a new contract passes with a note; a removed one fails', () => {
    const added = checkAll([], [snap('1.0.0', v1)]);
    expect(added.ok).toBe(true);
    expect(added.results[0]?.notes[0]).toMatch(/not released yet/);
    const removed = checkAll([snap('1.0.0', v1)], []);
    expect(removed.ok).toBe(false);
    expect(formatCheck(removed)).toMatch(/FAIL E 1\.0\.0 → \(removed\)[\s\S]*schema check FAILED/);
  });
});

describe('released snapshots (schemas/released)', () => {
  it('the committed snapshots cover every current contract and the check passes', () => {
    const released = readReleased();
    const current = currentSnapshots();
    expect(released.map((s) => s.name).sort()).toEqual(current.map((s) => s.name).sort());
    const check = checkAll(released, current);
    expect(check.ok, formatCheck(check)).toBe(true);
  });

  describe('write and read back', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('round-trips and then detects a breaking change', () => {
      dir = mkdtempSync(join(tmpdir(), 'schema-check-'));
      const current = currentSnapshots();
      writeReleased(current, dir);
      const byName = (a: SchemaSnapshot, b: SchemaSnapshot) => a.name.localeCompare(b.name);
      expect(readReleased(dir)).toEqual([...current].sort(byName));
      expect(readFileSync(join(dir, 'OrderPlaced.json'), 'utf8')).toBe(
        serializeSnapshot(current.find((s) => s.name === 'OrderPlaced') as SchemaSnapshot),
      );
      const broken = current.map((s) =>
        s.name === 'OrderShipped'
          ? { ...s, schema: toContractSchema(z.object({ orderId: z.string() })) }
          : s,
      );
      expect(checkAll(readReleased(dir), broken).ok).toBe(false);
    });

    it('a missing folder means nothing released yet', () => {
      expect(readReleased(join(tmpdir(), 'schema-check-does-not-exist'))).toEqual([]);
    });
  });
});
