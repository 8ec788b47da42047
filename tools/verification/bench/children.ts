// Runs bundled bench helpers in fresh `node` processes (no TypeScript loader: the measured
// process holds only what it runs) and talks to them over IPC.
import { type ChildProcess, fork } from 'node:child_process';
import type { MskEvent } from '../../local-runtime/esm-emulator';
import type {
  ChildMessage,
  EnvironmentCounts,
  EnvironmentResult,
  ParentMessage,
  WorkerJob,
} from './protocol';

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
      else if (m.type === 'error') throw new Error(`${job.kind} worker failed: ${m.message}`);
      else throw new Error(`${job.kind} worker sent an unexpected ${m.type} message`);
    }
    throw new Error(`${job.kind} worker exited without a result`);
  })();
  // A worker that fails before `ready` must not leave a caller waiting for it.
  const readyOrFailed = Promise.race([ready, result.then(() => undefined)]);
  // Callers that only await `result` must not get an unhandled rejection from this one.
  readyOrFailed.catch(() => undefined);
  return { ready: readyOrFailed, result, send: (m) => child.send(m) };
}

export type InvokedMessage = Extract<ChildMessage, { type: 'invoked' }>;

export interface RunningEnvironment {
  /** Resolves on the environment's `ready` (its runtime is set up); rejects if it failed first. */
  readonly ready: Promise<void>;
  /**
   * Rejects with the environment's failure (an error it reported, a crash, an exit nobody
   * asked for, the timeout); never resolves. Invocations in flight reject with it too.
   */
  readonly failed: Promise<never>;
  /** Runs the handler on `event` in the environment; resolves with its answer. */
  invoke(event: MskEvent): Promise<InvokedMessage>;
  /** Asks it to close its runtime; resolves with its result once it has exited. */
  stop(): Promise<EnvironmentResult>;
  kill(): void;
}

/**
 * Starts a `consumer-environment` job: one execution environment of the consumer function,
 * invoked over IPC (the event goes as JSON, as Lambda's invoke delivers it).
 */
export function startEnvironment(
  file: string,
  job: Extract<WorkerJob, { kind: 'consumer-environment' }>,
  options: ChildOptions,
  onProgress: (counts: EnvironmentCounts) => void,
): RunningEnvironment {
  const name = `consumer environment ${job.index}`;
  const { child, messages } = startChild(file, { type: 'start', job }, options);
  const pending = new Map<number, { resolve(m: InvokedMessage): void; reject(e: Error): void }>();
  let nextId = 0;
  let failure: Error | undefined;
  let failWith: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    failWith = reject;
  });
  failed.catch(() => undefined);
  const fail = (error: Error) => {
    failure ??= error;
    failWith(failure);
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  // Sending to a process that has gone: reported through its exit.
  child.on('error', (error) => fail(new Error(`${name}: ${error.message}`)));
  let onReady: () => void = () => undefined;
  const readyMessage = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const result = (async () => {
    let own: EnvironmentResult | undefined;
    for await (const m of messages) {
      if (m.type === 'ready') onReady();
      else if (m.type === 'progress') onProgress(m.counts);
      else if (m.type === 'invoked') {
        pending.get(m.id)?.resolve(m);
        pending.delete(m.id);
      } else if (m.type === 'result') own = m.result as unknown as EnvironmentResult;
      else throw new Error(`${name} failed: ${m.message}`);
    }
    if (own === undefined) throw new Error(`${name} exited without a result`);
    if (pending.size > 0)
      throw new Error(`${name} exited with ${pending.size} invocation(s) unanswered`);
    return own;
  })();
  let stopping = false;
  result.then(
    () => {
      if (!stopping) fail(new Error(`${name} exited before it was stopped`));
    },
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      fail(new Error(message.startsWith(name) ? message : `${name}: ${message}`));
    },
  );
  return {
    ready: Promise.race([readyMessage, failed]),
    failed,
    invoke(event) {
      if (failure !== undefined) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<InvokedMessage>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'invoke', id, event } satisfies ParentMessage, (error) => {
          if (error) fail(new Error(`${name}: invoke not sent: ${error.message}`));
        });
      });
    },
    stop() {
      stopping = true;
      if (failure !== undefined) return Promise.reject(failure);
      child.send({ type: 'stop' } satisfies ParentMessage, (error) => {
        if (error) fail(new Error(`${name}: stop not sent: ${error.message}`));
      });
      return result;
    },
    kill() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
