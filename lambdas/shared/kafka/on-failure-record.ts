// The invocation record Lambda writes to an Amazon S3 on-failure destination of an MSK (or
// self-managed Kafka) event source mapping when it discards a batch: failure metadata plus the
// whole invocation event, as an escaped JSON string in `payload`. The shape, the condition values
// and the object key layout are AWS's, per the Lambda Developer Guide (read 2026-12-03):
//   https://docs.aws.amazon.com/lambda/latest/dg/with-msk-on-failure.html
//     ("S3 destination example invocation record"; the same example is on kafka-on-failure.html)
//   https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
//     (the S3 object naming convention; the Kafka pages document none of their own)
// test/fixtures/aws/s3-on-failure/ holds a document in this shape. Domain code: no aws-lambda
// types; the event is read structurally, as in msk-event.ts.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { formatPath, type SchemaIssue } from '../events/envelope';
import { type KafkaRecord, type MskRecordLike, partitionsOf } from './msk-event';

/** `version` of the documents this reader was written against; any 1.x is read. */
export const ON_FAILURE_RECORD_VERSION = '1.0';
const VERSION_PATTERN = /^1\.\d+$/;

/**
 * `requestContext.condition` values the guide lists for Kafka sources. The reader accepts any
 * non-empty condition (one AWS adds later must not stop a recovery); the builder writes these.
 */
export const ON_FAILURE_CONDITIONS = [
  'RetryAttemptsExhausted',
  'MaximumPayloadSizeExceeded',
] as const;
export type OnFailureCondition = (typeof ON_FAILURE_CONDITIONS)[number];

/** A key of the event's `records` map and of `KafkaBatchInfo.recordsInfo`: `<topic>-<partition>`. */
const PARTITION_KEY = /^(.+)-(\d+)$/;
const UNSIGNED_INTEGER = /^\d+$/;

// --- schema ---------------------------------------------------------------------------------
// Objects are loose: fields AWS adds later are kept, never a reason to reject a document.

const isoTimestamp = z.iso.datetime();

const mskRecordSchema = z.looseObject({
  topic: z.string().min(1),
  partition: z.int().min(0),
  offset: z.union([z.int().min(0), z.string().regex(UNSIGNED_INTEGER)]),
  timestamp: z.number().optional(),
  timestampType: z.string().optional(),
  /** base64; absent or null for a null key. */
  key: z.base64().nullable().optional(),
  /** base64; absent or null for a tombstone. */
  value: z.base64().nullable().optional(),
  /** One-entry objects whose values are the header's bytes. */
  headers: z.array(z.record(z.string(), z.array(z.int().min(0).max(255)))).optional(),
});

/** The MSK (or self-managed Kafka) invocation event, as the function received it. */
const mskEventSchema = z
  .looseObject({
    eventSource: z.string().optional(),
    /** Absent for a self-managed Kafka source. */
    eventSourceArn: z.string().optional(),
    bootstrapServers: z.string().optional(),
    records: z.record(z.string().regex(PARTITION_KEY), z.array(mskRecordSchema)),
  })
  .superRefine((event, ctx) => {
    for (const [key, records] of Object.entries(event.records)) {
      records.forEach((record, i) => {
        if (`${record.topic}-${record.partition}` !== key) {
          ctx.addIssue({
            code: 'custom',
            path: ['records', key, i],
            message: `record of ${record.topic}-${record.partition} filed under "${key}"`,
          });
        }
      });
    }
  });

/** The documented `payload`: "the original invocation record as an escaped JSON string". */
const payloadSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `is not JSON text: ${(error as Error).message}`,
        input: text,
      });
      return z.NEVER;
    }
  })
  .pipe(mskEventSchema);

export const onFailureRecordSchema = z.looseObject({
  requestContext: z.looseObject({
    requestId: z.string().min(1),
    functionArn: z.string().min(1),
    condition: z.string().min(1),
    /** 0 is possible: a batch over the payload limit is never invoked. */
    approximateInvokeCount: z.int().min(0),
  }),
  /** null when the condition is MaximumPayloadSizeExceeded (the function was not invoked). */
  responseContext: z
    .looseObject({
      statusCode: z.int(),
      executedVersion: z.string().min(1),
      /** Absent when the function returned normally (e.g. a partial batch response). */
      functionError: z.string().min(1).optional(),
    })
    .nullable(),
  version: z.string().regex(VERSION_PATTERN, 'must be 1.x (the major this reader knows)'),
  timestamp: isoTimestamp,
  KafkaBatchInfo: z.looseObject({
    batchSize: z.int().min(0),
    /** Absent for a self-managed Kafka source. */
    eventSourceArn: z.string().optional(),
    bootstrapServers: z.string(),
    /** In bytes. */
    payloadSize: z.int().min(0),
    recordsInfo: z.record(
      z.string().regex(PARTITION_KEY),
      z.looseObject({
        firstRecordOffset: z.string().regex(UNSIGNED_INTEGER),
        lastRecordOffset: z.string().regex(UNSIGNED_INTEGER),
        firstRecordTimestamp: isoTimestamp,
        lastRecordTimestamp: isoTimestamp,
      }),
    ),
  }),
  /** Only in S3 documents; required here, as recovering its records is the point of reading. */
  payload: payloadSchema,
});

/** A parsed document: `payload` is the invocation event itself. */
export type OnFailureRecord = z.output<typeof onFailureRecordSchema>;

/** A document as written to S3 (and by the local emulator): `payload` is JSON text. */
export interface OnFailureDocument {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: string;
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError?: string;
  } | null;
  readonly version: string;
  readonly timestamp: string;
  readonly KafkaBatchInfo: {
    readonly batchSize: number;
    readonly eventSourceArn?: string;
    readonly bootstrapServers: string;
    readonly payloadSize: number;
    readonly recordsInfo: Readonly<
      Record<
        string,
        {
          readonly firstRecordOffset: string;
          readonly lastRecordOffset: string;
          readonly firstRecordTimestamp: string;
          readonly lastRecordTimestamp: string;
        }
      >
    >;
  };
  readonly payload: string;
}

// --- reading ----------------------------------------------------------------------------------

export type OnFailureRecordErrorKind = 'NOT_JSON' | 'UNSUPPORTED_VERSION' | 'INVALID';

export interface OnFailureRecordError {
  readonly kind: OnFailureRecordErrorKind;
  /** One line naming the first problems, for an operator. */
  readonly message: string;
  readonly issues: readonly SchemaIssue[];
}

export type ParseOnFailureRecordResult =
  | { readonly ok: true; readonly record: OnFailureRecord }
  | { readonly ok: false; readonly error: OnFailureRecordError };

/**
 * Reads one on-failure document: its parsed JSON value, or its text (a string is parsed as JSON
 * first). Never throws: a malformed document is for the caller to report.
 */
export function parseOnFailureRecord(json: unknown): ParseOnFailureRecordResult {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (error) {
      return fail('NOT_JSON', [{ path: '', message: (error as Error).message }]);
    }
  }
  const version =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>).version
      : undefined;
  if (typeof version === 'string' && !VERSION_PATTERN.test(version)) {
    return fail('UNSUPPORTED_VERSION', [
      { path: 'version', message: `"${version}" is not 1.x (the major this reader knows)` },
    ]);
  }
  const parsed = onFailureRecordSchema.safeParse(value);
  if (!parsed.success) {
    return fail(
      'INVALID',
      parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: issue.message,
      })),
    );
  }
  return { ok: true, record: parsed.data };
}

function fail(
  kind: OnFailureRecordErrorKind,
  issues: readonly SchemaIssue[],
): ParseOnFailureRecordResult {
  const what = {
    NOT_JSON: 'not JSON',
    UNSUPPORTED_VERSION: 'unsupported version',
    INVALID: 'not an on-failure invocation record',
  }[kind];
  const details = issues
    .slice(0, 3)
    .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
    .join('; ');
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : '';
  return { ok: false, error: { kind, message: `${what}: ${details}${more}`, issues } };
}

/** The Kafka records of the discarded batch: per topic-partition, each in offset order. */
export function recordsOf(record: OnFailureRecord): KafkaRecord[] {
  return partitionsOf(record.payload).flat();
}

// --- writing ----------------------------------------------------------------------------------

/** The MSK event as passed to the function (what the local emulator builds). */
export interface OnFailureEventInput {
  readonly eventSource?: string;
  readonly eventSourceArn?: string;
  readonly bootstrapServers?: string;
  readonly records: Readonly<
    Record<string, ReadonlyArray<MskRecordLike & { readonly timestamp: number }>>
  >;
}

export interface BuildOnFailureRecordInput {
  /** The invocation event exactly as the function received it (the last attempt's batch). */
  readonly event: OnFailureEventInput;
  /** The function's ARN; a bare name (local runs) is written as given. */
  readonly functionArn: string;
  readonly condition: OnFailureCondition;
  /** Invocations of this batch, retries included (0 when never invoked). */
  readonly approximateInvokeCount: number;
  /**
   * What the last invocation threw (a timeout counts), or undefined when it returned normally
   * with its failures in a partial batch response. Only its presence is recorded: AWS writes
   * `functionError: "Unhandled"`, never the message.
   */
  readonly error?: unknown;
  /** When the batch was discarded. */
  readonly timestamp: Date;
  /** Defaults to a random UUID (Lambda's request id of the last invocation). */
  readonly requestId?: string;
  /** Defaults to "$LATEST". */
  readonly executedVersion?: string;
}

/**
 * The document Lambda would write for a discarded batch. Throws RangeError on input that cannot
 * make a valid document (a record without a timestamp, a bad date): that is a caller bug.
 */
export function buildOnFailureRecord(input: BuildOnFailureRecordInput): OnFailureDocument {
  const payload = JSON.stringify(input.event);
  const groups = Object.entries(input.event.records).filter(([, records]) => records.length > 0);
  const recordsInfo = Object.fromEntries(
    groups.map(([key, records]) => {
      const sorted = [...records].sort((a, b) => compareOffsets(a.offset, b.offset));
      const first = sorted[0] as (typeof sorted)[number];
      const last = sorted[sorted.length - 1] as (typeof sorted)[number];
      return [
        key,
        {
          firstRecordOffset: String(first.offset),
          lastRecordOffset: String(last.offset),
          firstRecordTimestamp: isoOf(first.timestamp, `records.${key}: first record timestamp`),
          lastRecordTimestamp: isoOf(last.timestamp, `records.${key}: last record timestamp`),
        },
      ];
    }),
  );
  const document: OnFailureDocument = {
    requestContext: {
      requestId: input.requestId ?? randomUUID(),
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
    responseContext:
      input.condition === 'MaximumPayloadSizeExceeded'
        ? null
        : {
            statusCode: 200,
            executedVersion: input.executedVersion ?? '$LATEST',
            ...(input.error === undefined ? {} : { functionError: 'Unhandled' }),
          },
    version: ON_FAILURE_RECORD_VERSION,
    timestamp: isoOf(input.timestamp.getTime(), 'timestamp'),
    KafkaBatchInfo: {
      batchSize: groups.reduce((n, [, records]) => n + records.length, 0),
      ...(input.event.eventSourceArn === undefined
        ? {}
        : { eventSourceArn: input.event.eventSourceArn }),
      bootstrapServers: input.event.bootstrapServers ?? '',
      payloadSize: Buffer.byteLength(payload, 'utf8'),
      recordsInfo,
    },
    payload,
  };
  const checked = parseOnFailureRecord(document);
  if (!checked.ok) throw new RangeError(`invalid on-failure record: ${checked.error.message}`);
  return document;
}

// --- the S3 object key ------------------------------------------------------------------------

export interface OnFailureObjectKeyInput {
  /** The event source mapping's UUID. */
  readonly mappingUuid: string;
  /**
   * The key's `<shardID>` segment. The guide documents the layout for stream sources only; for
   * a Kafka batch this project uses the `records` key of its partition, `<topic>-<partition>`.
   */
  readonly shard: string;
  /** When the batch was discarded (the document's `timestamp`), rendered in UTC. */
  readonly timestamp: Date;
  /** The trailing `<Random UUID>`; defaults to a new one. */
  readonly id?: string;
}

/** `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>` */
export function onFailureObjectKey(input: OnFailureObjectKeyInput): string {
  for (const [name, value] of [
    ['mappingUuid', input.mappingUuid],
    ['shard', input.shard],
    ['id', input.id ?? ''],
  ] as const) {
    if (value.includes('/')) throw new RangeError(`${name} must not contain "/", got "${value}"`);
  }
  if (input.mappingUuid === '' || input.shard === '') {
    throw new RangeError('mappingUuid and shard must not be empty');
  }
  const iso = isoOf(input.timestamp.getTime(), 'timestamp');
  const [date = '', time = ''] = iso.split('T');
  const [year, month, day] = date.split('-');
  const hms = time.slice(0, 8).replaceAll(':', '.');
  return `aws/lambda/${input.mappingUuid}/${input.shard}/${year}/${month}/${day}/${date}T${hms}-${input.id ?? randomUUID()}`;
}

// --- helpers ----------------------------------------------------------------------------------

function isoOf(epochMs: number | undefined, what: string): string {
  const date = new Date(epochMs ?? Number.NaN);
  if (Number.isNaN(date.getTime())) throw new RangeError(`${what} is not a valid time`);
  return date.toISOString();
}

function compareOffsets(a: number | string, b: number | string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
