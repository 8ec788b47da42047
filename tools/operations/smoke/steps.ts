// The smoke test's sequence, over injected transports: place an order, record its payment and
// shipment, follow it to SHIPPED v3 within the deadline, then the alarm and dead-letter checks.
// Each step prints one line with the time since the start; every failure is collected, so one
// run says everything that is wrong.
import { randomUUID } from 'node:crypto';
import type { OrderEventDataInput } from '../../../lambdas/shared/events/orders';
import {
  type ApiResponse,
  brief,
  type CheckResult,
  describeOrderAnswer,
  judgeOrder,
  type SearchWindow,
  type SmokeOrder,
  searchWindow,
  short,
  TARGET,
} from './checks';

/** The order API as the smoke test calls it: signed (a stage) or not (local). */
export interface OrderApiClient {
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiResponse>;
}

export interface SmokeChecks {
  /** The stage's alarms; 'not-applicable' where there are none to read. */
  readonly alarms: () => Promise<CheckResult>;
  /** Anything dead-lettered for the order within the window. */
  readonly deadLetters: (order: SmokeOrder, window: SearchWindow) => Promise<CheckResult>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface SmokeDeps {
  readonly api: OrderApiClient;
  readonly checks: SmokeChecks;
  /** One line per step (stdout). */
  readonly print: (line: string) => void;
  readonly clock?: Clock;
}

export interface SmokeOptions {
  /** How long the order may take to reach SHIPPED v3, from the first request. */
  readonly timeoutMs: number;
  /** Where the printed times count from (e.g. before the stack lookup); default: now. */
  readonly startedAt?: number;
  readonly pollIntervalMs?: number;
  /** Tags the order's payment and tracking ids, so its rows are recognisable. */
  readonly runId?: string;
}

export interface SmokeResult {
  readonly passed: boolean;
  readonly failures: readonly string[];
  readonly orderId: string | undefined;
  readonly elapsedMs: number;
}

export const DEFAULT_POLL_INTERVAL_MS = 500;

const AMOUNT_MINOR = 1_999;
const CURRENCY = 'EUR';

/** POST /orders: the API assigns the order id. */
export function orderPlacedBody(
  runId: string,
): Omit<OrderEventDataInput<'OrderPlaced'>, 'orderId'> {
  return {
    customerId: `smoke-${runId}`,
    items: [{ sku: 'SMOKE-TEST', quantity: 1, unitPriceMinor: AMOUNT_MINOR }],
    totalMinor: AMOUNT_MINOR,
    currency: CURRENCY,
  };
}

/** POST /orders/{id}/events: the order id comes from the path. */
export function paymentCapturedBody(runId: string): {
  eventType: 'PaymentCaptured';
  data: Omit<OrderEventDataInput<'PaymentCaptured'>, 'orderId'>;
} {
  return {
    eventType: 'PaymentCaptured',
    data: { paymentId: `smoke-${runId}`, amountMinor: AMOUNT_MINOR, currency: CURRENCY },
  };
}

export function orderShippedBody(runId: string): {
  eventType: 'OrderShipped';
  data: Omit<OrderEventDataInput<'OrderShipped'>, 'orderId'>;
} {
  return {
    eventType: 'OrderShipped',
    data: { carrier: 'smoke-test', trackingNumber: `smoke-${runId}` },
  };
}

export function formatElapsed(ms: number): string {
  return `[${(ms / 1_000).toFixed(1).padStart(5)} s]`;
}

export async function runSmoke(deps: SmokeDeps, options: SmokeOptions): Promise<SmokeResult> {
  const clock = deps.clock ?? systemClock;
  const runId = options.runId ?? randomUUID();
  const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const startedAt = options.startedAt ?? clock.now();
  const deadline = clock.now() + options.timeoutMs;
  const failures: string[] = [];
  const say = (line: string) => deps.print(`${formatElapsed(clock.now() - startedAt)} ${line}`);
  const fail = (reason: string) => {
    failures.push(reason);
    say(`FAILED: ${reason}`);
  };

  /** A request whose transport failed (refused, timed out) is a failed step, not a crash. */
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    try {
      return await deps.api.request(method, path, body);
    } catch (error) {
      return new Error(`${method} /${path}: ${errorText(error)}`);
    }
  };

  /** Polls until SHIPPED v3, an answer that can never get there, or the deadline. */
  const follow = async (path: string, shown: string) => {
    let polls = 0;
    let last = '';
    for (;;) {
      const answer = await call('GET', path);
      polls++;
      const seen = answer instanceof Error ? answer.message : describeOrderAnswer(answer);
      const verdict = answer instanceof Error ? { kind: 'wait' as const } : judgeOrder(answer);
      if (verdict.kind === 'done') {
        say(`${shown} -> ${seen} (${polls} ${polls === 1 ? 'poll' : 'polls'})`);
        return;
      }
      if (seen !== last) say(`${shown} -> ${seen}`);
      last = seen;
      if (verdict.kind === 'fail') return fail(verdict.reason);
      if (clock.now() + interval > deadline) {
        return fail(
          `the order did not reach ${TARGET.status} v${TARGET.version} within ${options.timeoutMs / 1_000} s; last answer: ${seen}`,
        );
      }
      await clock.sleep(interval);
    }
  };

  /** The ids of a 202, or undefined after reporting what came instead. */
  const accept = async (what: string, path: string, body: unknown) => {
    const answer = await call('POST', path, body);
    if (answer instanceof Error) {
      fail(answer.message);
      return undefined;
    }
    const ids = acceptedIds(answer);
    if (ids === undefined) fail(`${what} answered ${answer.status} ${brief(answer)}; expected 202`);
    return ids;
  };

  // 1-3: the order's life through the API.
  let order: SmokeOrder | undefined;
  const placed = await accept('POST /orders', 'orders', orderPlacedBody(runId));
  if (placed !== undefined) {
    const { orderId } = placed;
    say(`POST /orders -> 202 order ${orderId}`);
    const orderPath = `orders/${encodeURIComponent(orderId)}`;
    order = { orderId, eventIds: [placed.eventId] };
    let recorded = true;
    for (const body of [paymentCapturedBody(runId), orderShippedBody(runId)]) {
      const ids = await accept(
        `POST /${orderPath}/events ${body.eventType}`,
        `${orderPath}/events`,
        body,
      );
      if (ids === undefined) {
        recorded = false;
        break;
      }
      say(`POST /orders/${short(orderId)}/events ${body.eventType} -> 202`);
      order = { orderId, eventIds: [...order.eventIds, ids.eventId] };
    }
    // 4: follow the order until the consumer has applied all three events.
    if (recorded) await follow(orderPath, `GET /orders/${short(orderId)}`);
  }

  // 5: the stage's alarms (independent of the order, so checked even when placing failed).
  report('alarms', await settle(deps.checks.alarms), say, fail);

  // 6: dead letters of this order over the smoke's own time.
  if (order !== undefined) {
    const window = searchWindow(startedAt, clock.now());
    const ids = order;
    report('dead letters', await settle(() => deps.checks.deadLetters(ids, window)), say, fail);
  }

  return {
    passed: failures.length === 0,
    failures,
    orderId: order?.orderId,
    elapsedMs: clock.now() - startedAt,
  };
}

/** The final line: the verdict, the time taken, and every reason when it failed. */
export function summaryLine(result: SmokeResult): string {
  const took = `${(result.elapsedMs / 1_000).toFixed(1)} s`;
  const order = result.orderId === undefined ? '' : ` (order ${result.orderId})`;
  return result.passed
    ? `smoke: passed in ${took}${order}`
    : `smoke: FAILED in ${took}${order}: ${result.failures.join('; ')}`;
}

function report(
  name: string,
  result: CheckResult,
  say: (line: string) => void,
  fail: (reason: string) => void,
): void {
  switch (result.kind) {
    case 'passed':
      say(`${name}: ${result.summary}`);
      return;
    case 'not-applicable':
      say(`${name}: not applicable: ${result.reason}`);
      return;
    case 'failed':
      fail(`${name}: ${result.reason}`);
      for (const line of result.details ?? []) say(`  ${line}`);
  }
}

/** A check that could not be carried out fails: nothing was verified. */
async function settle(check: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await check();
  } catch (error) {
    return { kind: 'failed', reason: `could not be checked: ${errorText(error)}` };
  }
}

/** The ids of a 202 answer, or undefined for anything else. */
function acceptedIds(
  response: ApiResponse,
): { readonly orderId: string; readonly eventId: string } | undefined {
  if (response.status !== 202 || typeof response.body !== 'object' || response.body === null) {
    return undefined;
  }
  const { orderId, eventId } = response.body as Record<string, unknown>;
  return typeof orderId === 'string' && typeof eventId === 'string'
    ? { orderId, eventId }
    : undefined;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch's "fetch failed" hides the reason (ECONNREFUSED, a timeout) in its cause.
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
