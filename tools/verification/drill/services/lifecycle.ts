// Shared plumbing of the drills' private service instances: free ports, and clean-up that runs
// even when the drill process is interrupted, so no private broker/cluster outlives its drill.
import { createServer } from 'node:net';

/** Several distinct free ports (each asked for while the earlier ones are still held). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const held = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ port: number; close: () => Promise<void> }>((resolve, reject) => {
          const server = createServer();
          server.unref();
          server.once('error', reject);
          server.listen({ host, port: 0, exclusive: true }, () => {
            const address = server.address();
            if (address === null || typeof address !== 'object') {
              reject(new Error('no port assigned'));
              return;
            }
            resolve({
              port: address.port,
              close: () => new Promise((done) => server.close(() => done())),
            });
          });
        }),
    ),
  );
  await Promise.all(held.map((h) => h.close()));
  return held.map((h) => h.port);
}

type SyncCleanup = () => void;
const cleanups = new Set<SyncCleanup>();
let installed = false;

/**
 * Registers a synchronous last-resort clean-up (kill a pid, remove a directory) run on process
 * exit; the returned function unregisters it once the normal, asynchronous stop has run.
 * Only 'exit' is hooked: the CLI turns SIGINT/SIGTERM into an exit; vitest workers exit too.
 */
export function onExit(cleanup: SyncCleanup): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const c of cleanups) {
        try {
          c();
        } catch {
          // Best effort: the process is going away; the next run's stale check finds leftovers.
        }
      }
    });
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Sends a signal to one pid (or its group when `group`); false when it is already gone. */
export function signalPid(pid: number, signal: NodeJS.Signals, group = false): boolean {
  try {
    process.kill(group ? -pid : pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
