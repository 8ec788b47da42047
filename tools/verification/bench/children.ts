// Runs bundled bench helpers in fresh `node` processes (no TypeScript loader: the measured
// process holds only what it runs) and talks to them over IPC.
import { type ChildProcess, fork } from 'node:child_process';
import type { ChildMessage, ParentMessage, WorkerJob } from './protocol';

export interface ChildOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly execArgv?: readonly string[];
  /** Kill the child when no result came within this time. */
  readonly timeoutMs: number;
}

export interface RunningChild {
  /** Resolves on the child's `ready` message. */
  readonly ready: Promise<void>;
  readonly result: Promise<Record<string, unknown>>;
  send(message: ParentMessage): void;
}

/** Keeps the last part of a child's stderr for the error message. */
function stderrTail(child: ChildProcess, limit = 2_000): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-limit);
  });
  return () => tail.trim();
}

export function startChild(
  file: string,
  first: unknown,
  options: ChildOptions,
): { child: ChildProcess; messages: AsyncIterable<ChildMessage>; done: Promise<void> } {
  const child = fork(file, [], {
    env: options.env,
    execArgv: [...(options.execArgv ?? [])],
    // stdout: Powertools logs and EMF of the functions under test; not part of the report.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const tail = stderrTail(child);
  const queue: ChildMessage[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let failure: Error | undefined;
  child.on('message', (m: ChildMessage) => {
    queue.push(m);
    wake?.();
  });
  const timer = setTimeout(() => {
    failure = new Error(`${file}: no result within ${options.timeoutMs} ms; killed`);
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const done = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      if (failure === undefined && code !== 0) {
        failure = new Error(`${file} exited with ${signal ?? code}: ${tail()}`);
      }
      wake?.();
      resolve();
    });
  });
  child.send(first as ParentMessage);
  const messages: AsyncIterable<ChildMessage> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const m = queue.shift();
        if (m !== undefined) {
          yield m;
          continue;
        }
        if (ended) {
          if (failure !== undefined) throw failure;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
  };
  return { child, messages, done };
}

/** Starts a bench worker job; `ready` and `result` follow the worker's messages. */
export function runWorker(file: string, job: WorkerJob, options: ChildOptions): RunningChild {
  const { child, messages } = startChild(file, { type: 'start', job }, options);
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const result = (async () => {
    for await (const m of messages) {
      if (m.type === 'ready') onReady();
      else if (m.type === 'result') return m.result;
      else throw new Error(`${job.kind} worker failed: ${m.message}`);
    }
    throw new Error(`${job.kind} worker exited without a result`);
  })();
  // A worker that fails before `ready` must not leave a caller waiting for it.
  const readyOrFailed = Promise.race([ready, result.then(() => undefined)]);
  return { ready: readyOrFailed, result, send: (m) => child.send(m) };
}
