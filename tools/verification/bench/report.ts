// The benchmark's result object, its targets and its two renderings: an aligned table for
// people, and one JSON line (the last line of `--json` output) for tools. Pure.
import { checkTarget, ratio, type Target, type TargetCheck } from './stats';

/** Function names as in the stage config's `functions` keys. */
export const FUNCTIONS = [
  'orderApi',
  'outboxRelay',
  'orderConsumer',
  'dlqTriage',
  'migrate',
  'kafkaTopics',
] as const;
export type FunctionKey = (typeof FUNCTIONS)[number];

export type PerFunction = Partial<Record<FunctionKey, number>>;

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  readonly postgresSettings: Readonly<Record<string, string>>;
  readonly redis: string;
  readonly kafka: string;
  /** 1-minute load average when the run started (other work on the machine shows here). */
  readonly loadAverage1m: number;
}

export interface RawLimits {
  /** One claim-and-mark statement per batch of the relay's size, one transaction each. */
  readonly claimMarkRowsPerSec: number;
  /** The consumer's unnest UPDATE of order states, one transaction per chunk. */
  readonly batchedUpdateRowsPerSec: number;
  /** SET NX EX with @redis/client, one explicit pipeline of many commands per round trip. */
  readonly pipelinedSetNxOpsPerSec: number;
  /**
   * Diagnostic, not a limit: the same commands as one promise each with the client's default
   * options (what the consumer's idempotency layer does), as many in flight.
   */
  readonly setNxOnePromiseEachOpsPerSec: number;
  /** One INSERT per transaction (the disk-flush bound the naive consumer meets). */
  readonly singleTxPerSec: number;
  /** Order + outbox row per transaction from many connections, the relay woken after commit. */
  readonly outboxWritesPerSec: number;
  /** The same with the NOTIFY inside the transaction (the trigger before migration 0005). */
  readonly outboxWritesNotifyInTxPerSec: number;
  /** The same without any NOTIFY (what waking the relay costs). */
  readonly outboxWritesNoNotifyPerSec: number;
}

export interface E2eDetail {
  readonly offeredPerSec: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Commands accepted (202) / failed or answered otherwise, warm-up included. */
  readonly written: number;
  readonly writeErrors: number;
  /** Latest start of a command after its scheduled time (the writer kept the rate if small). */
  readonly maxLateMs: number;
  /** Applied events whose latency was sampled (the measurement window only). */
  readonly samples: number;
  readonly maxMs: number;
  /** Events written but not applied when the run gave up waiting. */
  readonly notApplied: number;
}

/** The end-to-end run at the higher rate: its target is that no write fails. */
export interface E2eHigh extends E2eDetail {
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}

/** One peer of `--peers` (the relay or Debezium), both measured by the same method. */
export interface PeerFigure {
  /** Backlog drain: (records − 1) over the span of their broker append times. */
  readonly eventsPerSec: number;
  /** Commit → broker append time at the fixed rate, over the window's events. */
  readonly commitToTopicP50Ms: number;
  readonly commitToTopicP95Ms: number;
  readonly commitToTopicP99Ms: number;
}

export interface BenchResult {
  readonly date: string;
  readonly mode: 'full' | 'quick';
  readonly stage: string;
  readonly machine: MachineInfo;
  readonly relayEventsPerSec: number | null;
  readonly consumerEventsPerSec: number | null;
  readonly naiveConsumerEventsPerSec: number | null;
  readonly e2eP50Ms: number | null;
  readonly e2eP95Ms: number | null;
  readonly e2eP99Ms: number | null;
  readonly e2e?: E2eDetail;
  /** Failed order API writes in the end-to-end runs (target 0 at both rates). */
  readonly e2eFailedWritesAt500: number | null;
  readonly e2eFailedWritesAt1000: number | null;
  readonly e2eHigh?: E2eHigh;
  /** `--peers` only: Debezium's figures and the relay's, measured the same way in this run. */
  readonly debeziumEventsPerSec: number | null;
  readonly relayCommitToTopicP95Ms: number | null;
  readonly debeziumCommitToTopicP95Ms: number | null;
  readonly peers?: { readonly relay: PeerFigure; readonly debezium: PeerFigure };
  readonly bundleBytes: PerFunction;
  /** Median over the repetitions: module load plus first invocation, in a fresh process. */
  readonly coldInitMs: PerFunction;
  readonly peakRssMb: PerFunction;
  readonly rawLimits: Partial<RawLimits>;
  readonly ratios: Readonly<Record<string, number>>;
  readonly targets: readonly TargetResult[];
  readonly details: Readonly<Record<string, unknown>>;
  /** Conditions a figure was measured under that change its meaning (e.g. an overloaded writer). */
  readonly warnings: readonly string[];
  /** Parts that could not be measured, with the reason. */
  readonly errors: readonly string[];
}

export interface TargetResult extends TargetCheck {
  readonly name: string;
  readonly value: number;
  readonly kind: Target['kind'];
  readonly bound: number;
  readonly unit: string;
}

/**
 * The targets: absolute figures first set for the relay and consumer, their ratios to the
 * limits measured in the same run, the peer comparison (relay ÷ Debezium, higher is better for
 * throughput, lower for latency), end to end at 500 events/s (latency and no failed write) and
 * at 1,000 events/s (no failed write). 1 MB is taken as 1,000,000 bytes (the stricter reading).
 */
export const TARGETS = {
  relayEventsPerSec: { kind: 'min', bound: 20_000 },
  consumerEventsPerSec: { kind: 'min', bound: 15_000 },
  relayToClaimMark: { kind: 'min', bound: 0.6 },
  consumerToBatchedUpdate: { kind: 'min', bound: 0.25 },
  consumerVsNaive: { kind: 'min', bound: 10 },
  relayVsDebeziumThroughput: { kind: 'min', bound: 1 },
  relayVsDebeziumP95: { kind: 'max', bound: 1 },
  e2eP95Ms: { kind: 'max', bound: 100 },
  e2eP99Ms: { kind: 'max', bound: 200 },
  e2eFailedWrites: { kind: 'max', bound: 0 },
  bundleBytes: { kind: 'max', bound: 1_000_000 },
  coldInitMs: { kind: 'max', bound: 300 },
  peakRssMb: { kind: 'max', bound: 256 },
} as const satisfies Record<string, Target>;

type Figures = Pick<
  BenchResult,
  | 'relayEventsPerSec'
  | 'consumerEventsPerSec'
  | 'naiveConsumerEventsPerSec'
  | 'e2eP50Ms'
  | 'e2eP95Ms'
  | 'e2eP99Ms'
  | 'bundleBytes'
  | 'coldInitMs'
  | 'peakRssMb'
  | 'rawLimits'
  | 'e2e'
  | 'e2eFailedWritesAt500'
  | 'e2eFailedWritesAt1000'
  | 'debeziumEventsPerSec'
  | 'relayCommitToTopicP95Ms'
  | 'debeziumCommitToTopicP95Ms'
  | 'peers'
>;

/** Each project figure over the raw limit that bounds it. */
export function ratiosOf(f: Figures): Record<string, number> {
  const entries: Array<[string, number | undefined]> = [
    ['relayToClaimMark', ratio(f.relayEventsPerSec ?? undefined, f.rawLimits.claimMarkRowsPerSec)],
    [
      'consumerToBatchedUpdate',
      ratio(f.consumerEventsPerSec ?? undefined, f.rawLimits.batchedUpdateRowsPerSec),
    ],
    [
      'consumerToPipelinedSetNx',
      ratio(f.consumerEventsPerSec ?? undefined, f.rawLimits.pipelinedSetNxOpsPerSec),
    ],
    [
      'naiveConsumerToSingleTx',
      ratio(f.naiveConsumerEventsPerSec ?? undefined, f.rawLimits.singleTxPerSec),
    ],
    [
      'consumerVsNaive',
      ratio(f.consumerEventsPerSec ?? undefined, f.naiveConsumerEventsPerSec ?? undefined),
    ],
    ['e2eOfferedToOutboxWrites', ratio(f.e2e?.offeredPerSec, f.rawLimits.outboxWritesPerSec)],
    // Same method for both peers: the relay's drain rate from the peers run, not the relay part.
    [
      'relayVsDebeziumThroughput',
      ratio(f.peers?.relay.eventsPerSec, f.debeziumEventsPerSec ?? undefined),
    ],
    [
      'relayVsDebeziumP95',
      ratio(f.relayCommitToTopicP95Ms ?? undefined, f.debeziumCommitToTopicP95Ms ?? undefined),
    ],
  ];
  return Object.fromEntries(entries.filter((e): e is [string, number] => e[1] !== undefined));
}

/** Every target that has a measured value, in table order. */
export function targetResults(f: Figures): TargetResult[] {
  const out: TargetResult[] = [];
  const add = (name: string, value: number | null | undefined, target: Target, unit: string) => {
    if (value === null || value === undefined) return;
    out.push({ name, value, unit, ...target, ...checkTarget(value, target) });
  };
  const r = ratiosOf(f);
  add('relayEventsPerSec', f.relayEventsPerSec, TARGETS.relayEventsPerSec, 'events/s');
  add('consumerEventsPerSec', f.consumerEventsPerSec, TARGETS.consumerEventsPerSec, 'events/s');
  add('relayToClaimMark', r.relayToClaimMark, TARGETS.relayToClaimMark, '×');
  add('consumerToBatchedUpdate', r.consumerToBatchedUpdate, TARGETS.consumerToBatchedUpdate, '×');
  add('consumerVsNaive', r.consumerVsNaive, TARGETS.consumerVsNaive, '×');
  add(
    'relayVsDebeziumThroughput',
    r.relayVsDebeziumThroughput,
    TARGETS.relayVsDebeziumThroughput,
    '×',
  );
  add('relayVsDebeziumP95', r.relayVsDebeziumP95, TARGETS.relayVsDebeziumP95, '×');
  add('e2eP95Ms', f.e2eP95Ms, TARGETS.e2eP95Ms, 'ms');
  add('e2eP99Ms', f.e2eP99Ms, TARGETS.e2eP99Ms, 'ms');
  add('e2eFailedWritesAt500', f.e2eFailedWritesAt500, TARGETS.e2eFailedWrites, 'writes');
  add('e2eFailedWritesAt1000', f.e2eFailedWritesAt1000, TARGETS.e2eFailedWrites, 'writes');
  for (const fn of FUNCTIONS) {
    add(`bundleBytes.${fn}`, f.bundleBytes[fn], TARGETS.bundleBytes, 'B');
    add(`coldInitMs.${fn}`, f.coldInitMs[fn], TARGETS.coldInitMs, 'ms');
    add(`peakRssMb.${fn}`, f.peakRssMb[fn], TARGETS.peakRssMb, 'MB');
  }
  return out;
}

// --- rendering ----------------------------------------------------------------------------

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

export function formatValue(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined) return 'n/a';
  switch (unit) {
    case 'events/s':
    case 'rows/s':
    case 'ops/s':
    case 'tx/s':
    case 'B':
      return `${integer.format(value)} ${unit}`;
    case '×':
      return `${value.toFixed(2)}×`;
    case 'writes':
      return `${integer.format(value)} ${unit}`;
    default:
      return `${oneDecimal.format(value)} ${unit}`;
  }
}

/** Columns padded to their widest cell; the first column left-aligned, the others right. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]) {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function verdict(t: TargetResult | undefined): string {
  if (t === undefined) return '';
  if (t.met) return 'met';
  const by = `MISSED by ${formatValue(t.missedBy, t.unit)}`;
  return t.bound === 0 ? by : `${by} (${t.missedByPercent.toFixed(0)} %)`;
}

function targetText(t: TargetResult | undefined): string {
  if (t === undefined) return '';
  return `${t.kind === 'min' ? '≥' : '≤'} ${formatValue(t.bound, t.unit)}`;
}

function rateText(e: E2eDetail | undefined): string {
  return e === undefined ? 'n/a' : `${integer.format(e.offeredPerSec)}/s`;
}

/** The human-readable report: figures, targets and verdicts, raw limits and ratios. */
export function renderReport(result: BenchResult): string {
  const targets = new Map(result.targets.map((t) => [t.name, t]));
  const row = (label: string, name: string, value: number | null | undefined, unit: string) => {
    const t = targets.get(name);
    return [label, formatValue(value, unit), targetText(t), verdict(t)];
  };
  const r = result.ratios;
  const ratioText = (key: string) => (r[key] === undefined ? 'n/a' : formatValue(r[key], '×'));
  const figures = formatTable(
    ['figure', 'value', 'target', 'result'],
    [
      row('relay PostgreSQL → Kafka', 'relayEventsPerSec', result.relayEventsPerSec, 'events/s'),
      row(
        'consumer Kafka → PostgreSQL',
        'consumerEventsPerSec',
        result.consumerEventsPerSec,
        'events/s',
      ),
      row(
        'naive consumer (1 event per tx)',
        'naiveConsumerEventsPerSec',
        result.naiveConsumerEventsPerSec,
        'events/s',
      ),
      row('relay ÷ claim-and-mark limit', 'relayToClaimMark', r.relayToClaimMark, '×'),
      row(
        'consumer ÷ batched-update limit',
        'consumerToBatchedUpdate',
        r.consumerToBatchedUpdate,
        '×',
      ),
      row('consumer ÷ naive', 'consumerVsNaive', r.consumerVsNaive, '×'),
      ...(result.peers === undefined
        ? []
        : [
            row(
              'Debezium outbox router (drain)',
              'debeziumEventsPerSec',
              result.debeziumEventsPerSec,
              'events/s',
            ),
            row(
              'relay (drain, same method)',
              'relayPeerEventsPerSec',
              result.peers.relay.eventsPerSec,
              'events/s',
            ),
            row(
              'relay ÷ Debezium, throughput',
              'relayVsDebeziumThroughput',
              r.relayVsDebeziumThroughput,
              '×',
            ),
            row(
              'Debezium commit → topic p95',
              'debeziumCommitToTopicP95Ms',
              result.debeziumCommitToTopicP95Ms,
              'ms',
            ),
            row(
              'relay commit → topic p95',
              'relayCommitToTopicP95Ms',
              result.relayCommitToTopicP95Ms,
              'ms',
            ),
            row('relay ÷ Debezium, p95', 'relayVsDebeziumP95', r.relayVsDebeziumP95, '×'),
          ]),
      row(`end-to-end p50 @ ${rateText(result.e2e)}`, 'e2eP50Ms', result.e2eP50Ms, 'ms'),
      row(`end-to-end p95 @ ${rateText(result.e2e)}`, 'e2eP95Ms', result.e2eP95Ms, 'ms'),
      row(`end-to-end p99 @ ${rateText(result.e2e)}`, 'e2eP99Ms', result.e2eP99Ms, 'ms'),
      row(
        `failed writes @ ${rateText(result.e2e)}`,
        'e2eFailedWritesAt500',
        result.e2eFailedWritesAt500,
        'writes',
      ),
      row(
        `failed writes @ ${rateText(result.e2eHigh)}`,
        'e2eFailedWritesAt1000',
        result.e2eFailedWritesAt1000,
        'writes',
      ),
    ],
  );
  const e = result.e2e;
  const e2eLine: string[] =
    e === undefined
      ? []
      : [
          `end to end: ${formatValue(e.offeredPerSec, 'events/s')} offered for ` +
            `${formatValue(e.warmupMs / 1000, 's')} warm-up + ${formatValue(e.durationMs / 1000, 's')}; ` +
            `${integer.format(e.written)} written, ${integer.format(e.writeErrors)} failed, ` +
            `latest start ${formatValue(e.maxLateMs, 'ms')} behind schedule; ` +
            `${integer.format(e.samples)} samples, max ${formatValue(e.maxMs, 'ms')}; ` +
            `${integer.format(e.notApplied)} not applied`,
        ];
  const high = result.e2eHigh;
  if (high !== undefined) {
    e2eLine.push(
      `end to end at ${formatValue(high.offeredPerSec, 'events/s')}: ` +
        `p50 ${formatValue(high.p50Ms, 'ms')}, p95 ${formatValue(high.p95Ms, 'ms')}, ` +
        `p99 ${formatValue(high.p99Ms, 'ms')}; ${integer.format(high.written)} written, ` +
        `${integer.format(high.writeErrors)} failed; ${integer.format(high.notApplied)} not applied`,
    );
  }
  const limits = result.rawLimits;
  const raw = formatTable(
    ['raw limit (same run)', 'value', 'project figure ÷ limit'],
    [
      [
        'claim-and-mark, batch = relay batch',
        formatValue(limits.claimMarkRowsPerSec, 'rows/s'),
        `relay ${ratioText('relayToClaimMark')}`,
      ],
      [
        'batched state update (unnest)',
        formatValue(limits.batchedUpdateRowsPerSec, 'rows/s'),
        `consumer ${ratioText('consumerToBatchedUpdate')}`,
      ],
      [
        'pipelined SET NX (@redis/client)',
        formatValue(limits.pipelinedSetNxOpsPerSec, 'ops/s'),
        `consumer ${ratioText('consumerToPipelinedSetNx')}`,
      ],
      [
        '  same, one promise per command',
        formatValue(limits.setNxOnePromiseEachOpsPerSec, 'ops/s'),
        '(client defaults)',
      ],
      [
        'one transaction per row',
        formatValue(limits.singleTxPerSec, 'tx/s'),
        `naive ${ratioText('naiveConsumerToSingleTx')}`,
      ],
      [
        'order + outbox tx, wake after commit',
        formatValue(limits.outboxWritesPerSec, 'tx/s'),
        `e2e offered ${ratioText('e2eOfferedToOutboxWrites')}`,
      ],
      [
        '  same, NOTIFY inside the tx',
        formatValue(limits.outboxWritesNotifyInTxPerSec, 'tx/s'),
        '(before 0005)',
      ],
      ['  same, no NOTIFY', formatValue(limits.outboxWritesNoNotifyPerSec, 'tx/s'), ''],
    ],
  );
  const perFunction = formatTable(
    ['function', 'bundle', 'cold init', 'peak RSS', 'over target'],
    FUNCTIONS.map((fn) => {
      const missed = ['bundleBytes', 'coldInitMs', 'peakRssMb']
        .map((k) => targets.get(`${k}.${fn}`))
        .filter((t): t is TargetResult => t !== undefined && !t.met)
        .map((t) => `${t.name.split('.')[0]} +${t.missedByPercent.toFixed(0)} %`);
      return [
        fn,
        formatValue(result.bundleBytes[fn], 'B'),
        formatValue(result.coldInitMs[fn], 'ms'),
        formatValue(result.peakRssMb[fn], 'MB'),
        missed.join(', '),
      ];
    }),
  );
  const m = result.machine;
  const missedCount = result.targets.filter((t) => !t.met).length;
  return [
    `npm run bench (${result.mode}) ${result.date} — stage ${result.stage}`,
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, ${m.os}; Node ${m.node}; ` +
      `PostgreSQL ${m.postgres}; Redis ${m.redis}; Kafka ${m.kafka}; load ${m.loadAverage1m.toFixed(2)}`,
    '',
    figures,
    ...e2eLine,
    '',
    raw,
    '',
    `per function (targets: bundle ≤ 1,000,000 B, cold init ≤ 300 ms, peak RSS ≤ 256 MB)`,
    perFunction,
    '',
    `${result.targets.length - missedCount} of ${result.targets.length} targets met` +
      (result.errors.length > 0 ? `; ${result.errors.length} part(s) not measured:` : ''),
    ...result.errors.map((e) => `  - ${e}`),
    ...(result.warnings.length > 0 ? ['notes:'] : []),
    ...result.warnings.map((w) => `  - ${w}`),
  ].join('\n');
}

/** One line of JSON: `--json` prints it last so tools can read the last line. */
export function jsonLine(result: BenchResult): string {
  return JSON.stringify(result);
}
