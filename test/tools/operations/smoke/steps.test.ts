import { afterEach, describe, expect, it } from 'vitest';
import { ORDER_EVENT_REGISTRY } from '../../../../lambdas/shared/events/orders';
import type {
  ApiResponse,
  CheckResult,
  SearchWindow,
  SmokeOrder,
} from '../../../../tools/operations/smoke/checks';
import { httpOrderApi } from '../../../../tools/operations/smoke/http';
import {
  type Clock,
  formatElapsed,
  type OrderApiClient,
  orderPlacedBody,
  orderShippedBody,
  paymentCapturedBody,
  runSmoke,
  type SmokeChecks,
  summaryLine,
} from '../../../../tools/operations/smoke/steps';
import { type StandIn, startStandIn } from './order-api-standin';

const ORDER_ID = '7d0f3c2e-5b1a-4e8f-9c6d-2a4b8e1f0c37';
const EVENT_IDS = [
  '0c9e4a7b-2d1f-4c3e-8a5b-6f7e8d9c0b1a',
  '3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9',
  '5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b',
];

/** Time moves only when the smoke waits: every printed time is exact. */
function fakeClock(start = 1_796_292_900_000): Clock & { t: number } {
  const clock = {
    t: start,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

interface RecordedChecks extends SmokeChecks {
  readonly deadLetterCalls: Array<{ order: SmokeOrder; window: SearchWindow }>;
  alarmCalls: number;
}

function checks(
  alarms: CheckResult | Error = { kind: 'passed', summary: '27 alarms, none in ALARM (OK 27)' },
  deadLetters: CheckResult = { kind: 'passed', summary: 'none for order 7d0f3c2e…' },
): RecordedChecks {
  const recorded: RecordedChecks = {
    deadLetterCalls: [],
    alarmCalls: 0,
    alarms: async () => {
      recorded.alarmCalls++;
      if (alarms instanceof Error) throw alarms;
      return alarms;
    },
    deadLetters: async (order, window) => {
      recorded.deadLetterCalls.push({ order, window });
      return deadLetters;
    },
  };
  return recorded;
}

type Answer = ApiResponse | Error;

/** The API answering from a script: `${method} ${path}` → answers in order (the last repeats). */
function scripted(script: Record<string, Answer[]>): OrderApiClient & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async request(method, path) {
      const key = `${method} ${path}`;
      calls.push(key);
      const answers = script[key];
      if (answers === undefined || answers.length === 0) throw new Error(`unscripted ${key}`);
      const answer = answers.length > 1 ? answers.shift() : answers[0];
      if (answer instanceof Error) throw answer;
      return answer as ApiResponse;
    },
  };
}

const accepted = (eventId: string): ApiResponse => ({
  status: 202,
  body: { orderId: ORDER_ID, eventId, correlationId: 'smoke-x' },
});
const state = (status: string, version: number): ApiResponse => ({
  status: 200,
  body: { orderId: ORDER_ID, status, version, updatedAt: '2026-12-03T10:15:31.204Z' },
});
const placeAndRecord = (): Record<string, Answer[]> => ({
  'POST orders': [accepted(EVENT_IDS[0] as string)],
  [`POST orders/${ORDER_ID}/events`]: [
    accepted(EVENT_IDS[1] as string),
    accepted(EVENT_IDS[2] as string),
  ],
});

describe('the smoke sequence against the order API’s own HTTP adapter', () => {
  let standIn: StandIn | undefined;
  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  it('places, pays, ships, follows to SHIPPED v3 and checks, printing each step', async () => {
    standIn = await startStandIn({ orderIds: [ORDER_ID], requestIds: [...EVENT_IDS] });
    const clock = fakeClock();
    const lines: string[] = [];
    const recorded = checks();
    const result = await runSmoke(
      {
        api: httpOrderApi({ baseUrl: standIn.url, correlationId: 'smoke-run-1' }),
        checks: recorded,
        print: (l) => lines.push(l),
        clock,
      },
      { timeoutMs: 120_000, runId: 'run-1' },
    );
    expect(lines).toEqual([
      `[  0.0 s] POST /orders -> 202 order ${ORDER_ID}`,
      '[  0.0 s] POST /orders/7d0f3c2e…/events PaymentCaptured -> 202',
      '[  0.0 s] POST /orders/7d0f3c2e…/events OrderShipped -> 202',
      '[  0.0 s] GET /orders/7d0f3c2e… -> 200 PAYMENT_CAPTURED v2',
      '[  0.5 s] GET /orders/7d0f3c2e… -> 200 SHIPPED v3 (2 polls)',
      '[  0.5 s] alarms: 27 alarms, none in ALARM (OK 27)',
      '[  0.5 s] dead letters: none for order 7d0f3c2e…',
    ]);
    expect(result).toEqual({ passed: true, failures: [], orderId: ORDER_ID, elapsedMs: 500 });
    expect(summaryLine(result)).toBe(`smoke: passed in 0.5 s (order ${ORDER_ID})`);

    // The adapter saw the documented routes, every request under one correlation id.
    expect(standIn.events.map((e) => `${e.requestContext.http.method} ${e.rawPath}`)).toEqual([
      'POST /orders',
      `POST /orders/${ORDER_ID}/events`,
      `POST /orders/${ORDER_ID}/events`,
      `GET /orders/${ORDER_ID}`,
      `GET /orders/${ORDER_ID}`,
    ]);
    expect(new Set(standIn.events.map((e) => e.headers['x-correlation-id']))).toEqual(
      new Set(['smoke-run-1']),
    );
    expect(standIn.orders.get(ORDER_ID)).toMatchObject({ status: 'SHIPPED', version: 3 });
    // The dead-letter check gets the ids the API acknowledged and the smoke's own time.
    expect(recorded.deadLetterCalls).toEqual([
      {
        order: { orderId: ORDER_ID, eventIds: EVENT_IDS },
        window: { fromMs: 1_796_292_900_000 - 60_000, toMs: 1_796_292_900_500 + 60_000 },
      },
    ]);
  });

  it('says why when a request cannot be sent at all', async () => {
    standIn = await startStandIn();
    const url = standIn.url;
    await standIn.close();
    standIn = undefined;
    const lines: string[] = [];
    const result = await runSmoke(
      {
        api: httpOrderApi({ baseUrl: url, correlationId: 'c' }),
        checks: checks(),
        print: (l) => lines.push(l),
        clock: fakeClock(),
      },
      { timeoutMs: 10_000 },
    );
    expect(result.passed).toBe(false);
    expect(result.failures[0]).toMatch(/^POST \/orders: fetch failed \(.*ECONNREFUSED.*\)$/);
    expect(result.orderId).toBeUndefined();
  });
});

describe('the request bodies', () => {
  it('are valid events of the current schemas (the API assigns the order id)', () => {
    const orderId = ORDER_ID;
    expect(
      ORDER_EVENT_REGISTRY.OrderPlaced.schema.safeParse({ ...orderPlacedBody('r'), orderId })
        .success,
    ).toBe(true);
    const payment = paymentCapturedBody('r');
    expect(payment.eventType).toBe('PaymentCaptured');
    expect(
      ORDER_EVENT_REGISTRY.PaymentCaptured.schema.safeParse({ ...payment.data, orderId }).success,
    ).toBe(true);
    // The payment covers the order's total, in its currency.
    expect(payment.data.amountMinor).toBe(orderPlacedBody('r').totalMinor);
    expect(payment.data.currency).toBe(orderPlacedBody('r').currency);
    const shipment = orderShippedBody('r');
    expect(shipment.eventType).toBe('OrderShipped');
    expect(
      ORDER_EVENT_REGISTRY.OrderShipped.schema.safeParse({ ...shipment.data, orderId }).success,
    ).toBe(true);
  });

  it('carry the run id, so a smoke order is recognisable in the data', () => {
    expect(orderPlacedBody('abc').customerId).toBe('smoke-abc');
    expect(paymentCapturedBody('abc').data.paymentId).toBe('smoke-abc');
    expect(orderShippedBody('abc').data.trackingNumber).toBe('smoke-abc');
  });
});

describe('the sequence’s verdicts', () => {
  const run = async (
    api: OrderApiClient,
    recorded = checks(),
    options: { timeoutMs?: number; startedAt?: number } = {},
    clock = fakeClock(),
  ) => {
    const lines: string[] = [];
    const result = await runSmoke(
      { api, checks: recorded, print: (l) => lines.push(l), clock },
      { timeoutMs: options.timeoutMs ?? 10_000, pollIntervalMs: 1_000, ...options },
    );
    return { result, lines, recorded, clock };
  };

  it('stops the order steps when POST /orders is refused, still checking the alarms', async () => {
    const api = scripted({
      'POST orders': [
        { status: 500, body: { error: 'InternalServerError', message: 'internal error' } },
      ],
    });
    const { result, recorded } = await run(api);
    expect(api.calls).toEqual(['POST orders']);
    expect(result.failures).toEqual([
      'POST /orders answered 500 {"error":"InternalServerError","message":"internal error"}; expected 202',
    ]);
    expect(recorded.alarmCalls).toBe(1);
    expect(recorded.deadLetterCalls).toEqual([]);
  });

  it('does not follow an order whose payment was refused, but looks for its dead letters', async () => {
    const api = scripted({
      'POST orders': [accepted(EVENT_IDS[0] as string)],
      [`POST orders/${ORDER_ID}/events`]: [
        { status: 400, body: { error: 'ValidationError', issues: [] } },
      ],
    });
    const { result, recorded } = await run(api);
    expect(api.calls).toEqual(['POST orders', `POST orders/${ORDER_ID}/events`]);
    expect(result.failures).toEqual([
      `POST /orders/${ORDER_ID}/events PaymentCaptured answered 400 {"error":"ValidationError","issues":[]}; expected 202`,
    ]);
    expect(recorded.deadLetterCalls[0]?.order).toEqual({
      orderId: ORDER_ID,
      eventIds: [EVENT_IDS[0]],
    });
  });

  it('waits through transient answers, printing each new one', async () => {
    const api = scripted({
      ...placeAndRecord(),
      [`GET orders/${ORDER_ID}`]: [
        { status: 404, body: { error: 'NotFound' } },
        { status: 503, body: { message: 'Service Unavailable' } },
        new Error('fetch failed'),
        state('CREATED', 1),
        state('CREATED', 1),
        state('PAYMENT_CAPTURED', 2),
        state('SHIPPED', 3),
      ],
    });
    const { result, lines } = await run(api);
    expect(result.passed).toBe(true);
    expect(lines.filter((l) => l.includes('GET'))).toEqual([
      '[  0.0 s] GET /orders/7d0f3c2e… -> 404',
      '[  1.0 s] GET /orders/7d0f3c2e… -> 503',
      `[  2.0 s] GET /orders/7d0f3c2e… -> GET /orders/${ORDER_ID}: fetch failed`,
      '[  3.0 s] GET /orders/7d0f3c2e… -> 200 CREATED v1',
      '[  5.0 s] GET /orders/7d0f3c2e… -> 200 PAYMENT_CAPTURED v2',
      '[  6.0 s] GET /orders/7d0f3c2e… -> 200 SHIPPED v3 (7 polls)',
    ]);
  });

  it('fails at the deadline with the last answer', async () => {
    const api = scripted({
      ...placeAndRecord(),
      [`GET orders/${ORDER_ID}`]: [state('CREATED', 1)],
    });
    const { result, lines, clock } = await run(api, checks(), { timeoutMs: 5_000 });
    expect(result.failures).toEqual([
      'the order did not reach SHIPPED v3 within 5 s; last answer: 200 CREATED v1',
    ]);
    // Polls at 0, 1, …, 5 s, the last one at the deadline; the next would start past it.
    expect(api.calls.filter((c) => c.startsWith('GET'))).toHaveLength(6);
    expect(clock.t - 1_796_292_900_000).toBe(5_000);
    expect(lines.filter((l) => l.includes('GET') && l.includes('CREATED v1'))).toHaveLength(1);
    expect(lines).toContain(
      '[  5.0 s] FAILED: the order did not reach SHIPPED v3 within 5 s; last answer: 200 CREATED v1',
    );
  });

  it('fails at once on an order that can never get there', async () => {
    const api = scripted({
      ...placeAndRecord(),
      [`GET orders/${ORDER_ID}`]: [state('CANCELLED', 2), state('SHIPPED', 3)],
    });
    const { result } = await run(api);
    expect(api.calls.filter((c) => c.startsWith('GET'))).toHaveLength(1);
    expect(result.failures).toEqual(['the order was CANCELLED (version 2)']);
  });

  it('reports every failed check with its details, and a check that could not run', async () => {
    const api = scripted({
      ...placeAndRecord(),
      [`GET orders/${ORDER_ID}`]: [state('SHIPPED', 3)],
    });
    const { result, lines } = await run(
      api,
      checks(
        new Error(
          'User: arn:aws:iam::111122223333:user/ops is not authorized to perform: cloudwatch:DescribeAlarms',
        ),
        {
          kind: 'failed',
          reason: '1 dead-letter log line(s) for order x',
          details: ['2026-12-03T10:15:31.204Z /aws/lambda/c: event dead-lettered TRANSIENT'],
        },
      ),
    );
    expect(result.failures).toEqual([
      'alarms: could not be checked: User: arn:aws:iam::111122223333:user/ops is not authorized to perform: cloudwatch:DescribeAlarms',
      'dead letters: 1 dead-letter log line(s) for order x',
    ]);
    expect(lines.slice(-3)).toEqual([
      '[  0.0 s] FAILED: alarms: could not be checked: User: arn:aws:iam::111122223333:user/ops is not authorized to perform: cloudwatch:DescribeAlarms',
      '[  0.0 s] FAILED: dead letters: 1 dead-letter log line(s) for order x',
      '[  0.0 s]   2026-12-03T10:15:31.204Z /aws/lambda/c: event dead-lettered TRANSIENT',
    ]);
    expect(summaryLine(result)).toBe(
      `smoke: FAILED in 0.0 s (order ${ORDER_ID}): ${result.failures.join('; ')}`,
    );
  });

  it('prints a check that does not apply without failing', async () => {
    const api = scripted({
      ...placeAndRecord(),
      [`GET orders/${ORDER_ID}`]: [state('SHIPPED', 3)],
    });
    const { result, lines } = await run(
      api,
      checks({ kind: 'not-applicable', reason: 'no alarms locally' }),
    );
    expect(result.passed).toBe(true);
    expect(lines).toContain('[  0.0 s] alarms: not applicable: no alarms locally');
  });

  it('counts printed times from startedAt, the deadline from the first request', async () => {
    const clock = fakeClock();
    const api = scripted({
      ...placeAndRecord(),
      [`GET orders/${ORDER_ID}`]: [state('CREATED', 1)],
    });
    const { result, lines } = await run(
      api,
      checks(),
      { timeoutMs: 2_000, startedAt: clock.t - 300 },
      clock,
    );
    expect(lines[0]).toBe(`[  0.3 s] POST /orders -> 202 order ${ORDER_ID}`);
    expect(api.calls.filter((c) => c.startsWith('GET'))).toHaveLength(3);
    expect(result.elapsedMs).toBe(2_300);
  });
});

describe('formatting', () => {
  it('pads the elapsed time like npm start’s progress', () => {
    expect(formatElapsed(400)).toBe('[  0.4 s]');
    expect(formatElapsed(119_950)).toBe('[120.0 s]');
  });
});
