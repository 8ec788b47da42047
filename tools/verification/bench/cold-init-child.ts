// Child-process entry of the cold-start measurement (bundled, run with plain `node` and the
// functions' NODE_OPTIONS): imports one function bundle in a fresh process and invokes its
// handler once. Module load plus that first invocation is the cold initialisation figure.
import { pathToFileURL } from 'node:url';

export interface ColdInitJob {
  readonly bundle: string;
  readonly event: unknown;
  /**
   * `single-pass`: the context reports just enough time left for one loop iteration, then none
   * (the relay loops until its invocation's time runs out).
   */
  readonly context: 'normal' | 'single-pass';
  readonly functionName: string;
  readonly marginMs: number;
}

export interface ColdInitResult {
  readonly loadMs: number;
  readonly invokeMs: number;
  readonly peakRssMb: number;
  /** What the handler returned (checked by the parent: the invocation must have done its work). */
  readonly response: unknown;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

function lambdaContext(job: ColdInitJob) {
  const deadline = Date.now() + 60_000;
  let calls = 0;
  return {
    functionName: job.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${job.functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: `cold-init-${process.pid}`,
    logGroupName: `/aws/lambda/${job.functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => {
      if (job.context === 'normal') return deadline - Date.now();
      calls++;
      return calls === 1 ? job.marginMs + 1 : 0;
    },
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

process.once('message', async (job: ColdInitJob) => {
  let message: { type: 'result'; result: ColdInitResult } | { type: 'error'; message: string };
  try {
    const started = performance.now();
    const mod = (await import(pathToFileURL(job.bundle).href)) as { handler: Handler };
    const loaded = performance.now();
    const response = await mod.handler(job.event, lambdaContext(job));
    const invoked = performance.now();
    message = {
      type: 'result',
      result: {
        loadMs: loaded - started,
        invokeMs: invoked - loaded,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
        response,
      },
    };
  } catch (error) {
    message = { type: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  // Handlers keep pools and producers open for the next invocation: exit once reported.
  process.send?.(message, () => process.exit(0));
});
