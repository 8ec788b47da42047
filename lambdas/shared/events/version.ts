// Semantic versions of event schemas ("MAJOR.MINOR.PATCH", no pre-release tags: a schema
// version names a released contract, never a build).

export const SCHEMA_VERSION_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export interface SchemaVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** Returns undefined for anything that is not a plain MAJOR.MINOR.PATCH string. */
export function parseSchemaVersion(value: string): SchemaVersion | undefined {
  const match = SCHEMA_VERSION_PATTERN.exec(value);
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1).map(Number);
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch };
}

/** Negative when a < b, zero when equal, positive when a > b. */
export function compareSchemaVersions(a: SchemaVersion, b: SchemaVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}
