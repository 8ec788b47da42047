// Plain-text accounting tables for the terminal (and the figures docs/RELIABILITY.md quotes).
import type { Accounting } from './accounting';
import type { DrillResult } from './types';

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(cells[0] ?? []), ...cells.slice(1).map(line)].join('\n');
}

export function formatTypes(types: Readonly<Record<string, number>>): string {
  const entries = Object.entries(types).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '-' : entries.map(([t, n]) => `${t} ${n}`).join(', ');
}

export function accountingTable(a: Accounting): string {
  return table(
    [
      'produced',
      'published',
      'on topic (records)',
      'applied once',
      'applied twice',
      'dead-lettered',
      'lost',
    ],
    [
      [
        a.produced,
        a.published,
        `${a.onTopic} (${a.topicCopies})`,
        a.appliedOnce,
        a.appliedTwice,
        a.deadLettered,
        a.lost,
      ],
    ],
  );
}

export function labelTable(a: Accounting): string {
  return table(
    ['input', 'expected', 'produced', 'applied', 'dead-lettered (type)', 'lost'],
    a.byLabel.map((r) => [
      r.label,
      r.expected === 'apply' ? 'applied' : r.expected,
      r.produced,
      r.applied,
      formatTypes(r.deadLettered),
      r.lost,
    ]),
  );
}

export function formatResult(r: DrillResult, options: { byLabel?: boolean } = {}): string {
  const a = r.accounting;
  const lines = [
    `== ${r.id}: ${r.title} — ${r.passed ? 'PASS' : 'FAIL'} (${(r.durationMs / 1000).toFixed(1)} s)`,
    accountingTable(a),
    `dead-lettered by type: ${formatTypes(a.deadLetteredByType)} (${a.deadLetterCopies} dead-letter records)`,
  ];
  if (Object.keys(a.parkedByType).length > 0) {
    lines.push(`parked by triage:      ${formatTypes(a.parkedByType)}`);
  }
  if (Object.keys(a.goodDeadLetteredByType).length > 0) {
    lines.push(
      `good events dead-lettered instead of applied: ${formatTypes(a.goodDeadLetteredByType)}`,
    );
  }
  if (options.byLabel ?? a.byLabel.length <= 30) lines.push(labelTable(a));
  for (const [k, v] of Object.entries(r.details)) lines.push(`${k}: ${v}`);
  for (const c of r.checks) {
    lines.push(`  ${c.ok ? 'ok  ' : c.advisory === true ? 'warn' : 'FAIL'} ${c.name}`);
  }
  // Parking is only checked by drills that run triage.
  const parking = r.checks.some((c) => c.name.includes('parked'));
  for (const m of [...a.misfiled, ...(parking ? a.parkedMisfiled : [])].slice(0, 10)) {
    lines.push(`  misfiled: ${m.label} ${m.id}: expected ${m.expected}, got ${m.got}`);
  }
  for (const [figure, list] of Object.entries(a.examples)) {
    for (const e of list) lines.push(`  ${figure}: ${e}`);
  }
  if (r.logPath !== undefined) lines.push(`pipeline log: ${r.logPath}`);
  return lines.join('\n');
}

export function summaryTable(results: readonly DrillResult[]): string {
  return table(
    [
      'drill',
      'produced',
      'applied once',
      'applied twice',
      'dead-lettered',
      'lost',
      'time',
      'verdict',
    ],
    results.map((r) => [
      r.id,
      r.accounting.produced,
      r.accounting.appliedOnce,
      r.accounting.appliedTwice,
      r.accounting.deadLettered,
      r.accounting.lost,
      `${(r.durationMs / 1000).toFixed(0)} s`,
      r.passed ? 'PASS' : 'FAIL',
    ]),
  );
}
