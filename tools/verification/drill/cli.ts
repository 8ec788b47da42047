// `npm run drill [-- --quick] [--only a,b] [--seed N] [--json] [--list]`: failure drills against
// real services, each ending with an accounting from ground truth and a verdict. Exit code 0
// only when every drill passes. Drills that kill or restart a service use private instances.
import { cpus, hostname, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { loadStageConfig } from '../../../lib/config/stage-config';
import { endpointsEnv, ensureServices } from '../../local-runtime/services';
import { DRILLS } from './drills';
import { sharedEndpoints } from './harness';
import { formatResult, summaryTable } from './report';
import type { DrillResult } from './types';

const USAGE = `usage: npm run drill -- [options]
  --quick        the CI-sized drills (fewer trials and inputs, same checks)
  --only a,b     run only these drills (see --list)
  --seed N       seed for kill points, workloads and generated inputs (default: random, printed)
  --json         also print one JSON object with every figure as the last line
  --list         list the drills and exit`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    const width = Math.max(...DRILLS.map((d) => d.id.length)) + 2;
    for (const d of DRILLS) process.stdout.write(`${d.id.padEnd(width)}${d.title}: ${d.proves}\n`);
    return 0;
  }
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((id) => !DRILLS.some((d) => d.id === id)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`drill: unknown drill(s) ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isSafeInteger(seed)) {
    process.stderr.write(`drill: --seed must be an integer\n`);
    return 2;
  }
  const progress = (line: string) => process.stderr.write(`drill: ${line}\n`);
  const endpoints = await ensureServices({ progress: (l) => progress(`services: ${l}`) });
  const env = { ...process.env, ...endpointsEnv(endpoints) };
  const config = loadStageConfig('dev');
  const selected = DRILLS.filter((d) => only === undefined || only.includes(d.id));
  const started = new Date();
  progress(
    `${selected.length} drill(s), ${values.quick ? 'quick' : 'full'}, seed ${seed}, on ${cpus().length} cores`,
  );

  const results: DrillResult[] = [];
  for (const drill of selected) {
    progress(`--- ${drill.id}: ${drill.title}`);
    try {
      const result = await drill.run({
        config,
        quick: values.quick,
        shared: sharedEndpoints(env),
        seed,
        progress: (l) => progress(`${drill.id}: ${l}`),
      });
      results.push(result);
      process.stdout.write(`${formatResult(result)}\n\n`);
    } catch (error) {
      // A drill that cannot finish is a failed drill, with its reason; the others still run.
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stdout.write(
        `== ${drill.id}: ${drill.title} — FAIL (did not finish)\n${message}\n\n`,
      );
      results.push(unfinished(drill.id, drill.title, message));
    }
  }
  const passed = results.every((r) => r.passed);
  process.stdout.write(`${summaryTable(results)}\n\nverdict: ${passed ? 'PASS' : 'FAIL'}\n`);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        startedAt: started.toISOString(),
        seed,
        quick: values.quick,
        machine: {
          host: hostname(),
          cores: cpus().length,
          cpu: cpus()[0]?.model,
          memoryGiB: Math.round(totalmem() / 2 ** 30),
          node: process.version,
        },
        passed,
        drills: results,
      })}\n`,
    );
  }
  return passed ? 0 : 1;
}

function unfinished(id: string, title: string, reason: string): DrillResult {
  return {
    id,
    title,
    accounting: {
      produced: 0,
      published: 0,
      onTopic: 0,
      topicCopies: 0,
      appliedOnce: 0,
      appliedTwice: 0,
      deadLettered: 0,
      deadLetteredByType: {},
      deadLetterCopies: 0,
      maxDeadLetterCopies: 0,
      lost: 0,
      parkedByType: {},
      misfiled: [],
      parkedMisfiled: [],
      goodDeadLetteredByType: {},
      stateMismatches: [],
      unexpectedOrders: 0,
      byLabel: [],
      examples: {},
    },
    checks: [{ name: 'drill finished', ok: false }],
    details: { error: reason.split('\n')[0] ?? reason },
    passed: false,
    durationMs: 0,
  };
}

// Ctrl-C: exit through 'exit' so private brokers and clusters are stopped (services/lifecycle).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

// No top-level await: tsx runs this file as CommonJS ("type": "commonjs").
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `drill: error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(2);
  },
);
