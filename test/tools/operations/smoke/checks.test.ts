import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AlarmState,
  apiUrlFromStack,
  CLOCK_SLACK_MS,
  consumerDeadLetterPattern,
  DEAD_LETTER_LOG,
  judgeAlarms,
  judgeDeadLetterLogs,
  judgeOrder,
  judgeParkedDeadLetters,
  type LogLine,
  searchWindow,
  short,
  triageDeadLetterPattern,
} from '../../../../tools/operations/smoke/checks';

const ROOT = path.resolve(__dirname, '../../../..');
const ORDER = {
  orderId: '7d0f3c2e-5b1a-4e8f-9c6d-2a4b8e1f0c37',
  eventIds: [
    '0c9e4a7b-2d1f-4c3e-8a5b-6f7e8d9c0b1a',
    '3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9',
    '5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b',
  ],
};
const GROUPS = {
  consumer: '/aws/lambda/order-pipeline-dev-order-consumer',
  triage: '/aws/lambda/order-pipeline-dev-dlq-triage',
};

describe('following the order (GET /orders/{id})', () => {
  const order = (status: string, version: number) => ({
    status: 200,
    body: { orderId: ORDER.orderId, status, version, updatedAt: '2026-12-03T10:15:31.204Z' },
  });

  it('is done at SHIPPED v3 only', () => {
    expect(judgeOrder(order('SHIPPED', 3))).toEqual({ kind: 'done' });
  });

  it.each([
    ['CREATED', 1],
    ['PAYMENT_CAPTURED', 2],
  ])('waits while the consumer catches up (%s v%i)', (status, version) => {
    expect(judgeOrder(order(status, version))).toEqual({ kind: 'wait' });
  });

  it.each([404, 429, 500, 502, 503])('waits through a transient %i', (status) => {
    expect(judgeOrder({ status, body: { error: 'x' } })).toEqual({ kind: 'wait' });
  });

  it.each([
    [order('CANCELLED', 2), 'the order was CANCELLED (version 2)'],
    [order('PAYMENT_CAPTURED', 4), 'version 4, beyond 3: a transition was applied twice'],
    [order('SHIPPED', 4), 'version 4, beyond 3'],
    [order('SHIPPED', 2), 'SHIPPED at version 2, not 3: a transition was skipped'],
    [{ status: 403, body: { message: 'Forbidden' } }, 'GET answered 403 {"message":"Forbidden"}'],
    [{ status: 400, body: 'bad' }, 'GET answered 400 bad'],
    [{ status: 200, body: { status: 'SHIPPED' } }, 'GET answered 200 with an unexpected body'],
    [{ status: 200, body: '<html>' }, 'unexpected body <html>'],
  ])('fails at once on %j', (response, reason) => {
    const verdict = judgeOrder(response);
    expect(verdict.kind).toBe('fail');
    expect(verdict.kind === 'fail' && verdict.reason).toContain(reason);
  });
});

describe('alarms', () => {
  const alarm = (name: string, state: string, reason?: string): AlarmState => ({
    name: `order-pipeline-dev-${name}`,
    state,
    reason,
  });

  it('passes when none is in ALARM, counting the states', () => {
    const result = judgeAlarms(
      [alarm('a', 'OK'), alarm('b', 'INSUFFICIENT_DATA'), alarm('c', 'OK'), alarm('d', 'OK')],
      'order-pipeline-dev-',
    );
    expect(result).toEqual({
      kind: 'passed',
      summary: '4 alarms, none in ALARM (INSUFFICIENT_DATA 1, OK 3)',
    });
  });

  it('fails naming each alarm in ALARM with its reason', () => {
    const result = judgeAlarms(
      [
        alarm('consumer-lag-critical', 'ALARM', 'Threshold Crossed: 1 datapoint [6012.0] ...'),
        alarm('db-cpu-critical', 'OK'),
        alarm('dead-lettered-critical', 'ALARM'),
      ],
      'order-pipeline-dev-',
    );
    expect(result).toEqual({
      kind: 'failed',
      reason:
        '2 of 3 alarms in ALARM: order-pipeline-dev-consumer-lag-critical, order-pipeline-dev-dead-lettered-critical',
      details: [
        'order-pipeline-dev-consumer-lag-critical: Threshold Crossed: 1 datapoint [6012.0] ...',
        'order-pipeline-dev-dead-lettered-critical: (no reason given)',
      ],
    });
  });

  it('fails when the stage has no alarms at all (wrong account or region, stack missing)', () => {
    const result = judgeAlarms([], 'order-pipeline-dev-');
    expect(result.kind).toBe('failed');
    expect(result.kind === 'failed' && result.reason).toBe(
      'no CloudWatch alarms named order-pipeline-dev-*: is the observability stack deployed in this account and region?',
    );
  });
});

describe('dead letters in CloudWatch Logs', () => {
  it('searches the consumer for its dead-letter line of any of the order’s events', () => {
    expect(consumerDeadLetterPattern(ORDER.eventIds)).toBe(
      '{ $.message = "event dead-lettered" && ($.eventId = "0c9e4a7b-2d1f-4c3e-8a5b-6f7e8d9c0b1a" || $.eventId = "3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9" || $.eventId = "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b") }',
    );
  });

  it('searches triage for any line naming the order', () => {
    expect(triageDeadLetterPattern(ORDER.orderId)).toBe(
      '{ $.aggregateId = "7d0f3c2e-5b1a-4e8f-9c6d-2a4b8e1f0c37" }',
    );
  });

  it('refuses an id that could break out of the quoted pattern value', () => {
    expect(() => triageDeadLetterPattern('x" || $.level = "INFO')).toThrow(/cannot go into/);
    expect(() => consumerDeadLetterPattern([])).toThrow(/no event ids/);
  });

  it('searches the smoke’s own time, with a minute of clock slack on each side', () => {
    expect(searchWindow(1_000_000, 1_090_000)).toEqual({
      fromMs: 1_000_000 - CLOCK_SLACK_MS,
      toMs: 1_090_000 + CLOCK_SLACK_MS,
    });
  });

  const line = (fields: Record<string, unknown>): LogLine => ({
    timestamp: Date.parse('2026-12-03T10:15:31.204Z'),
    message: JSON.stringify({ level: 'WARN', timestamp: '2026-12-03T10:15:31.204Z', ...fields }),
  });

  it('passes when no line names the order or its events', () => {
    expect(judgeDeadLetterLogs({ consumer: [], triage: [] }, ORDER, GROUPS)).toEqual({
      kind: 'passed',
      summary: `none for order 7d0f3c2e… (CloudWatch Logs: ${GROUPS.consumer}, ${GROUPS.triage})`,
    });
  });

  it('fails on the consumer dead-lettering one of the events, and on triage naming the order', () => {
    const result = judgeDeadLetterLogs(
      {
        consumer: [
          line({
            message: 'event dead-lettered',
            errorType: 'INVALID_TRANSITION',
            errorMessage: 'OrderShipped needs PAYMENT_CAPTURED',
            eventId: ORDER.eventIds[2],
          }),
        ],
        triage: [
          line({
            message: 'dead letter parked',
            errorType: 'INVALID_TRANSITION',
            eventType: 'OrderShipped',
            eventId: ORDER.eventIds[2],
            aggregateId: ORDER.orderId,
          }),
        ],
      },
      ORDER,
      GROUPS,
    );
    expect(result).toEqual({
      kind: 'failed',
      reason: `2 dead-letter log line(s) for order ${ORDER.orderId}`,
      details: [
        `2026-12-03T10:15:31.204Z ${GROUPS.consumer}: event dead-lettered INVALID_TRANSITION event ${ORDER.eventIds[2]}: OrderShipped needs PAYMENT_CAPTURED`,
        `2026-12-03T10:15:31.204Z ${GROUPS.triage}: dead letter parked INVALID_TRANSITION OrderShipped event ${ORDER.eventIds[2]}`,
      ],
    });
  });

  it('judges the parsed line, not only the server-side match', () => {
    const result = judgeDeadLetterLogs(
      {
        consumer: [
          line({ message: 'event dead-lettered', eventId: 'another-event' }),
          line({
            message: 'transient failure; the mapping will redeliver',
            eventId: ORDER.eventIds[0],
          }),
          { timestamp: 0, message: 'START RequestId: 1f0e… Version: $LATEST' },
        ],
        triage: [line({ message: 'dead letter parked', aggregateId: 'another-order' })],
      },
      ORDER,
      GROUPS,
    );
    expect(result.kind).toBe('passed');
  });

  // The check rests on these lines: if a function stops writing them, this test says so.
  it('matches the log lines the consumer and triage write', () => {
    const consumer = readFileSync(path.join(ROOT, 'lambdas/order-consumer/consumer.ts'), 'utf8');
    const deadLettered = consumer.match(
      new RegExp(`logger\\.warn\\('${DEAD_LETTER_LOG.consumerMessage}', \\{[^}]*\\}`),
    );
    expect(deadLettered?.[0]).toMatch(/\beventId: m\.eventId\b/);

    const triage = readFileSync(path.join(ROOT, 'lambdas/dlq-triage/triage.ts'), 'utf8');
    const identity = triage.match(/function identity\([^)]*\)[^{]*\{[\s\S]*?\n\}/)?.[0];
    expect(identity).toMatch(/\baggregateId: message\.aggregateId\b/);
    // Every triage line about a dead letter (redriven, parked, already parked) spreads it.
    expect(triage).toMatch(
      /'dead letter redriven to its source topic', \{[^}]*\.\.\.identity\(message\)/,
    );
    expect(triage).toMatch(/const fields = \{[^}]*\.\.\.identity\(parkable\.message\)/);
    expect(triage).toMatch(/'dead letter parked', fields\)/);
  });
});

describe('dead letters in the local table', () => {
  it('passes on no row, fails listing each row', () => {
    expect(judgeParkedDeadLetters([], ORDER)).toEqual({
      kind: 'passed',
      summary: 'none for order 7d0f3c2e… (local dead_letters table)',
    });
    const parkedAt = new Date('2026-12-03T10:15:40.000Z');
    expect(
      judgeParkedDeadLetters(
        [
          {
            id: '42',
            eventId: ORDER.eventIds[2] ?? null,
            eventType: 'OrderShipped',
            errorType: 'INVALID_TRANSITION',
            status: 'PARKED',
            parkedAt,
          },
        ],
        ORDER,
      ),
    ).toEqual({
      kind: 'failed',
      reason: `1 dead letter(s) for order ${ORDER.orderId} in the local dead_letters table`,
      details: [
        `#42 INVALID_TRANSITION OrderShipped event ${ORDER.eventIds[2]} PARKED since 2026-12-03T10:15:40.000Z`,
      ],
    });
  });
});

describe('the stage’s API URL', () => {
  it('comes from the output, ending in a slash', () => {
    const stack = {
      status: 'UPDATE_COMPLETE',
      outputs: { ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com' },
    };
    expect(apiUrlFromStack(stack, 's', 'ApiUrl')).toEqual({
      ok: true,
      url: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
    });
  });

  it('is missing from a stack deployed before the output existed, or not a URL', () => {
    expect(
      apiUrlFromStack({ status: 'UPDATE_ROLLBACK_COMPLETE', outputs: {} }, 's', 'ApiUrl'),
    ).toEqual({
      ok: false,
      reason:
        'stack s (UPDATE_ROLLBACK_COMPLETE) has no ApiUrl output: deploy this version of the service stack',
    });
    expect(
      apiUrlFromStack({ status: 'UPDATE_COMPLETE', outputs: { ApiUrl: 'n/a' } }, 's', 'ApiUrl'),
    ).toEqual({
      ok: false,
      reason: 'stack s output ApiUrl is not a URL: "n/a"',
    });
  });
});

describe('short ids', () => {
  it('keeps 8 characters of a long id', () => {
    expect(short(ORDER.orderId)).toBe('7d0f3c2e…');
    expect(short('abc')).toBe('abc');
  });
});
