// list / show / redrive / discard (recover: recover.ts) over injected dependencies, so tests
// drive them with fakes or with the real database and broker. Each returns the process exit code.
import { Buffer } from 'node:buffer';
import { utf8Text } from '../../../lambdas/shared/dead-letter/headers';
import {
  type DeadLetterMessage,
  deadLetterSchema,
  toRedriveRecord,
} from '../../../lambdas/shared/dead-letter/message';
import { backstopOrigin, isBackstopHeader } from '../../../lambdas/shared/dead-letter/salvage';
import { EXIT, errorText, type Output, table } from '../cli';
import { type Command, isBulk, type Selection } from './args';
import {
  claimForRedriveQuery,
  type FullRow,
  listQuery,
  markDiscardedQuery,
  markReplayedQuery,
  type SqlQuery,
  type SummaryRow,
  selectionQuery,
  showQuery,
} from './queries';
import { type OpenSource, recover } from './recover';

export interface Queryable {
  query<R>(query: SqlQuery): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface DlqDb extends Queryable {
  /** Runs `work` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

export type RedriveRecord = ReturnType<typeof toRedriveRecord>;

export interface RedriveProducer {
  /** Resolves only once the broker acknowledged the record (acks=all). */
  send(record: RedriveRecord): Promise<void>;
}

export interface DlqDeps {
  readonly db: DlqDb;
  readonly producer: RedriveProducer;
  readonly output: Output;
  /** Whether stdin and stdout are a terminal, i.e. whether `confirm` can ask anyone. */
  readonly interactive: boolean;
  readonly confirm: (question: string) => Promise<boolean>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Opens recover's document source (directory or S3); only recover needs it. */
  readonly openSource?: OpenSource;
  /**
   * The only topics redrive may produce to: the source topics the stage declares. Anything
   * else (the dead-letter topic itself, a forged source) is refused.
   */
  readonly redriveTopics: ReadonlySet<string>;
}

export function run(command: Command, deps: DlqDeps): Promise<number> {
  switch (command.kind) {
    case 'help':
      return Promise.resolve(EXIT.ok);
    case 'list':
      return list(command, deps);
    case 'show':
      return show(command, deps);
    case 'redrive':
      return redrive(command, deps);
    case 'discard':
      return discard(command, deps);
    case 'recover':
      return recover(command, deps);
  }
}

// --- confirmation --------------------------------------------------------------------------

export type ConfirmationNeed = 'none' | 'ask' | 'refuse';

/** A bulk change needs a yes: --yes, or a person at a terminal; a dry run changes nothing. */
export function confirmationNeed(
  selection: Selection,
  options: { readonly yes: boolean; readonly dryRun: boolean; readonly interactive: boolean },
): ConfirmationNeed {
  if (!isBulk(selection) || options.yes || options.dryRun) return 'none';
  return options.interactive ? 'ask' : 'refuse';
}

/** y or yes, any case; everything else (including an empty line) is no. */
export function isYes(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}

function refusal(verb: string): string {
  return `dlq: refusing to ${verb} several messages without confirmation: no terminal to ask on; re-run with --yes (or --dry-run to preview)`;
}

// --- list ----------------------------------------------------------------------------------

const ERROR_COLUMN_WIDTH = 60;

export async function list(
  command: Extract<Command, { kind: 'list' }>,
  deps: DlqDeps,
): Promise<number> {
  const { rows } = await deps.db.query<SummaryRow>(listQuery(command.filters));
  if (rows.length === 0) {
    deps.output.err(`dlq: no ${command.filters.status} dead letters match`);
    return EXIT.ok;
  }
  if (command.json) {
    for (const row of rows) deps.output.out(JSON.stringify(row));
  } else {
    for (const line of formatTable(rows)) deps.output.out(line);
  }
  if (command.filters.limit !== undefined && rows.length === command.filters.limit) {
    deps.output.err(`dlq: showing the first ${rows.length}; raise --limit to see more`);
  }
  return EXIT.ok;
}

export function formatTable(rows: readonly SummaryRow[]): string[] {
  return table(
    ['ID', 'PARKED_AT', 'ERROR_TYPE', 'EVENT_TYPE', 'AGGREGATE', 'ATT', 'REDR', 'ERROR'],
    rows.map((r) => [
      r.id,
      isoSeconds(r.parked_at),
      r.error_type,
      r.event_type ?? '-',
      r.aggregate_id ?? '-',
      String(r.attempts),
      String(r.redrive_count),
      truncate(oneLine(r.error_message), ERROR_COLUMN_WIDTH),
    ]),
  );
}

// --- show ----------------------------------------------------------------------------------

export interface DecodedBytes {
  readonly encoding: 'utf8' | 'base64';
  readonly text: string;
}

/** UTF-8 text when the bytes are valid UTF-8, else base64: never a lossy rendering. */
export function decodeBytes(base64: string | null): DecodedBytes | null {
  if (base64 === null) return null;
  const bytes = Buffer.from(base64, 'base64');
  const text = utf8Text(bytes);
  return text === undefined ? { encoding: 'base64', text: base64 } : { encoding: 'utf8', text };
}

export interface DecodedMessage {
  readonly key: DecodedBytes | null;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: DecodedBytes | null }>;
  readonly value: DecodedBytes | null;
}

export function decodeMessage(message: DeadLetterMessage): DecodedMessage {
  return {
    key: decodeBytes(message.key),
    headers: message.headers.map((h) => ({ key: h.key, value: decodeBytes(h.value) })),
    value: decodeBytes(message.original.value),
  };
}

export async function show(
  command: Extract<Command, { kind: 'show' }>,
  deps: DlqDeps,
): Promise<number> {
  const { rows } = await deps.db.query<FullRow>(showQuery(command.id));
  const row = rows[0];
  if (row === undefined) {
    deps.output.err(`dlq: no dead letter with id ${command.id}`);
    return EXIT.failure;
  }
  const parsed = row.message === null ? undefined : deadLetterSchema.safeParse(row.message);
  const message = parsed?.success ? parsed.data : undefined;
  if (parsed !== undefined && !parsed.success) {
    deps.output.err(`dlq: row ${row.id}: stored message does not match the dead-letter format`);
  }
  const decoded = message === undefined ? undefined : decodeMessage(message);
  const raw = row.raw_record ?? null;
  if (command.json) {
    const rawBase64 = raw === null ? null : raw.toString('base64');
    deps.output.out(JSON.stringify({ ...row, raw_record: rawBase64, decoded: decoded ?? null }));
    return EXIT.ok;
  }
  const field = (name: string, value: string) =>
    deps.output.out(`${`${name}:`.padEnd(17)}${value}`);
  field('id', row.id);
  field('status', row.status);
  field('parked_at', row.parked_at.toISOString());
  field('resolved_at', row.resolved_at?.toISOString() ?? '-');
  field('error_type', row.error_type);
  field('error_message', row.error_message);
  field('event_type', row.event_type ?? '-');
  field('event_id', row.event_id ?? '-');
  field('aggregate_id', row.aggregate_id ?? '-');
  field('correlation_id', row.correlation_id ?? '-');
  field('attempts', String(row.attempts));
  field('redrive_count', String(row.redrive_count));
  field('first_failed_at', row.first_failed_at.toISOString());
  field('last_failed_at', row.last_failed_at.toISOString());
  field(
    'source',
    `${row.source_topic} partition ${row.source_partition} offset ${row.source_offset}`,
  );
  field('park_reason', row.park_reason ?? '-');
  field(
    'raw_record',
    raw === null
      ? '-'
      : `${raw.length} bytes: the record as received (the row could not hold it as it was; --json has them as base64)`,
  );
  if (decoded === undefined) {
    deps.output.out(
      'message:         none (parked before migration 0002): original bytes, key and headers were not kept; payload column:',
    );
    deps.output.out(JSON.stringify(row.payload, null, 2));
    return EXIT.ok;
  }
  field('key', renderBytes(decoded.key));
  deps.output.out(`headers:         ${decoded.headers.length === 0 ? '(none)' : ''}`.trimEnd());
  for (const h of decoded.headers) deps.output.out(`  ${h.key}: ${renderBytes(h.value)}`);
  deps.output.out(`original value (${decoded.value?.encoding ?? 'null'}):`);
  deps.output.out(decoded.value === null ? '(null: tombstone)' : prettyText(decoded.value));
  return EXIT.ok;
}

function renderBytes(bytes: DecodedBytes | null): string {
  if (bytes === null) return '(null)';
  return bytes.encoding === 'utf8' ? bytes.text : `base64:${bytes.text}`;
}

/** Indented JSON when the text is JSON (easier to read), else the text as it is. */
function prettyText(bytes: DecodedBytes): string {
  if (bytes.encoding !== 'utf8') return bytes.text;
  try {
    return JSON.stringify(JSON.parse(bytes.text), null, 2);
  } catch {
    return bytes.text;
  }
}

// --- selection shared by redrive and discard -------------------------------------------------

interface Selected {
  /** PARKED rows to act on. */
  readonly rows: SummaryRow[];
}

/** Rows to act on; explains every id that will be left alone. */
async function select(selection: Selection, deps: DlqDeps): Promise<Selected> {
  const { rows } = await deps.db.query<SummaryRow>(selectionQuery(selection));
  if (selection.kind === 'ids') {
    const found = new Set(rows.map((r) => r.id));
    for (const id of selection.ids) {
      if (!found.has(id)) deps.output.err(`dlq: #${id}: no such dead letter; skipped`);
    }
    for (const r of rows) {
      if (r.status !== 'PARKED') deps.output.err(`dlq: #${r.id}: already ${r.status}; skipped`);
    }
  }
  return { rows: rows.filter((r) => r.status === 'PARKED') };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Asks when needed; false means stop without changes. */
async function confirmed(
  verb: string,
  count: number,
  selection: Selection,
  options: { readonly yes: boolean; readonly dryRun: boolean },
  deps: DlqDeps,
): Promise<boolean> {
  const need = confirmationNeed(selection, { ...options, interactive: deps.interactive });
  if (need !== 'ask') return true;
  const yes = await deps.confirm(`${verb} ${plural(count, 'message')}? [y/N] `);
  if (!yes) deps.output.err('dlq: aborted; nothing changed');
  return yes;
}

// --- redrive -------------------------------------------------------------------------------

/** Paces sends to `ratePerSecond`: before each send after the first, sleeps what remains. */
export function rateLimiter(
  ratePerSecond: number,
  clock: { readonly now: () => number; readonly sleep: (ms: number) => Promise<void> },
): () => Promise<void> {
  const intervalMs = 1000 / ratePerSecond;
  let last: number | undefined;
  return async () => {
    if (last !== undefined) {
      const wait = last + intervalMs - clock.now();
      if (wait > 0) await clock.sleep(wait);
    }
    last = clock.now();
  };
}

function describeRecord(record: RedriveRecord): string {
  const key =
    record.key === null
      ? '(null)'
      : (utf8Text(record.key) ?? `base64:${record.key.toString('base64')}`);
  const headers = record.headers
    .map((h) => {
      const v = h.value === null ? '(null)' : (utf8Text(h.value) ?? '(binary)');
      return `${h.key}=${v}`;
    })
    .join(', ');
  const value =
    record.value === null
      ? '(null)'
      : (utf8Text(record.value) ?? `base64:${record.value.toString('base64')}`);
  return `topic=${record.topic} key=${key} headers=[${headers}] value=${truncate(oneLine(value), 200)}`;
}

type RedriveOutcome =
  | { readonly kind: 'sent'; readonly topic: string }
  | { readonly kind: 'gone' }
  | { readonly kind: 'no-message' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

export type RedriveTarget =
  | { readonly ok: true; readonly record: RedriveRecord }
  | { readonly ok: false; readonly reason: string };

/**
 * Where a parked message goes back to: its source topic when the stage declares it; for a
 * record a mapping's on-failure destination wrote raw (parked at its dead-letter position),
 * the source its failure headers name. Anything else is refused, the dead-letter topic above
 * all: triage would only park it again.
 */
export function redriveTarget(
  message: DeadLetterMessage,
  redriveTopics: ReadonlySet<string>,
): RedriveTarget {
  if (redriveTopics.has(message.source.topic)) {
    return { ok: true, record: toRedriveRecord(message) };
  }
  const headers = message.headers.map((h) => ({
    key: h.key,
    value: h.value === null ? null : Buffer.from(h.value, 'base64'),
  }));
  const origin = backstopOrigin(headers);
  if (origin !== undefined && redriveTopics.has(origin.source.topic)) {
    const restored: DeadLetterMessage = {
      ...message,
      source: origin.source,
      headers: message.headers.filter((h) => !isBackstopHeader(h.key)),
    };
    return { ok: true, record: toRedriveRecord(restored) };
  }
  const declared = [...redriveTopics].join(', ') || 'none';
  return {
    ok: false,
    reason: `source topic "${oneLine(truncate(message.source.topic, 120))}" is not a topic this stage redrives to (${declared})`,
  };
}

export async function redrive(
  command: Extract<Command, { kind: 'redrive' }>,
  deps: DlqDeps,
): Promise<number> {
  const { output } = deps;
  const need = confirmationNeed(command.selection, { ...command, interactive: deps.interactive });
  if (need === 'refuse') {
    output.err(refusal('redrive'));
    return EXIT.usage;
  }
  const selected = await select(command.selection, deps);
  const rows = selected.rows.filter((r) => {
    if (!r.has_message) {
      output.err(
        `dlq: #${r.id}: parked before migration 0002, the original record was not kept: cannot be redriven faithfully; skipped`,
      );
    }
    return r.has_message;
  });
  if (rows.length === 0) {
    output.err('dlq: nothing to redrive');
    return EXIT.ok;
  }
  if (command.dryRun) {
    // The same read and mapping as a real redrive, without the lock, the send or the update.
    for (const row of rows) {
      const { rows: full } = await deps.db.query<FullRow>(showQuery(row.id));
      const parsed = deadLetterSchema.safeParse(full[0]?.message);
      if (!parsed.success) {
        output.err(`dlq: #${row.id}: stored message is not a valid dead letter; would skip`);
        continue;
      }
      const target = redriveTarget(parsed.data, deps.redriveTopics);
      if (!target.ok) {
        output.err(`dlq: #${row.id}: would refuse: ${target.reason}`);
        continue;
      }
      output.out(`would redrive #${row.id}: ${describeRecord(target.record)}`);
    }
    output.err(`dlq: dry run: ${plural(rows.length, 'message')} selected; nothing sent or changed`);
    return EXIT.ok;
  }
  if (!(await confirmed('Redrive', rows.length, command.selection, command, deps))) {
    return EXIT.failure;
  }

  const pace = rateLimiter(command.ratePerSecond, deps);
  let sent = 0;
  let skipped = 0;
  let invalid = 0;
  let refused = 0;
  for (const row of rows) {
    await pace();
    let outcome: RedriveOutcome;
    try {
      outcome = await redriveOne(row.id, deps);
    } catch (error) {
      // A failed send or update rolled back: the row stays PARKED. Stop: the broker or the
      // database is likely down for the rest too.
      output.err(`dlq: #${row.id}: redrive failed, row left PARKED: ${errorText(error)}`);
      output.err(`dlq: redriven ${sent} of ${rows.length} before stopping`);
      return EXIT.failure;
    }
    switch (outcome.kind) {
      case 'sent':
        sent++;
        output.out(`redriven #${row.id} → ${outcome.topic}`);
        break;
      case 'gone':
        skipped++;
        output.err(`dlq: #${row.id}: no longer PARKED (or being redriven elsewhere); skipped`);
        break;
      case 'no-message':
        skipped++;
        output.err(`dlq: #${row.id}: has no stored message; skipped`);
        break;
      case 'invalid':
        invalid++;
        output.err(
          `dlq: #${row.id}: stored message is not a valid dead letter (${outcome.reason}); skipped`,
        );
        break;
      case 'refused':
        refused++;
        output.err(
          `dlq: #${row.id}: refused, nothing sent, row left PARKED: ${outcome.reason}. A record that was not a dead letter has nowhere to go back to: read it with show, then discard it`,
        );
        break;
    }
  }
  output.err(
    `dlq: redriven ${sent}, skipped ${skipped}, invalid ${invalid}${refused > 0 ? `, refused ${refused}` : ''}`,
  );
  return invalid > 0 ? EXIT.failure : refused > 0 ? EXIT.usage : EXIT.ok;
}

/**
 * One message in one transaction: lock the PARKED row, produce, wait for the ack, mark it.
 * A crash before the ack leaves it PARKED; after the ack but before COMMIT it stays PARKED
 * too and a later redrive sends it again, which the idempotent consumer absorbs.
 */
async function redriveOne(id: string, deps: DlqDeps): Promise<RedriveOutcome> {
  return deps.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ message: unknown }>(claimForRedriveQuery(id));
    const claimed = rows[0];
    if (claimed === undefined) return { kind: 'gone' };
    if (claimed.message === null) return { kind: 'no-message' };
    const parsed = deadLetterSchema.safeParse(claimed.message);
    if (!parsed.success) {
      return { kind: 'invalid', reason: parsed.error.issues[0]?.message ?? 'schema mismatch' };
    }
    const target = redriveTarget(parsed.data, deps.redriveTopics);
    if (!target.ok) return { kind: 'refused', reason: target.reason };
    const record = target.record;
    await deps.producer.send(record);
    const marked = await tx.query(markReplayedQuery(id));
    if (marked.rowCount !== 1) throw new Error(`row ${id} changed while locked`);
    return { kind: 'sent', topic: record.topic };
  });
}

// --- discard -------------------------------------------------------------------------------

export async function discard(
  command: Extract<Command, { kind: 'discard' }>,
  deps: DlqDeps,
): Promise<number> {
  const { output } = deps;
  const need = confirmationNeed(command.selection, { ...command, interactive: deps.interactive });
  if (need === 'refuse') {
    output.err(refusal('discard'));
    return EXIT.usage;
  }
  const { rows } = await select(command.selection, deps);
  if (rows.length === 0) {
    output.err('dlq: nothing to discard');
    return EXIT.ok;
  }
  if (command.dryRun) {
    for (const row of rows) {
      output.out(
        `would discard #${row.id} ${row.error_type} ${row.event_type ?? '-'} ${row.aggregate_id ?? '-'}`,
      );
    }
    output.err(`dlq: dry run: ${plural(rows.length, 'message')} selected; nothing changed`);
    return EXIT.ok;
  }
  if (!(await confirmed('Discard', rows.length, command.selection, command, deps))) {
    return EXIT.failure;
  }
  const ids = rows.map((r) => r.id);
  const { rows: changed } = await deps.db.query<{ id: string }>(markDiscardedQuery(ids));
  const done = new Set(changed.map((r) => r.id));
  for (const id of ids) {
    if (done.has(id)) output.out(`discarded #${id}`);
    else output.err(`dlq: #${id}: no longer PARKED; skipped`);
  }
  output.err(`dlq: discarded ${done.size} of ${ids.length}`);
  return EXIT.ok;
}

// --- helpers -------------------------------------------------------------------------------

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
