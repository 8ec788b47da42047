// The smoke test's verdicts, pure: what the order API answered, the stage's alarms, the log
// lines and table rows that would show a dead letter. The transports (aws.ts, local.ts) fetch
// the data; nothing here does I/O.

/** The outcome of one check. `details` are printed under the step line. */
export type CheckResult =
  | { readonly kind: 'passed'; readonly summary: string }
  | { readonly kind: 'failed'; readonly reason: string; readonly details?: readonly string[] }
  | { readonly kind: 'not-applicable'; readonly reason: string };

/** One HTTP answer of the order API; `body` is parsed JSON, or the text when not JSON. */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

/** The order and the events the smoke test created, as the API acknowledged them. */
export interface SmokeOrder {
  readonly orderId: string;
  readonly eventIds: readonly string[];
}

/** Where the order must end: shipped, after exactly three applied transitions. */
export const TARGET = { status: 'SHIPPED', version: 3 } as const;

// --- following the order ------------------------------------------------------------------

export type FollowVerdict =
  | { readonly kind: 'done' }
  | { readonly kind: 'wait' }
  | { readonly kind: 'fail'; readonly reason: string };

export interface OrderView {
  readonly status: string;
  readonly version: number;
}

/** `GET /orders/{id}`'s body when it has the documented shape. */
export function orderView(body: unknown): OrderView | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { status, version } = body as Record<string, unknown>;
  if (typeof status !== 'string' || typeof version !== 'number') return undefined;
  return { status, version };
}

/**
 * One poll's answer. Transient answers (404 before the row is visible, 429, 5xx) wait for the
 * deadline; an answer that can never become SHIPPED v3 fails at once.
 */
export function judgeOrder(response: ApiResponse): FollowVerdict {
  const { status } = response;
  if (status === 404 || status === 429 || status >= 500) return { kind: 'wait' };
  if (status !== 200) return { kind: 'fail', reason: `GET answered ${status} ${brief(response)}` };
  const view = orderView(response.body);
  if (view === undefined) {
    return { kind: 'fail', reason: `GET answered 200 with an unexpected body ${brief(response)}` };
  }
  if (view.version > TARGET.version) {
    return {
      kind: 'fail',
      reason: `the order is at version ${view.version}, beyond ${TARGET.version}: a transition was applied twice`,
    };
  }
  if (view.status === TARGET.status) {
    return view.version === TARGET.version
      ? { kind: 'done' }
      : {
          kind: 'fail',
          reason: `the order is ${view.status} at version ${view.version}, not ${TARGET.version}: a transition was skipped`,
        };
  }
  if (view.status === 'CANCELLED') {
    return { kind: 'fail', reason: `the order was CANCELLED (version ${view.version})` };
  }
  return { kind: 'wait' };
}

/** How a poll's answer is printed, e.g. `200 PAYMENT_CAPTURED v2` or `503`. */
export function describeOrderAnswer(response: ApiResponse): string {
  const view = response.status === 200 ? orderView(response.body) : undefined;
  return view === undefined ? `${response.status}` : `200 ${view.status} v${view.version}`;
}

/** A response body cut to one short line for messages. */
export function brief(response: ApiResponse): string {
  const text =
    typeof response.body === 'string' ? response.body : (JSON.stringify(response.body) ?? '');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

// --- alarms ---------------------------------------------------------------------------------

export interface AlarmState {
  readonly name: string;
  /** OK, ALARM or INSUFFICIENT_DATA. */
  readonly state: string;
  readonly reason: string | undefined;
}

/** None of the stage's alarms may be in ALARM, and the stage must have alarms at all. */
export function judgeAlarms(alarms: readonly AlarmState[], prefix: string): CheckResult {
  if (alarms.length === 0) {
    return {
      kind: 'failed',
      reason: `no CloudWatch alarms named ${prefix}*: is the observability stack deployed in this account and region?`,
    };
  }
  const firing = alarms.filter((a) => a.state === 'ALARM');
  if (firing.length > 0) {
    return {
      kind: 'failed',
      reason: `${firing.length} of ${alarms.length} alarms in ALARM: ${firing.map((a) => a.name).join(', ')}`,
      details: firing.map((a) => `${a.name}: ${a.reason ?? '(no reason given)'}`),
    };
  }
  const counts = new Map<string, number>();
  for (const a of alarms) counts.set(a.state, (counts.get(a.state) ?? 0) + 1);
  const byState = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  return { kind: 'passed', summary: `${alarms.length} alarms, none in ALARM (${byState})` };
}

// --- dead letters in CloudWatch Logs --------------------------------------------------------

/**
 * The log lines that show a dead letter, as the functions write them (Powertools JSON, keys at
 * the top level): the consumer's `event dead-lettered` line carries the event's `eventId`
 * (lambdas/order-consumer/consumer.ts); every triage line about a dead letter (redriven,
 * parked, already parked) carries its `aggregateId`, the order id (lambdas/dlq-triage/triage.ts).
 */
export const DEAD_LETTER_LOG = {
  consumerMessage: 'event dead-lettered',
} as const;

/** Ids go inside a quoted filter-pattern value; the API's ids are UUIDs. */
const PATTERN_SAFE = /^[A-Za-z0-9._:-]{1,200}$/;

function quoted(id: string): string {
  if (!PATTERN_SAFE.test(id)) throw new Error(`id "${id}" cannot go into a log filter pattern`);
  return `"${id}"`;
}

/** CloudWatch Logs JSON filter pattern: the consumer's dead-letter line for one of the events. */
export function consumerDeadLetterPattern(eventIds: readonly string[]): string {
  if (eventIds.length === 0) throw new Error('no event ids to search for');
  const ids = eventIds.map((id) => `$.eventId = ${quoted(id)}`).join(' || ');
  return `{ $.message = "${DEAD_LETTER_LOG.consumerMessage}" && (${ids}) }`;
}

/** CloudWatch Logs JSON filter pattern: any triage line about a dead letter of the order. */
export function triageDeadLetterPattern(orderId: string): string {
  return `{ $.aggregateId = ${quoted(orderId)} }`;
}

export interface LogLine {
  readonly timestamp: number;
  readonly message: string;
}

export interface SearchWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Slack on both sides of the smoke's own time: this machine's clock against AWS's. */
export const CLOCK_SLACK_MS = 60_000;

export function searchWindow(startedAtMs: number, nowMs: number): SearchWindow {
  return { fromMs: startedAtMs - CLOCK_SLACK_MS, toMs: nowMs + CLOCK_SLACK_MS };
}

/**
 * The lines the filter patterns returned, checked again here (the patterns narrow the search
 * server-side; the verdict rests on the parsed line): any consumer dead-letter line for one of
 * the order's events, or any triage line naming the order, fails the check.
 */
export function judgeDeadLetterLogs(
  found: { readonly consumer: readonly LogLine[]; readonly triage: readonly LogLine[] },
  order: SmokeOrder,
  groups: { readonly consumer: string; readonly triage: string },
): CheckResult {
  const findings: string[] = [];
  for (const line of found.consumer) {
    const json = parseJson(line.message);
    if (
      json?.message === DEAD_LETTER_LOG.consumerMessage &&
      order.eventIds.includes(String(json.eventId))
    ) {
      findings.push(
        `${iso(line.timestamp)} ${groups.consumer}: ${DEAD_LETTER_LOG.consumerMessage} ${text(json.errorType)} event ${text(json.eventId)}: ${text(json.errorMessage)}`,
      );
    }
  }
  for (const line of found.triage) {
    const json = parseJson(line.message);
    if (json?.aggregateId === order.orderId) {
      findings.push(
        `${iso(line.timestamp)} ${groups.triage}: ${text(json.message)} ${text(json.errorType)} ${text(json.eventType)} event ${text(json.eventId)}`,
      );
    }
  }
  if (findings.length > 0) {
    return {
      kind: 'failed',
      reason: `${findings.length} dead-letter log line(s) for order ${order.orderId}`,
      details: findings,
    };
  }
  return {
    kind: 'passed',
    summary: `none for order ${short(order.orderId)} (CloudWatch Logs: ${groups.consumer}, ${groups.triage})`,
  };
}

function parseJson(message: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(message);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const text = (v: unknown) => (v === undefined || v === null ? '-' : String(v));
const iso = (ms: number) => new Date(ms).toISOString();

// --- dead letters in the local database -----------------------------------------------------

/** A `dead_letters` row (lambdas/migrate/migrations/0001_initial-schema.sql). */
export interface ParkedDeadLetter {
  readonly id: string;
  readonly eventId: string | null;
  readonly eventType: string | null;
  readonly errorType: string;
  readonly status: string;
  readonly parkedAt: Date;
}

export function judgeParkedDeadLetters(
  rows: readonly ParkedDeadLetter[],
  order: SmokeOrder,
): CheckResult {
  if (rows.length === 0) {
    return {
      kind: 'passed',
      summary: `none for order ${short(order.orderId)} (local dead_letters table)`,
    };
  }
  return {
    kind: 'failed',
    reason: `${rows.length} dead letter(s) for order ${order.orderId} in the local dead_letters table`,
    details: rows.map(
      (r) =>
        `#${r.id} ${r.errorType} ${r.eventType ?? '-'} event ${r.eventId ?? '-'} ${r.status} since ${r.parkedAt.toISOString()}`,
    ),
  };
}

// --- the stage's stack ----------------------------------------------------------------------

export interface StackView {
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/** The API URL from the service stack's outputs, or why there is none. */
export function apiUrlFromStack(
  stack: StackView,
  stackName: string,
  outputKey: string,
): { readonly ok: true; readonly url: string } | { readonly ok: false; readonly reason: string } {
  const value = stack.outputs[outputKey];
  if (value === undefined) {
    return {
      ok: false,
      reason: `stack ${stackName} (${stack.status}) has no ${outputKey} output: deploy this version of the service stack`,
    };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: `stack ${stackName} output ${outputKey} is not a URL: "${value}"` };
  }
  return { ok: true, url: url.href.endsWith('/') ? url.href : `${url.href}/` };
}

/** Ids in step lines: the first 8 characters are enough to tell orders apart on screen. */
export function short(id: string): string {
  return id.length > 9 ? `${id.slice(0, 8)}…` : id;
}
