import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../lib/config/stage-config';
import { buildPipeline } from '../../lib/pipeline';

describe('Lambda bundles', () => {
  it('builds every function as an ESM bundle with a source map; migrate carries its SQL', () => {
    const app = new App({ context: { stage: 'dev' } });
    const config = loadStageConfig('dev');
    const stacks = buildPipeline(app, config);
    const assembly = app.synth();

    const assetDirs = new Map<string, string>();
    for (const stack of [stacks.data, stacks.streaming, stacks.service]) {
      const template = assembly.getStackByName(stack.stackName).template as {
        Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      };
      for (const r of Object.values(template.Resources)) {
        const name = r.Properties.FunctionName;
        if (r.Type !== 'AWS::Lambda::Function' || typeof name !== 'string') continue;
        const key = JSON.stringify((r.Properties.Code as { S3Key: unknown }).S3Key);
        const hash = /([0-9a-f]{64})\.zip/.exec(key)?.[1];
        if (hash) assetDirs.set(name, path.join(assembly.directory, `asset.${hash}`));
      }
    }
    expect([...assetDirs.keys()].sort()).toEqual(
      Object.values(config.functions)
        .map((f) => f.name)
        .sort(),
    );
    for (const [name, dir] of assetDirs) {
      const files = readdirSync(dir);
      expect(files, name).toEqual(expect.arrayContaining(['index.mjs', 'index.mjs.map']));
      const code = readFileSync(path.join(dir, 'index.mjs'), 'utf8');
      // CJS dependencies inside an ESM bundle need the createRequire banner.
      expect(code.startsWith('import { createRequire as __cr }'), name).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*handler/);
      // No MSK control-plane client: the brokers come from the environment (resolved at deploy
      // time by the streaming stack), not from GetBootstrapBrokers at cold start.
      const map = JSON.parse(readFileSync(path.join(dir, 'index.mjs.map'), 'utf8')) as {
        sources: string[];
      };
      expect(map.sources.length, name).toBeGreaterThan(10);
      expect(
        map.sources.filter((s) => s.includes('@aws-sdk/client-kafka/')),
        name,
      ).toEqual([]);
    }
    const migrate = assetDirs.get(config.functions.migrate.name) ?? '';
    expect(existsSync(path.join(migrate, 'migrations', '0001_initial-schema.sql'))).toBe(true);
  });
});
