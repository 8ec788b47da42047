// Parking never skips a record: whatever sits on the dead-letter topic becomes a
// `dead_letters` row with a reason. A readable dead letter is stored as received; one whose
// values the columns cannot hold, a damaged one, or bytes that are no dead letter at all are
// stored as far as they can be, with the exact bytes in raw_record. Only a dependency failure
// (PostgreSQL unreachable) may hand the partition back. Shared with `npm run dlq -- recover`.
import type { Buffer } from 'node:buffer';
import { headerBytes, utf8Text } from '../shared/dead-letter/headers';
import {
  boundedDeadLetterRow,
  buildDeadLetter,
  DEAD_LETTER_FORMAT_VERSION,
  DEAD_LETTER_ROW_COLUMNS,
  type DeadLetterDecodeError,
  type DeadLetterMessage,
  type DeadLetterRow,
  deadLetterRowValues,
  decodeDeadLetter,
  jsonbSafeJson,
  jsonbText,
  pgText,
  ROW_LIMITS,
} from '../shared/dead-letter/message';
import {
  backstopOrigin,
  salvageDeadLetter,
  withoutBackstopHeaders,
} from '../shared/dead-letter/salvage';
import { classify, ProcessingFailureError } from '../shared/errors/taxonomy';
import type { KafkaRecord } from '../shared/kafka/msk-event';

/** A record read from the dead-letter topic. */
export type DlqRecord = KafkaRecord;

/**
 * How a record that is not a readable dead letter was read: `salvaged` (a damaged dead letter,
 * its source kept), `backstop` (a raw record from a mapping's on-failure destination, its
 * source from the failure headers) or `unreadable` (parked at its own dead-letter position).
 */
export type ReadAs = 'salvaged' | 'backstop' | 'unreadable';

export interface Parkable {
  readonly message: DeadLetterMessage;
  /** What the `message` column gets: the value as received when readable (newer fields kept). */
  readonly messageJson: string;
  /** Set when the record is not a readable dead letter. */
  readonly readAs?: ReadAs;
  /** Why it is not a readable dead letter (decode error, what was salvaged). */
  readonly unreadable?: DeadLetterDecodeError;
  readonly readDetail?: string;
  /**
   * Values out of range (counts above the integer columns, failure times outside
   * [2000-01-01, now + 1 min]): the history cannot be trusted, so it is parked, never redriven.
   */
  readonly problems: readonly string[];
  /** Text made storable (escaped, shortened): said in the reason, no cause not to redrive. */
  readonly notes: readonly string[];
  /** The record's exact value bytes. */
  readonly raw: Buffer | null;
}

/** Stored as received: nothing changed, so raw_record stays empty. */
export function parkedAsReceived(p: Parkable): boolean {
  return p.readAs === undefined && p.problems.length === 0 && p.notes.length === 0;
}

/** What triage parks for a record of the dead-letter topic. Never throws. */
export function parkableDeadLetter(record: DlqRecord, now: number): Parkable {
  try {
    return readParkable(record, now);
  } catch (error) {
    return minimalParkable(record, now, `could not be read: ${errorText(error)}`);
  }
}

function readParkable(record: DlqRecord, now: number): Parkable {
  const decoded = decodeDeadLetter(record.value);
  if (decoded.ok) {
    const received = utf8Text(record.value) ?? JSON.stringify(decoded.message);
    return withRow(decoded.message, received, record, now, {});
  }
  const error = decoded.error;
  const issues = describeIssues(error);
  if (error.kind === 'NOT_A_DEAD_LETTER') {
    const salvaged = salvageDeadLetter(parsedJson(record.value), now);
    if (salvaged !== undefined) {
      const s = salvaged.message.source;
      const kept = `source ${s.topic}/${s.partition}@${s.offset} kept`;
      return withRow(salvaged.message, JSON.stringify(salvaged.message), record, now, {
        readAs: 'salvaged',
        unreadable: error,
        readDetail: `not a valid dead letter (${issues}); ${[kept, ...salvaged.repairs].join('; ')}`,
      });
    }
  }
  const origin = backstopOrigin(record.headers);
  if (origin !== undefined && error.kind !== 'UNSUPPORTED_FORMAT_VERSION') {
    const s = origin.source;
    const why = [
      origin.reason === undefined ? undefined : `"${origin.reason}"`,
      origin.attempts === undefined ? undefined : `after ${origin.attempts} attempt(s)`,
      origin.consumerGroup === undefined ? undefined : `group ${origin.consumerGroup}`,
    ].filter((p) => p !== undefined);
    const detail = `written raw by a mapping's on-failure destination${why.length > 0 ? ` (${why.join(', ')})` : ''}; source ${s.topic}/${s.partition}@${s.offset} from its failure headers`;
    const message = buildDeadLetter({
      value: record.value,
      key: record.key,
      headers: withoutBackstopHeaders(record.headers),
      source: s,
      error: new ProcessingFailureError(detail),
      attempts: origin.attempts ?? 1,
      firstFailureAt: new Date(writtenAt(record, now)),
      lastFailureAt: new Date(now),
    });
    return withRow(message, JSON.stringify(message), record, now, {
      readAs: 'backstop',
      unreadable: error,
      readDetail: detail,
    });
  }
  const message = unreadableDeadLetter(record, error, now);
  return withRow(message, JSON.stringify(message), record, now, {
    readAs: 'unreadable',
    unreadable: error,
    readDetail: `${error.kind}: ${error.message}${issues === '' ? '' : ` (${issues})`}`,
  });
}

function withRow(
  message: DeadLetterMessage,
  json: string,
  record: DlqRecord,
  now: number,
  read: Pick<Parkable, 'readAs' | 'unreadable' | 'readDetail'>,
): Parkable {
  const { adjustments } = boundedDeadLetterRow(message, now);
  const messageJson = jsonbSafeJson(json);
  const notes = adjustments.filter((a) => a.kind === 'text').map((a) => `${a.field}: ${a.detail}`);
  if (messageJson !== json) notes.push('message: NUL or unpaired surrogate escapes replaced');
  return {
    message,
    messageJson,
    ...read,
    problems: adjustments.filter((a) => a.kind === 'range').map((a) => `${a.field} ${a.detail}`),
    notes,
    raw: record.value,
  };
}

/** When the record was written to the dead-letter topic, if believable; else now. */
function writtenAt(record: DlqRecord, now: number): number {
  const t = record.timestamp;
  return t !== undefined && Number.isFinite(t) && t >= ROW_LIMITS.earliestFailureMs
    ? Math.min(t, now)
    : now;
}

/**
 * A dead-letter record that cannot be read (garbage, a future format) becomes a
 * PROCESSING_FAILURE dead letter around its exact bytes, to be parked.
 */
export function unreadableDeadLetter(
  record: DlqRecord,
  error: DeadLetterDecodeError,
  now: number,
): DeadLetterMessage {
  const details = describeIssues(error);
  return buildDeadLetter({
    value: record.value,
    key: record.key,
    headers: record.headers,
    // Its own position: the original source is unknown, and the offset dedupes redelivery.
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    error: new ProcessingFailureError(
      `unreadable dead-letter record (${error.kind}): ${error.message}${details === '' ? '' : ` (${details})`}`,
    ),
    attempts: 1,
    firstFailureAt: new Date(writtenAt(record, now)),
    lastFailureAt: new Date(now),
  });
}

/**
 * The last resort: the record's bytes, key and headers at its own dead-letter position, and
 * nothing read from its value (no JSON, no envelope fields), so PostgreSQL can refuse nothing.
 */
export function minimalParkable(record: DlqRecord, now: number, why: string): Parkable {
  const base64 = (value: Uint8Array | string | null) =>
    headerBytes(value)?.toString('base64') ?? null;
  const at = new Date(now).toISOString();
  const message: DeadLetterMessage = {
    formatVersion: DEAD_LETTER_FORMAT_VERSION,
    errorType: 'PROCESSING_FAILURE',
    errorMessage: 'dead-letter record kept as raw bytes only',
    firstFailureAt: at,
    lastFailureAt: at,
    attempts: 1,
    redriveCount: 0,
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    key: base64(record.key),
    headers: record.headers.map((h) => ({ key: h.key, value: base64(h.value) })),
    correlationId: null,
    eventId: null,
    eventType: null,
    aggregateId: null,
    original: { value: base64(record.value) },
  };
  return {
    message,
    messageJson: jsonbText(message),
    readAs: 'unreadable',
    readDetail: why,
    problems: [],
    notes: [],
    raw: record.value,
  };
}

// --- the insert ---------------------------------------------------------------------------

export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

const INSERT_COLUMNS = [...DEAD_LETTER_ROW_COLUMNS, 'message', 'park_reason', 'raw_record'];
const INSERT_DEAD_LETTER = `INSERT INTO dead_letters (${INSERT_COLUMNS.join(', ')})
VALUES (${INSERT_COLUMNS.map((c, i) => (c === 'payload' || c === 'message' ? `$${i + 1}::jsonb` : `$${i + 1}`)).join(', ')})
ON CONFLICT ON CONSTRAINT dead_letters_record_key DO NOTHING`;

/** Reasons are free text built from the record: bounded and storable like any text. */
const MAX_REASON_LENGTH = 4_000;

export interface ParkResult {
  /** False when this record at this position was parked before (a redelivery). */
  readonly inserted: boolean;
  /** The park_reason stored (or that would have been). */
  readonly reason: string;
  /** The row's `dead_letters_record_key`, for looking the row up. */
  readonly key: Pick<
    DeadLetterRow,
    'source_topic' | 'source_partition' | 'source_offset' | 'record_digest'
  >;
}

/** The park_reason for a parkable and the decision: "<kind>: <detail>", then what changed. */
export function parkReason(parkable: Parkable, decision: string): string {
  const parts = [decision];
  if (parkable.notes.length > 0) parts.push(`stored with changes: ${parkable.notes.join('; ')}`);
  return parts.join('; ');
}

/**
 * Inserts the row (once per record and position). When PostgreSQL refuses it for what it holds
 * (a data error, never a dependency one), it is stored again normalised (the message as read,
 * not as received), then as raw bytes only; each refusal is added to the reason. A dependency
 * failure (connection, shutdown, open breaker) is thrown: the caller hands the record back.
 */
export async function parkDeadLetter(
  db: Queryable,
  parkable: Parkable,
  reason: string,
  record: DlqRecord,
  now: number,
): Promise<ParkResult> {
  const tiers: Array<{ parkable: Parkable; keepRaw: boolean; note?: string }> = [
    { parkable, keepRaw: !parkedAsReceived(parkable) },
    {
      parkable: { ...parkable, messageJson: jsonbText(parkable.message) },
      keepRaw: true,
      note: 'stored normalised',
    },
    {
      parkable: minimalParkable(record, now, 'raw bytes only'),
      keepRaw: true,
      note: 'stored as raw bytes only',
    },
  ];
  let text = reason;
  let lastError: unknown;
  for (const tier of tiers) {
    const { row } = boundedDeadLetterRow(tier.parkable.message, now);
    const stored = boundReason(text);
    const values = [
      ...deadLetterRowValues(row),
      tier.parkable.messageJson,
      stored,
      tier.keepRaw ? tier.parkable.raw : null,
    ];
    try {
      const result = await db.query(INSERT_DEAD_LETTER, values);
      return {
        inserted: result.rowCount === 1,
        reason: stored,
        key: {
          source_topic: row.source_topic,
          source_partition: row.source_partition,
          source_offset: row.source_offset,
          record_digest: row.record_digest,
        },
      };
    } catch (error) {
      if (classify(error).errorType === 'TRANSIENT') throw error;
      lastError = error;
      const code = (error as { code?: unknown } | null)?.code;
      text = `${text}; PostgreSQL refused the row (${typeof code === 'string' ? `${code}: ` : ''}${errorText(error)})`;
      const next = tiers[tiers.indexOf(tier) + 1];
      if (next?.note !== undefined) text = `${text}: ${next.note}`;
    }
  }
  throw lastError;
}

function boundReason(reason: string): string {
  const text = pgText(reason);
  return text.length <= MAX_REASON_LENGTH ? text : `${text.slice(0, MAX_REASON_LENGTH - 1)}…`;
}

// --- helpers ------------------------------------------------------------------------------

function describeIssues(error: DeadLetterDecodeError): string {
  const shown = error.issues
    .slice(0, 3)
    .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
    .join('; ');
  return error.issues.length > 3 ? `${shown} (+${error.issues.length - 3} more)` : shown;
}

function parsedJson(value: Buffer | null): unknown {
  const text = utf8Text(value);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
