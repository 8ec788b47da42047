// Operating-system helpers: child commands with a time bound, liveness and signals by pid and
// process group, TCP port checks, log tails, and a cross-process lock file. Linux-first (/proc),
// degrading to plain `kill(pid, 0)` where /proc is missing.
import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceError } from './report';

export { sleep };

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without a shell; never rejects on a non-zero exit, only on a missing binary. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; cwd?: string },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const errno = error as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        if (errno.code === 'ENOENT') {
          reject(new ServiceError(`\`${command}\` is not installed or not on PATH`));
          return;
        }
        if (errno.killed === true) {
          reject(
            new ServiceError(
              `\`${command} ${args.join(' ')}\` did not finish within ${options.timeoutMs / 1000} s\n${lastLines(`${stdout}\n${stderr}`, 20)}`,
            ),
          );
          return;
        }
        resolve({ code: typeof errno.code === 'number' ? errno.code : 1, stdout, stderr });
      },
    );
  });
}

/** True when the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The argv of a live process, or undefined where /proc is not available. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Signals a whole process group (the group leader's pid); false if it is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
  return true;
}

/** Resolves true when something accepts a TCP connection on host:port within the timeout. */
export function portOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/**
 * The last `count` lines of a file (reads at most its last 256 KiB), only those after the last
 * line containing `after` when given; '' if the file does not exist.
 */
export function tailFile(path: string, count: number, after?: string): string {
  try {
    const size = statSync(path).size;
    const length = Math.min(size, 256 * 1024);
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(length);
      readFully(fd, buffer, size - length);
      const text = buffer.toString('utf8');
      const at = after === undefined ? -1 : text.lastIndexOf(after);
      const from = at === -1 ? 0 : text.indexOf('\n', at) + 1;
      return lastLines(from === 0 && at !== -1 ? '' : text.slice(from), count);
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function readFully(fd: number, buffer: Buffer, position: number): void {
  let offset = 0;
  while (offset < buffer.length) {
    const read = readSync(fd, buffer, offset, buffer.length - offset, position + offset);
    if (read === 0) break;
    offset += read;
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Holds an exclusive lock file (O_EXCL, containing our pid) while `fn` runs. A lock left by a
 * dead process is taken over; a live holder is waited for, up to `timeoutMs`.
 */
export async function withLockFile<T>(
  path: string,
  timeoutMs: number,
  onWait: (holder: number) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (fd !== undefined) break;
    const holder = readPidFile(path);
    // An empty lock file younger than a few seconds is a holder between open and write.
    const empty = holder === undefined && Date.now() - mtimeMs(path) < 5_000;
    if (!empty && (holder === undefined || !isAlive(holder))) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new ServiceError(
        `another services command (pid ${holder ?? '?'}) still holds ${path} after ${timeoutMs / 1000} s`,
      );
    }
    if (!announced && holder !== undefined) {
      onWait(holder);
      announced = true;
    }
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
