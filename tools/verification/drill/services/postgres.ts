// A private PostgreSQL cluster for the drill that restarts the database: initdb + pg_ctl from
// the installed server binaries, a temporary data directory, trust auth on 127.0.0.1 and a
// free port. initdb refuses to run as root, so as root the cluster belongs to the `postgres`
// OS user (runuser). The machine's cluster on 5432 is never stopped.
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PgEnv } from '../../../../lambdas/shared/env';
import { isAlive, runCommand } from '../../../local-runtime/services/process';
import type { Progress } from '../../../local-runtime/services/report';
import { freePorts, onExit, signalPid } from './lifecycle';

const HOST = '127.0.0.1';
const DIR_PREFIX = 'drill-pg-';
const OWNER_FILE = 'owner.pid';

export interface PrivatePostgres {
  /** Connects as `postgres` to the `postgres` database; drills create their own database. */
  readonly pgEnv: PgEnv;
  readonly envVars: Record<string, string>;
  /** `pg_ctl stop -m immediate` (a crash: recovery on start) or `-m fast`. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** The newest installed server's bin directory (Debian layout), else pg_config's. */
async function binDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  const result = await runCommand('pg_config', ['--bindir'], { timeoutMs: 10_000 });
  const dir = result.stdout.trim();
  if (result.code !== 0 || !existsSync(join(dir, 'initdb'))) {
    throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) found');
  }
  return dir;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The postmaster pid of a data directory while it runs (first line of postmaster.pid). */
function postmasterPid(dataDir: string): number | undefined {
  const pid = Number(readFileSafe(join(dataDir, 'postmaster.pid')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/** Clusters left by an interrupted drill: stop their postmaster (SIGQUIT) and delete them. */
function removeStale(progress: Progress): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(readFileSafe(join(dir, OWNER_FILE)).trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    const pid = postmasterPid(join(dir, 'data'));
    if (pid !== undefined && readFileSafe(`/proc/${pid}/cmdline`).includes(join(dir, 'data'))) {
      signalPid(pid, 'SIGQUIT');
    }
    rmSync(dir, { recursive: true, force: true });
    progress(`postgres (private): removed the leftover ${dir}`);
  }
}

export interface PrivatePostgresOptions {
  /**
   * Extra server settings, each passed as `-c name=value` at every start (e.g. `wal_level:
   * 'logical'`, which only takes effect at server start). Names are GUC identifiers; values
   * must not contain whitespace or quotes (pg_ctl splits its -o string on whitespace).
   */
  readonly settings?: Readonly<Record<string, string>>;
}

/** The `-c name=value` options for `settings`; throws on anything pg_ctl's -o cannot carry. */
export function settingOptions(settings: Readonly<Record<string, string>> = {}): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new Error(`bad server setting name "${name}"`);
      if (!/^[^\s'"\\]+$/.test(value)) {
        throw new Error(`server setting ${name}: value "${value}" must be one word, no quotes`);
      }
      return ` -c ${name}=${value}`;
    })
    .join('');
}

export async function startPrivatePostgres(
  progress: Progress,
  options: PrivatePostgresOptions = {},
): Promise<PrivatePostgres> {
  const extraOptions = settingOptions(options.settings);
  removeStale(progress);
  const bin = await binDir();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const [port] = (await freePorts(1)) as [number];
  writeFileSync(join(dir, OWNER_FILE), `${process.pid}\n`);

  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number((await runCommand('id', ['-u', 'postgres'], { timeoutMs: 5_000 })).stdout);
    const gid = Number((await runCommand('id', ['-g', 'postgres'], { timeoutMs: 5_000 })).stdout);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
      throw new Error('running as root needs a `postgres` OS user to own the private cluster');
    }
    chownSync(dir, uid, gid);
  }
  const run = async (tool: string, args: string[], timeoutMs = 120_000) => {
    const [command, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args];
    const result = await runCommand(command, argv as string[], { timeoutMs });
    if (result.code !== 0) {
      throw new Error(
        `${tool} ${args.join(' ')} failed (exit ${result.code}):\n${`${result.stdout}${result.stderr}`.trim()}\n${readFileSafe(logFile).slice(-2_000)}`,
      );
    }
  };

  const started = Date.now();
  await run('initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    '--no-instructions',
  ]);

  let unregister: (() => void) | undefined;
  async function start(): Promise<void> {
    if (postmasterPid(dataDir) !== undefined) return;
    // Sockets in our own directory: never the machine cluster's /var/run/postgresql.
    const serverOptions = `-p ${port} -c listen_addresses=${HOST} -c unix_socket_directories=${dir} -c max_connections=200${extraOptions}`;
    await run('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      logFile,
      '-w',
      '-t',
      '60',
      '-o',
      serverOptions,
      'start',
    ]);
    const pid = postmasterPid(dataDir);
    unregister?.();
    // pg_ctl daemonizes the postmaster: stop it (immediate shutdown) if the drill dies.
    if (pid !== undefined) unregister = onExit(() => signalPid(pid, 'SIGQUIT'));
  }

  async function stop(mode: 'immediate' | 'fast' = 'fast'): Promise<void> {
    if (postmasterPid(dataDir) === undefined) return;
    await run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    unregister?.();
    unregister = undefined;
  }

  await start();
  progress(
    `postgres (private): cluster at ${HOST}:${port} ready in ${Date.now() - started} ms (${dataDir})`,
  );
  const pgEnv: PgEnv = {
    host: HOST,
    port,
    database: 'postgres',
    user: 'postgres',
    iamAuth: false,
    region: undefined,
    poolMax: 10,
  };
  return {
    pgEnv,
    envVars: { PGHOST: HOST, PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'postgres' },
    stop,
    start,
    async destroy() {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
