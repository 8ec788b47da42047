// Starts a drill component (tools/verification/drill/children/*) as its own Node process, so the drill can
// SIGKILL it like a crash. One process (node --import tsx), so the pid is the process itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { onExit, signalPid } from './services/lifecycle';

export interface Child {
  readonly pid: number;
  /** Lines the child printed on stdout so far. */
  readonly lines: readonly string[];
  /** Resolves with the first stdout line matching `pattern` (rejects if the child exits first). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends the signal; resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startChild(
  name: 'relay' | 'consumer',
  env: Record<string, string>,
  logPath: string,
  onLine?: (line: string) => void,
): Child {
  const proc: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'children', `${name}.ts`)],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = proc.pid as number;
  const unregister = onExit(() => signalPid(pid, 'SIGKILL'));
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (l: string) => void }>();
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    onLine?.(line);
    for (const w of waiters) {
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      appendFileSync(logPath, `${line}\n`);
    } catch {
      // Logging must never break a drill.
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      unregister();
      resolve({ code, signal });
    });
  });
  return {
    pid,
    lines,
    exited,
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name} child printed no line matching ${pattern} in ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`${name} child exited (${signal ?? code}) before printing ${pattern}`));
        });
      });
    },
    async kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) signalPid(pid, signal);
      await exited;
    },
  };
}
