// `npm test` runs this first: what the test suites need on the machine besides npm packages,
// each missing one named with how to install it, before any suite starts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH } from './chromium';

interface Problem {
  readonly what: string;
  readonly fix: string;
}

export function javaMajor(): number | undefined {
  // `java -version` prints to stderr, e.g. 'openjdk version "17.0.13" 2024-10-15'.
  const run = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (run.error !== undefined) return undefined;
  return parseJavaMajor(`${run.stderr}${run.stdout}`);
}

export function parseJavaMajor(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (match === null) return undefined;
  const first = Number(match[1]);
  // Java 8 and older report "1.8.0_…".
  return first === 1 ? Number(match[2]) : first;
}

export function problems(checks: {
  readonly chromium: boolean;
  readonly java: number | undefined;
}): Problem[] {
  const found: Problem[] = [];
  if (!checks.chromium) {
    found.push({
      what: `Chromium is missing at ${CHROMIUM_PATH} (the browser tests drive the local dashboard)`,
      fix: 'sudo apt-get install -y chromium',
    });
  }
  if (checks.java === undefined || checks.java < 17) {
    found.push({
      what: `Java 17 or newer is needed to run the local Kafka broker (found: ${checks.java ?? 'none'})`,
      fix: 'sudo apt-get install -y openjdk-17-jre-headless',
    });
  }
  return found;
}

export function main(): number {
  const found = problems({ chromium: existsSync(CHROMIUM_PATH), java: javaMajor() });
  if (found.length === 0) return 0;
  process.stderr.write('npm test: missing prerequisites, nothing was run:\n');
  for (const p of found) process.stderr.write(`  - ${p.what}\n    install: ${p.fix}\n`);
  return 1;
}
