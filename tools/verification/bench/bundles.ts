// Builds each function's bundle exactly as the CDK construct does (the construct's exported
// esbuild options), with esbuild's metafile to tell what takes the space.
import { cpSync, mkdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { type BuildOptions, build, type Format, type Metafile } from 'esbuild';
import { PIPELINE_BUNDLING, REPO_ROOT } from '../../../lib/constructs/pipeline-function';
import type { FunctionKey } from './report';

/** Handler entry of each function under lambdas/ (as the stacks pass it to the construct). */
export const FUNCTION_ENTRIES: Readonly<Record<FunctionKey, string>> = {
  orderApi: 'order-api/handler.ts',
  outboxRelay: 'outbox-relay/handler.ts',
  orderConsumer: 'order-consumer/handler.ts',
  dlqTriage: 'dlq-triage/handler.ts',
  migrate: 'migrate/handler.ts',
  kafkaTopics: 'kafka-topics/handler.ts',
};

const FORMATS: Record<nodejs.OutputFormat, Format> = {
  [nodejs.OutputFormat.ESM]: 'esm',
  [nodejs.OutputFormat.CJS]: 'cjs',
};

/** The CDK's `bundling` props, as aws-lambda-nodejs turns them into esbuild CLI flags. */
export type CdkBundling = typeof PIPELINE_BUNDLING;

/**
 * esbuild's API options for the CDK's bundling props: aws-lambda-nodejs passes `--bundle`,
 * `--target`, `--platform`, `--format`, `--outfile=index.mjs` (ESM), `--minify`,
 * `--sourcemap`, `--sources-content`, `--external:*`, `--banner:js` and `--main-fields`.
 */
export function esbuildOptions(
  bundling: CdkBundling,
  entry: string,
  outdir: string,
): BuildOptions & { outfile: string } {
  return {
    entryPoints: [entry],
    bundle: true,
    outfile: path.join(outdir, FORMATS[bundling.format] === 'esm' ? 'index.mjs' : 'index.js'),
    target: bundling.target,
    platform: bundling.platform,
    format: FORMATS[bundling.format],
    minify: bundling.minify,
    sourcemap: bundling.sourceMap,
    sourcesContent: bundling.sourcesContent,
    mainFields: [...bundling.mainFields],
    external: [...bundling.externalModules],
    banner: { js: bundling.banner },
    logLevel: 'warning',
  };
}

/** Output bytes per npm package (or `(project)` for the repository's own code), largest first. */
export function bytesByPackage(metafile: Metafile, outfile: string): Array<[string, number]> {
  const output = Object.entries(metafile.outputs).find(([file]) =>
    path.resolve(file).endsWith(path.resolve(outfile)),
  )?.[1];
  if (output === undefined) return [];
  const totals = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(project)';
    totals.set(pkg, (totals.get(pkg) ?? 0) + bytesInOutput);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

export interface BuiltBundle {
  readonly fn: FunctionKey;
  readonly dir: string;
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
  /** The ten largest contributors. */
  readonly topPackages: Array<[string, number]>;
}

/** Builds every function into `<outRoot>/<fn>/`; migrate gets its SQL copied as CDK does. */
export async function buildFunctionBundles(
  outRoot: string,
  functions: readonly FunctionKey[],
): Promise<BuiltBundle[]> {
  const built: BuiltBundle[] = [];
  for (const fn of functions) {
    const dir = path.join(outRoot, fn);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const options = esbuildOptions(
      PIPELINE_BUNDLING,
      path.join(REPO_ROOT, 'lambdas', FUNCTION_ENTRIES[fn]),
      dir,
    );
    const result = await build({ ...options, metafile: true });
    if (fn === 'migrate') {
      // lib/stacks/data-stack.ts copies the migrations next to the bundle (copyIntoBundle).
      cpSync(path.join(REPO_ROOT, 'lambdas/migrate/migrations'), path.join(dir, 'migrations'), {
        recursive: true,
      });
    }
    built.push({
      fn,
      dir,
      file: options.outfile,
      bytes: statSync(options.outfile).size,
      mapBytes: statSync(`${options.outfile}.map`).size,
      topPackages: bytesByPackage(result.metafile, options.outfile).slice(0, 10),
    });
  }
  return built;
}

/**
 * Bundles a bench helper (child-process entry) the same way, so children run plain `node` on
 * bundled code as Lambda does, without a TypeScript loader in the measured process.
 */
export async function buildHelper(entry: string, outfile: string): Promise<string> {
  mkdirSync(path.dirname(outfile), { recursive: true });
  await build({
    ...esbuildOptions(PIPELINE_BUNDLING, entry, path.dirname(outfile)),
    outfile,
    // Helpers are not measured for size; readable stack traces matter more.
    minify: false,
  });
  return outfile;
}
