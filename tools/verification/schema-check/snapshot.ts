// Current contracts as JSON Schema, and the released snapshots on disk (schemas/released/).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ENVELOPE_VERSION, envelopeSchema } from '../../../lambdas/shared/events/envelope';
import { ORDER_EVENT_REGISTRY, ORDER_EVENT_TYPES } from '../../../lambdas/shared/events/orders';
import { canonicalize, type JsonSchema, type SchemaSnapshot } from './compare';

export const ENVELOPE_SNAPSHOT_NAME = 'Envelope';
export const RELEASED_DIR = resolve(__dirname, '..', '..', '..', 'schemas', 'released');

/**
 * The wire contract of a zod schema. `io: 'input'` because the wire carries what producers
 * write: a field with a default is optional there. Keys sorted so snapshots diff cleanly.
 */
export function toContractSchema(schema: z.ZodType): JsonSchema {
  return canonicalize(
    z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }),
  ) as JsonSchema;
}

export function currentSnapshots(): SchemaSnapshot[] {
  return [
    {
      name: ENVELOPE_SNAPSHOT_NAME,
      version: ENVELOPE_VERSION,
      schema: toContractSchema(envelopeSchema),
    },
    ...ORDER_EVENT_TYPES.map((eventType) => ({
      name: eventType,
      version: ORDER_EVENT_REGISTRY[eventType].currentVersion,
      schema: toContractSchema(ORDER_EVENT_REGISTRY[eventType].schema),
    })),
  ];
}

const snapshotFileSchema = z.object({
  name: z.string().min(1),
  version: z.string(),
  schema: z.record(z.string(), z.unknown()),
});

export function readReleased(dir: string = RELEASED_DIR): SchemaSnapshot[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return files.sort().map((file) => {
    const path = join(dir, file);
    const parsed = snapshotFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success) throw new Error(`${path}: not a schema snapshot: ${parsed.error.message}`);
    if (`${parsed.data.name}.json` !== file) {
      throw new Error(`${path}: names "${parsed.data.name}", expected ${file}`);
    }
    return parsed.data;
  });
}

/** Stable text: sorted keys, 2-space indent, final newline (Biome leaves it unchanged). */
export function serializeSnapshot(snapshot: SchemaSnapshot): string {
  const ordered = { name: snapshot.name, version: snapshot.version, schema: snapshot.schema };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export function writeReleased(snapshots: readonly SchemaSnapshot[], dir: string = RELEASED_DIR) {
  mkdirSync(dir, { recursive: true });
  for (const snapshot of snapshots) {
    writeFileSync(join(dir, `${snapshot.name}.json`), serializeSnapshot(snapshot));
  }
}
