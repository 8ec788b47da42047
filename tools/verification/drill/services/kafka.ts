// A private single-node KRaft broker for drills that stop or restart Kafka: the same jars,
// configuration generator and health check as `npm run services`, on free ports with its own
// run directory (.cache/kafka/drill-<pid>-<n>/), so the shared broker on 9092 is never touched.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KafkaEnv } from '../../../../lambdas/shared/env';
import {
  checkJava,
  formatStorage,
  localBrokerVersion,
  log4jProperties,
  logTail,
  serverProperties,
  startBroker,
} from '../../../local-runtime/services/kafka-broker';
import { waitForKafka } from '../../../local-runtime/services/kafka-health';
import { ensureKafkaJars } from '../../../local-runtime/services/kafka-jars';
import type { KafkaPaths } from '../../../local-runtime/services/paths';
import { kafkaPaths, REPO_ROOT } from '../../../local-runtime/services/paths';
import { isAlive, waitForExit } from '../../../local-runtime/services/process';
import type { Progress } from '../../../local-runtime/services/report';
import { freePorts, onExit, signalPid } from './lifecycle';

const HOST = '127.0.0.1';
const OWNER_FILE = 'owner.pid';
const RUN_PREFIX = 'drill-';
let instances = 0;

export interface PrivateKafka {
  readonly brokers: readonly string[];
  readonly kafkaEnv: KafkaEnv;
  /** KAFKA_BROKERS for child processes. */
  readonly envVars: Record<string, string>;
  readonly pid: () => number | undefined;
  /** Stops the broker: SIGTERM (controlled shutdown) or SIGKILL (crash). */
  stop(mode?: 'graceful' | 'kill'): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it is healthy. */
  start(): Promise<void>;
  /** Stops it for good and deletes its directory. */
  destroy(): Promise<void>;
}

/** Removes private run directories whose owning process is gone (an interrupted drill). */
function removeStaleRuns(progress: Progress): void {
  const base = join(REPO_ROOT, '.cache', 'kafka');
  if (!existsSync(base)) return;
  for (const name of readdirSync(base)) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = join(base, name);
    const owner = Number(readFileSafe(join(dir, OWNER_FILE)));
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    const broker = Number(readFileSafe(join(dir, 'broker.pid')));
    // Only a broker started from this very directory (its argv names our properties file).
    if (Number.isInteger(broker) && broker > 0 && isAlive(broker)) {
      const argv = readFileSafe(`/proc/${broker}/cmdline`);
      if (argv.includes(join(dir, 'server.properties'))) signalPid(broker, 'SIGKILL', true);
    }
    rmSync(dir, { recursive: true, force: true });
    progress(`kafka (private): removed the leftover ${dir}`);
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

export async function startPrivateKafka(
  progress: Progress,
  healthTimeoutMs = 90_000,
): Promise<PrivateKafka> {
  removeStaleRuns(progress);
  const version = localBrokerVersion();
  instances += 1;
  const paths: KafkaPaths = kafkaPaths(
    version,
    REPO_ROOT,
    `${RUN_PREFIX}${process.pid}-${instances}`,
  );
  const [port, controllerPort] = (await freePorts(2)) as [number, number];
  const brokers = [`${HOST}:${port}`];
  await ensureKafkaJars(paths, version, progress);
  await checkJava();
  rmSync(paths.runDir, { recursive: true, force: true });
  mkdirSync(paths.logsDir, { recursive: true });
  writeFileSync(join(paths.runDir, OWNER_FILE), `${process.pid}\n`);
  writeFileSync(
    paths.serverProperties,
    serverProperties(paths, { host: HOST, port, controllerPort }),
  );
  writeFileSync(paths.log4jProperties, log4jProperties(paths));
  await formatStorage(paths, progress);

  let pid: number | undefined;
  let unregister: (() => void) | undefined;

  async function start(): Promise<void> {
    if (pid !== undefined && isAlive(pid)) return;
    const started = Date.now();
    const run = await startBroker(paths);
    pid = run.pid;
    const brokerPid = run.pid;
    unregister?.();
    // A drill that dies must not leave its broker behind (it was started detached).
    unregister = onExit(() => signalPid(brokerPid, 'SIGKILL', true));
    const health = await waitForKafka(brokers, { timeoutMs: healthTimeoutMs, fatal: run.exited });
    if (!health.ok) {
      throw new Error(
        `private Kafka broker (pid ${run.pid}) not healthy after ${Date.now() - started} ms: ${health.reason}\n${logTail(paths)}`,
      );
    }
    progress(`kafka (private): up at ${brokers[0]} in ${Date.now() - started} ms (pid ${pid})`);
  }

  async function stop(mode: 'graceful' | 'kill' = 'graceful'): Promise<void> {
    const current = pid;
    if (current === undefined || !isAlive(current)) return;
    signalPid(current, mode === 'kill' ? 'SIGKILL' : 'SIGTERM', true);
    if (!(await waitForExit(current, 20_000))) {
      signalPid(current, 'SIGKILL', true);
      await waitForExit(current, 5_000);
    }
    pid = undefined;
    unregister?.();
    unregister = undefined;
  }

  await start();
  return {
    brokers,
    kafkaEnv: { auth: 'none', brokers },
    envVars: { KAFKA_BROKERS: brokers.join(',') },
    pid: () => pid,
    stop,
    start,
    async destroy() {
      await stop('kill');
      rmSync(paths.runDir, { recursive: true, force: true });
    },
  };
}
