// The operator CLIs' one skeleton (dlq, outbox): flags, usage errors, output, database, exit codes.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type pg from 'pg';
import { createPool } from '../../lambdas/shared/db/pool';
import { EnvError, type EnvRecord, parsePgEndpointEnv } from '../../lambdas/shared/env';
import { pgTimeouts } from '../../lib/config/function-environment';
import { loadStageConfig } from '../../lib/config/stage-config';

/** 0 done, 1 failure or aborted, 2 wrong usage or a refusal. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Wrong invocation: exit code 2, with the usage text. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Output {
  /** Results (stdout). */
  out(line: string): void;
  /** Progress, warnings and errors (stderr), so `--json` output stays parseable. */
  err(line: string): void;
}

export const stdioOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

// --- arguments ------------------------------------------------------------------------------

/** No command, `help`, `--help` or `-h`. */
export function isHelp(command: string | undefined): boolean {
  return command === undefined || ['help', '--help', '-h'].includes(command);
}

/**
 * One subcommand's flags and positionals. node:util reports unknown flags and missing values
 * as TypeErrors: usage errors here.
 */
export function parseFlags<const O extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: O,
) {
  try {
    return parseArgs({ args: [...args], strict: true, allowPositionals: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function noArguments(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`${command} takes no arguments: ${positionals[0]}`);
  }
}

/** The one id a command acts on, as written (the caller validates its form). */
export function oneId(command: string, positionals: readonly string[]): string {
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new UsageError(`${command} takes exactly one id`);
  return id;
}

/** `--flag N` as an integer from 1 to max. */
export function positiveInt(flag: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`--${flag} must be an integer from 1 to ${max}, got "${text}"`);
  }
  return Number(text);
}

// --- output ---------------------------------------------------------------------------------

/** Left-aligned columns two spaces apart; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// --- the stage's database -------------------------------------------------------------------

/**
 * The stage's database from the PG* endpoint variables: at most 2 connections (an operator's
 * commands run one at a time), named `<cli>-cli` in pg_stat_activity. PG_POOL_MAX sizes the
 * functions' pools, not this one.
 */
export function cliPool(name: string, env: EnvRecord = process.env): pg.Pool {
  // The stage's client timeouts (STAGE; dev when unset or local): an unreachable proxy fails fast.
  const stage =
    env.STAGE === undefined || env.STAGE === '' || env.STAGE === 'local' ? 'dev' : env.STAGE;
  return createPool(
    { ...parsePgEndpointEnv(env), poolMax: 2, timeouts: pgTimeouts(loadStageConfig(stage)) },
    { applicationName: `${name}-cli` },
  );
}

// --- the process ----------------------------------------------------------------------------

export interface Cli<C extends { readonly kind: string }> {
  /** Prefixes every message (`dlq: …`). */
  readonly name: string;
  readonly usage: string;
  /** argv → command; throws a UsageError on a wrong call. */
  readonly parse: (argv: readonly string[]) => C;
  /** Connects to the stage's services, runs one command, closes; resolves to the exit code. */
  readonly run: (command: Exclude<C, { readonly kind: 'help' }>) => Promise<number>;
}

/** One invocation, start to exit code; never rejects. */
export async function execute<C extends { readonly kind: string }>(
  cli: Cli<C>,
  argv: readonly string[],
  output: Output,
): Promise<number> {
  try {
    let command: C;
    try {
      command = cli.parse(argv);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      output.err(`${cli.name}: ${error.message}\n\n${cli.usage}`);
      return EXIT.usage;
    }
    if (command.kind === 'help') {
      output.out(cli.usage);
      return EXIT.ok;
    }
    return await cli.run(command as Exclude<C, { readonly kind: 'help' }>);
  } catch (error) {
    output.err(`${cli.name}: error: ${errorText(error)}`);
    // Configuration and connection/database errors (with a code) say what to fix; anything
    // else gets its stack for debugging.
    const expected =
      error instanceof EnvError || (typeof error === 'object' && error !== null && 'code' in error);
    if (!expected && error instanceof Error && error.stack !== undefined) output.err(error.stack);
    return EXIT.failure;
  }
}

/** The entry point: runs the process's arguments on stdio, then exits with the code. */
export function main<C extends { readonly kind: string }>(cli: Cli<C>): void {
  // No top-level await: tsx runs the CLIs as CommonJS ("type": "commonjs").
  void execute(cli, process.argv.slice(2), stdioOutput).then((code) => process.exit(code));
}
