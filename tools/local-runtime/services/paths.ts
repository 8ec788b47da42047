// Where the services tool keeps its files. Everything lives under the repo's `.cache/kafka/`
// (git-ignored): the jars per Kafka version, and one run directory for the managed broker.
import { join, resolve } from 'node:path';

/** The repository root, resolved from this file (tools/local-runtime/services/ -> repo root). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface KafkaPaths {
  /** `.cache/kafka/<version>`: pom.xml, the fetch log and the completion marker. */
  readonly versionDir: string;
  /** `.cache/kafka/<version>/libs`: the broker's classpath (every jar in it). */
  readonly libsDir: string;
  /** Written after a successful fetch; lists the jars so a partial copy is detected. */
  readonly fetchMarker: string;
  /** `.cache/kafka/run`: generated config, data, logs and the pid file of the one broker. */
  readonly runDir: string;
  readonly serverProperties: string;
  readonly log4jProperties: string;
  readonly dataDir: string;
  readonly logsDir: string;
  /** JVM stdout + stderr (startup failures land here). */
  readonly stdoutLog: string;
  /** The broker's own log4j output. */
  readonly serverLog: string;
  readonly pidFile: string;
  /** Serialises `up`/`down` across processes (CLI, test global setup, npm start). */
  readonly lockFile: string;
}

/**
 * `runName` picks the run directory: `run` is the managed broker's; other names hold private
 * brokers (the failure drills start and stop their own on other ports).
 */
export function kafkaPaths(version: string, root: string = REPO_ROOT, runName = 'run'): KafkaPaths {
  const base = join(root, '.cache', 'kafka');
  const versionDir = join(base, version);
  const runDir = join(base, runName);
  const logsDir = join(runDir, 'logs');
  return {
    versionDir,
    libsDir: join(versionDir, 'libs'),
    fetchMarker: join(versionDir, 'fetch-complete.json'),
    runDir,
    serverProperties: join(runDir, 'server.properties'),
    log4jProperties: join(runDir, 'log4j.properties'),
    dataDir: join(runDir, 'data'),
    logsDir,
    stdoutLog: join(logsDir, 'stdout.log'),
    serverLog: join(logsDir, 'server.log'),
    pidFile: join(runDir, 'broker.pid'),
    lockFile: join(runDir, 'services.lock'),
  };
}
