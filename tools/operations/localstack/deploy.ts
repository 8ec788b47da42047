// npm run deploy:localstack: deploys the `localstack` stage to a running LocalStack with the
// pinned cdklocal (aws-cdk-local, which wraps the pinned aws-cdk CLI). The decisions live in
// plan.ts; this file only probes LocalStack's health URL and runs the commands.
import { spawn } from 'node:child_process';
import { assessHealth, type Env, healthUrl, type Probe, plan, STAGE, stageRegion } from './plan';

const PROBE_TIMEOUT_MS = 3_000;

async function probe(endpoint: string): Promise<Probe> {
  try {
    const res = await fetch(healthUrl(endpoint), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { endpoint, ok: true, status: res.status, body };
  } catch (error) {
    // fetch wraps the network error (ECONNREFUSED, ENOTFOUND) in `cause`.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    return { endpoint, ok: false, error: cause instanceof Error ? cause.message : String(cause) };
  }
}

function run(args: readonly string[], env: Env): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined) return Promise.resolve(1);
  return new Promise((resolve) => {
    const child = spawn(command, rest, { stdio: 'inherit', env: { ...env } });
    child.on('error', (error) => {
      process.stderr.write(`Could not start ${command}: ${error.message}\n`);
      resolve(1);
    });
    // A signal-terminated child has no code: report it as a failure.
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const decided = plan(process.env, {
    node: process.execPath,
    cdklocal: require.resolve('aws-cdk-local/bin/cdklocal'),
  });
  if (!decided.ok) {
    process.stderr.write(`${decided.message}\n`);
    return 1;
  }

  const probes: Probe[] = [];
  for (const endpoint of decided.endpoints) {
    const p = await probe(endpoint);
    probes.push(p);
    if (p.ok) break;
  }
  const health = assessHealth(probes);
  if (!health.ok) {
    process.stderr.write(`${health.message}\n`);
    return 1;
  }
  for (const w of health.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(
    `LocalStack${health.version ? ` ${health.version}` : ''} answers at ${health.endpoint}; deploying stage ${STAGE} (${stageRegion()}).\n`,
  );

  for (const command of decided.commands) {
    process.stdout.write(`\n> ${command.title}\n`);
    const code = await run(command.args, decided.childEnv);
    if (code !== 0) {
      process.stderr.write(`${command.title} failed (exit code ${code}).\n`);
      return code;
    }
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Only the message: a stack trace helps no one running a deploy command.
    process.stderr.write(
      `deploy:${STAGE} failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
