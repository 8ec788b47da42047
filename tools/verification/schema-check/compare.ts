// Pure schema-compatibility rules (docs/ARCHITECTURE.md §5) over the JSON Schema
// subset zod's toJSONSchema emits. Events are stored and replayed, so a change is breaking
// when new code cannot read old events or old consumers cannot read new events.
import { compareSchemaVersions, parseSchemaVersion } from '../../../lambdas/shared/events/version';

export type JsonSchema = { readonly [key: string]: unknown };

/** One released or current contract: the envelope or an event type's payload. */
export interface SchemaSnapshot {
  readonly name: string;
  readonly version: string;
  readonly schema: JsonSchema;
}

export type ChangeKind =
  | 'REQUIRED_FIELD_REMOVED'
  | 'REQUIRED_FIELD_ADDED'
  | 'OPTIONAL_MADE_REQUIRED'
  | 'REQUIRED_MADE_OPTIONAL'
  | 'TYPE_CHANGED'
  | 'ENUM_VALUE_REMOVED'
  | 'ENUM_RESTRICTED'
  | 'CONSTRAINT_TIGHTENED'
  | 'UNKNOWN_FIELDS_REJECTED'
  | 'OPTIONAL_FIELD_ADDED'
  | 'OPTIONAL_FIELD_REMOVED'
  | 'ENUM_VALUE_ADDED'
  | 'ENUM_RELAXED'
  | 'CONSTRAINT_RELAXED'
  | 'DEFAULT_CHANGED';

export interface SchemaChange {
  readonly kind: ChangeKind;
  readonly breaking: boolean;
  /** Dotted field path, "[]" for array items, "|n" for a union branch; "" is the root. */
  readonly path: string;
  readonly message: string;
}

const BREAKING: ReadonlySet<ChangeKind> = new Set<ChangeKind>([
  'REQUIRED_FIELD_REMOVED',
  'REQUIRED_FIELD_ADDED',
  'OPTIONAL_MADE_REQUIRED',
  'REQUIRED_MADE_OPTIONAL',
  'TYPE_CHANGED',
  'ENUM_VALUE_REMOVED',
  'ENUM_RESTRICTED',
  'CONSTRAINT_TIGHTENED',
  'UNKNOWN_FIELDS_REJECTED',
]);

/** Every difference between two schemas that matters to producers or consumers. */
export function compareSchemas(before: JsonSchema, after: JsonSchema): SchemaChange[] {
  const changes: SchemaChange[] = [];
  compareNode(before, after, '', changes);
  return changes;
}

// --- node comparison ---------------------------------------------------------------------

function compareNode(before: JsonSchema, after: JsonSchema, path: string, out: SchemaChange[]) {
  const add = (kind: ChangeKind, message: string, at = path) =>
    out.push({ kind, breaking: BREAKING.has(kind), path: at, message });

  const oldTypes = typeKey(before);
  const newTypes = typeKey(after);
  if (oldTypes !== newTypes) {
    add('TYPE_CHANGED', `type changed from ${oldTypes} to ${newTypes}`);
    return; // Nothing below a changed type is comparable.
  }

  compareEnum(before, after, add);
  compareConstraints(before, after, add);
  if (!isDeepEqual(before.default, after.default)) {
    add(
      'DEFAULT_CHANGED',
      `default changed from ${JSON.stringify(before.default)} to ${JSON.stringify(after.default)} (events without the field change meaning)`,
    );
  }

  compareObject(before, after, path, out, add);

  const oldItems = asSchema(before.items);
  const newItems = asSchema(after.items);
  if (oldItems && newItems) compareNode(oldItems, newItems, `${path}[]`, out);

  compareUnion(before, after, path, out);
}

type Add = (kind: ChangeKind, message: string, at?: string) => void;

function compareObject(
  before: JsonSchema,
  after: JsonSchema,
  path: string,
  out: SchemaChange[],
  add: Add,
) {
  const oldProps = asRecord(before.properties);
  const newProps = asRecord(after.properties);
  const oldRequired = stringSet(before.required);
  const newRequired = stringSet(after.required);
  const names = [...new Set([...Object.keys(oldProps), ...Object.keys(newProps)])].sort();

  for (const name of names) {
    const at = joinPath(path, name);
    const oldProp = asSchema(oldProps[name]);
    const newProp = asSchema(newProps[name]);
    const wasRequired = oldRequired.has(name);
    const isRequired = newRequired.has(name);
    if (oldProp && !newProp) {
      if (wasRequired) {
        add(
          'REQUIRED_FIELD_REMOVED',
          'required field removed or renamed (deprecate it instead; old consumers need it)',
          at,
        );
      } else {
        add('OPTIONAL_FIELD_REMOVED', 'optional field removed', at);
      }
      continue;
    }
    if (!oldProp && newProp) {
      if (isRequired) {
        add(
          'REQUIRED_FIELD_ADDED',
          'new required field (events written before it lack it; make it optional with a default)',
          at,
        );
      } else {
        add('OPTIONAL_FIELD_ADDED', 'optional field added', at);
      }
      continue;
    }
    if (!oldProp || !newProp) continue;
    if (!wasRequired && isRequired) {
      add('OPTIONAL_MADE_REQUIRED', 'optional field made required (old events may lack it)', at);
    } else if (wasRequired && !isRequired) {
      add(
        'REQUIRED_MADE_OPTIONAL',
        'required field made optional (old consumers still require it; keep sending it)',
        at,
      );
    }
    compareNode(oldProp, newProp, at, out);
  }

  // `additionalProperties: false` would reject fields a newer producer adds.
  if (before.additionalProperties !== false && after.additionalProperties === false) {
    add(
      'UNKNOWN_FIELDS_REJECTED',
      'object now rejects unknown fields (consumers must ignore them)',
    );
  }
  const oldExtra = asSchema(before.additionalProperties);
  const newExtra = asSchema(after.additionalProperties);
  if (oldExtra && newExtra) compareNode(oldExtra, newExtra, joinPath(path, '*'), out);
}

function compareUnion(before: JsonSchema, after: JsonSchema, path: string, out: SchemaChange[]) {
  const oldBranches = branches(before);
  const newBranches = branches(after);
  if (oldBranches.length === 0 || newBranches.length === 0) return;
  // Pair branches by their type (e.g. the object and the null of a nullable object); branch
  // types added or removed already showed up as a type change of the union.
  const unmatched = newBranches.map((schema, index) => ({ schema, index }));
  oldBranches.forEach((oldBranch) => {
    const at = unmatched.findIndex((b) => typeKey(b.schema) === typeKey(oldBranch));
    const match = unmatched[at];
    if (!match) return;
    unmatched.splice(at, 1);
    compareNode(oldBranch, match.schema, `${path}|${match.index}`, out);
  });
}

function compareEnum(before: JsonSchema, after: JsonSchema, add: Add) {
  const oldValues = enumValues(before);
  const newValues = enumValues(after);
  if (!oldValues && !newValues) return;
  if (!oldValues && newValues) {
    add('ENUM_RESTRICTED', `now restricted to ${fmtValues(newValues)}`);
    return;
  }
  if (oldValues && !newValues) {
    add('ENUM_RELAXED', `no longer restricted to ${fmtValues(oldValues)}`);
    return;
  }
  const removed = (oldValues ?? []).filter(
    (v) => !(newValues ?? []).some((n) => isDeepEqual(v, n)),
  );
  const added = (newValues ?? []).filter((v) => !(oldValues ?? []).some((o) => isDeepEqual(v, o)));
  if (removed.length > 0) {
    add('ENUM_VALUE_REMOVED', `values removed: ${fmtValues(removed)} (old events may carry them)`);
  }
  if (added.length > 0) {
    add(
      'ENUM_VALUE_ADDED',
      `values added: ${fmtValues(added)} (consumers must know them before producers send them)`,
    );
  }
}

// Lower bounds: a higher value or a new bound tightens. Upper bounds: the reverse.
const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'];
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'];
// Any new or changed value of these may reject old data; only removal is safe.
const OPAQUE_CONSTRAINTS = ['pattern', 'format', 'multipleOf', 'uniqueItems'];

function compareConstraints(before: JsonSchema, after: JsonSchema, add: Add) {
  for (const key of [...LOWER_BOUNDS, ...UPPER_BOUNDS, ...OPAQUE_CONSTRAINTS]) {
    const was = before[key];
    const is = after[key];
    if (isDeepEqual(was, is)) continue;
    const desc = `${key} ${JSON.stringify(was) ?? '(none)'} → ${JSON.stringify(is) ?? '(none)'}`;
    let tightened: boolean;
    if (is === undefined) tightened = false;
    else if (was === undefined) tightened = true;
    else if (LOWER_BOUNDS.includes(key)) tightened = Number(is) > Number(was);
    else if (UPPER_BOUNDS.includes(key)) tightened = Number(is) < Number(was);
    else tightened = true;
    if (tightened) add('CONSTRAINT_TIGHTENED', `${desc} (old events may fail it)`);
    else add('CONSTRAINT_RELAXED', `${desc} (old consumers may reject new values)`);
  }
}

// --- version rules -----------------------------------------------------------------------

export interface CheckResult {
  readonly name: string;
  readonly releasedVersion: string | undefined;
  readonly currentVersion: string | undefined;
  readonly changes: readonly SchemaChange[];
  /** Failures: the check exits non-zero when any result has one. */
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly notes: readonly string[];
}

/**
 * Applies the version rules to one contract: breaking changes need a MAJOR bump, versions
 * never go down, compatible changes should bump MINOR or PATCH (a warning, not a failure).
 */
export function checkSnapshot(
  released: SchemaSnapshot | undefined,
  current: SchemaSnapshot | undefined,
): CheckResult {
  const name = current?.name ?? released?.name ?? '(unnamed)';
  const errors: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const result = (changes: readonly SchemaChange[] = []): CheckResult => ({
    name,
    releasedVersion: released?.version,
    currentVersion: current?.version,
    changes,
    errors,
    warnings,
    notes,
  });

  if (!released && !current) return result();
  if (!current) {
    errors.push('released but no longer defined (replayed events would be rejected; keep it)');
    return result();
  }
  const currentVersion = parseSchemaVersion(current.version);
  if (!currentVersion) {
    errors.push(`current version "${current.version}" is not MAJOR.MINOR.PATCH`);
    return result();
  }
  if (!released) {
    notes.push(`new, not released yet (${current.version}); run with --release to snapshot it`);
    return result();
  }
  const releasedVersion = parseSchemaVersion(released.version);
  if (!releasedVersion) {
    errors.push(`released version "${released.version}" is not MAJOR.MINOR.PATCH`);
    return result();
  }

  const changes = compareSchemas(released.schema, current.schema);
  const breaking = changes.filter((c) => c.breaking);
  const order = compareSchemaVersions(currentVersion, releasedVersion);
  if (order < 0) {
    errors.push(`version went down: released ${released.version}, current ${current.version}`);
  }
  if (breaking.length > 0) {
    if (currentVersion.major > releasedVersion.major) {
      notes.push(
        `${breaking.length} breaking change(s) allowed by the MAJOR bump ${released.version} → ${current.version}; ` +
          `every consumer must list major ${currentVersion.major} in knownMajors before any producer emits it`,
      );
    } else {
      errors.push(
        ...breaking.map((c) => `breaking: ${c.path || '(root)'}: ${c.message} [${c.kind}]`),
        `breaking changes need a MAJOR bump (released ${released.version}, current ${current.version})`,
      );
    }
  } else if (changes.length > 0 && order === 0) {
    warnings.push(
      `compatible schema change(s) without a version bump: bump MINOR (new fields) or PATCH (still ${current.version})`,
    );
  }
  return result(changes);
}

export interface CheckAllResult {
  readonly ok: boolean;
  readonly results: readonly CheckResult[];
}

/** Checks every contract present on either side, matched by name. */
export function checkAll(
  released: readonly SchemaSnapshot[],
  current: readonly SchemaSnapshot[],
): CheckAllResult {
  const names = [...new Set([...released, ...current].map((s) => s.name))].sort();
  const results = names.map((name) =>
    checkSnapshot(
      released.find((s) => s.name === name),
      current.find((s) => s.name === name),
    ),
  );
  return { ok: results.every((r) => r.errors.length === 0), results };
}

/** Human-readable report: one block per contract, failures first in each. */
export function formatCheck(check: CheckAllResult): string {
  const lines: string[] = [];
  for (const r of check.results) {
    const status = r.errors.length > 0 ? 'FAIL' : r.warnings.length > 0 ? 'WARN' : 'ok';
    const versions = `${r.releasedVersion ?? '(unreleased)'} → ${r.currentVersion ?? '(removed)'}`;
    lines.push(`${status.padEnd(4)} ${r.name} ${versions}`);
    for (const e of r.errors) lines.push(`     error: ${e}`);
    for (const w of r.warnings) lines.push(`     warning: ${w}`);
    for (const n of r.notes) lines.push(`     note: ${n}`);
    for (const c of r.changes.filter((x) => !x.breaking)) {
      lines.push(`     compatible: ${c.path || '(root)'}: ${c.message} [${c.kind}]`);
    }
  }
  lines.push(check.ok ? 'schema check passed' : 'schema check FAILED');
  return lines.join('\n');
}

// --- JSON Schema helpers -----------------------------------------------------------------

function asSchema(value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;
}

function asRecord(value: unknown): Record<string, unknown> {
  return (asSchema(value) ?? {}) as Record<string, unknown>;
}

function stringSet(value: unknown): Set<string> {
  return new Set(Array.isArray(value) ? value.filter((v) => typeof v === 'string') : []);
}

function branches(schema: JsonSchema): JsonSchema[] {
  const list = schema.anyOf ?? schema.oneOf;
  if (!Array.isArray(list)) return [];
  return list.flatMap((b): JsonSchema[] => {
    const schema = asSchema(b);
    return schema ? [schema] : [];
  });
}

/** Sorted JSON types a node admits, e.g. "integer", "null|object"; "any" when unconstrained. */
export function typeKey(schema: JsonSchema): string {
  const types = new Set<string>();
  collectTypes(schema, types);
  return types.size === 0 ? 'any' : [...types].sort().join('|');
}

function collectTypes(schema: JsonSchema, into: Set<string>) {
  const union = branches(schema);
  if (union.length > 0) {
    for (const branch of union) {
      const key = typeKey(branch);
      if (key === 'any') into.add('any');
      else for (const t of key.split('|')) into.add(t);
    }
    return;
  }
  if (typeof schema.type === 'string') into.add(schema.type);
  else if (Array.isArray(schema.type)) for (const t of schema.type) into.add(String(t));
  else if (typeof schema.$ref === 'string') into.add(`ref:${schema.$ref}`);
  else for (const v of enumValues(schema) ?? []) into.add(jsonType(v));
}

function enumValues(schema: JsonSchema): readonly unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum;
  if ('const' in schema) return [schema.const];
  return undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function fmtValues(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

function joinPath(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonicalize(a)) === JSON.stringify(canonicalize(b));
}

/** Same value with object keys sorted at every depth (arrays keep their order). */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return Object.fromEntries(entries.map(([k, v]) => [k, canonicalize(v)]));
  }
  return value;
}
