// `dlq recover`: parks the dead-letter records of batches the triage mapping gave up on. Lambda
// writes each discarded batch to the mapping's S3 on-failure destination as one document (the
// local emulator writes the same documents as files); every Kafka record in it is parked into
// `dead_letters` exactly as triage parks a dead letter, so `list`/`redrive` then work on them.
// Parking is idempotent (ON CONFLICT on source position + record digest): re-running parks
// nothing twice, and a record triage had already parked is found, not duplicated.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import {
  type DlqRecord,
  intrinsicReason,
  PARK_KINDS,
  type Parkable,
  parkableDeadLetter,
  parkDeadLetter,
  parkReason,
  type Queryable as TriageQueryable,
} from '../../../lambdas/dlq-triage/triage';
import { type DeadLetterRow, toDeadLetterRow } from '../../../lambdas/shared/dead-letter/message';
import { parseOnFailureRecord, recordsOf } from '../../../lambdas/shared/kafka/on-failure-record';
import { EXIT, errorText } from '../cli';
import type { DlqDeps } from './actions';
import type { Command, RecoverSource } from './args';
import { parkedRecordQuery } from './queries';

// --- where the documents are ----------------------------------------------------------------

/** A place holding on-failure documents, one per name (a file path or an S3 key). */
export interface OnFailureSource {
  /** For messages: the directory, or s3://bucket/prefix. */
  readonly description: string;
  /** Every document name, in a stable order. Throws when the place cannot be listed. */
  names(): AsyncIterable<string>;
  /** One document's text. Throws when it cannot be read (reported, then skipped). */
  read(name: string): Promise<string>;
}

/**
 * Every regular file under `dir`, recursively, sorted by path (the emulator may mirror the S3
 * key layout into subdirectories). Dotfiles and dot-directories are skipped.
 */
export function directorySource(dir: string): OnFailureSource {
  return {
    description: dir,
    async *names() {
      const files: string[] = [];
      const walk = async (path: string): Promise<void> => {
        for (const entry of await readdir(join(dir, path), { withFileTypes: true })) {
          if (entry.name.startsWith('.')) continue;
          const child = path === '' ? entry.name : join(path, entry.name);
          if (entry.isDirectory()) await walk(child);
          else if (entry.isFile()) files.push(child);
        }
      };
      await walk('');
      yield* files.sort();
    },
    read: (name) => readFile(join(dir, name), 'utf8'),
  };
}

/** The slice of S3Client used here; unit tests pass a stub answering with recorded responses. */
export interface S3Sender {
  send(command: ListObjectsV2Command): Promise<ListObjectsV2CommandOutput>;
  send(command: GetObjectCommand): Promise<GetObjectCommandOutput>;
}

/**
 * Every object under the prefix (ListObjectsV2, following NextContinuationToken), in the key
 * order S3 lists them; "folder" placeholder keys ending in "/" are skipped. Each read is a
 * GetObject of the whole body as UTF-8 text.
 */
export function s3Source(
  client: S3Sender,
  location: { readonly bucket: string; readonly prefix: string },
): OnFailureSource {
  const { bucket, prefix } = location;
  return {
    description: `s3://${bucket}/${prefix}`,
    async *names() {
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...(prefix === '' ? {} : { Prefix: prefix }),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key !== undefined && !object.Key.endsWith('/')) yield object.Key;
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        if (page.IsTruncated === true && token === undefined) {
          throw new Error(`ListObjectsV2 on ${bucket} was truncated without a continuation token`);
        }
      } while (token !== undefined);
    },
    async read(key) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (object.Body === undefined) throw new Error('GetObject returned no body');
      return object.Body.transformToString('utf-8');
    },
  };
}

// --- what triage would park -----------------------------------------------------------------

/** What triage would park for a record: triage's own function (`parkableDeadLetter`). */
export const parkableOf = parkableDeadLetter;

// --- the command ----------------------------------------------------------------------------

export interface RecoverSummary {
  documents: number;
  unreadableDocuments: number;
  records: number;
  /** Records that were not readable dead letters (salvaged, raw backstop records, garbage). */
  unreadableRecords: number;
  parked: number;
  alreadyParked: number;
}

export function formatSummary(summary: RecoverSummary, dryRun: boolean): string {
  const s = summary;
  const parked = dryRun ? `would park ${s.parked}` : `parked ${s.parked}`;
  return (
    `dlq: recover${dryRun ? ' (dry run)' : ''}: documents read ${s.documents}` +
    ` (unreadable ${s.unreadableDocuments}), records ${s.records}` +
    ` (not dead letters ${s.unreadableRecords}), ${parked}, already parked ${s.alreadyParked}` +
    (dryRun ? '; nothing changed' : '')
  );
}

/** `dlq-topic/partition@offset`: where the record sat in the dead-letter topic. */
function positionOf(record: DlqRecord): string {
  return `${record.topic}/${record.partition}@${record.offset}`;
}

function describe(parkable: Parkable): string {
  const m = parkable.message;
  const what = [m.errorType, m.eventType ?? '-', m.aggregateId ?? '-'].join(' ');
  const source = `source ${m.source.topic}/${m.source.partition}@${m.source.offset}`;
  const read = parkable.readAs === undefined ? '' : `, not a dead letter: ${parkable.readAs}`;
  return `${what} (${source}${read})`;
}

/** The park_reason of a recovered record: why it is parked, then where it came back from. */
export function recoveredReason(parkable: Parkable, document: string, condition: string): string {
  const why =
    intrinsicReason(parkable) ??
    `${PARK_KINDS.recovered}: a dead letter of a batch the triage mapping discarded`;
  return parkReason(
    parkable,
    `${why}; recovered from the triage backstop (${document}, ${condition})`,
  );
}

export type OpenSource = (source: RecoverSource) => OnFailureSource;

export async function recover(
  command: Extract<Command, { kind: 'recover' }>,
  deps: DlqDeps,
): Promise<number> {
  const { output } = deps;
  if (deps.openSource === undefined) throw new Error('recover needs deps.openSource');
  const source = deps.openSource(command.source);
  const summary: RecoverSummary = {
    documents: 0,
    unreadableDocuments: 0,
    records: 0,
    unreadableRecords: 0,
    parked: 0,
    alreadyParked: 0,
  };
  const db: TriageQueryable = {
    query: (text, values) => deps.db.query({ text, values: values ?? [] }),
  };
  /** Dry run: records found not parked yet, by their dead_letters key. */
  const willPark = new Set<string>();
  const lookUp = async (key: Parameters<typeof parkedRecordQuery>[0]) => {
    const { rows } = await deps.db.query<{ id: string; status: string }>(parkedRecordQuery(key));
    return rows[0];
  };

  for await (const name of source.names()) {
    let text: string;
    try {
      text = await source.read(name);
    } catch (error) {
      summary.unreadableDocuments++;
      output.err(`dlq: ${name}: cannot be read: ${errorText(error)}; skipped`);
      continue;
    }
    const parsed = parseOnFailureRecord(text);
    if (!parsed.ok) {
      summary.unreadableDocuments++;
      output.err(`dlq: ${name}: unreadable on-failure document (${parsed.error.message}); skipped`);
      continue;
    }
    summary.documents++;
    // Triage's clock for an unreadable record: when Lambda gave up on the batch.
    const now = Date.parse(parsed.record.timestamp);
    const condition = parsed.record.requestContext.condition;
    for (const record of recordsOf(parsed.record)) {
      summary.records++;
      const parkable = parkableOf(record, now);
      if (parkable.readAs !== undefined) summary.unreadableRecords++;
      const at = `${positionOf(record)} [${name}]`;
      try {
        if (command.dryRun) {
          // A record in several documents (a retried batch) would park once: say so here too.
          const rowKey = toDeadLetterRow(parkable.message, now);
          const key = keyOf(rowKey);
          const row = willPark.has(key) ? undefined : await lookUp(rowKey);
          if (willPark.has(key)) {
            summary.alreadyParked++;
            output.out(`already parked (earlier in this run) ${at}: ${describe(parkable)}`);
          } else if (row === undefined) {
            willPark.add(key);
            summary.parked++;
            output.out(`would park ${at}: ${describe(parkable)}`);
          } else {
            summary.alreadyParked++;
            output.out(`already parked #${row.id} (${row.status}) ${at}: ${describe(parkable)}`);
          }
          continue;
        }
        const result = await parkDeadLetter(
          db,
          parkable,
          recoveredReason(parkable, name, condition),
          record,
          now,
        );
        const row = await lookUp(result.key);
        const id = row === undefined ? '' : ` #${row.id}`;
        if (result.inserted) {
          summary.parked++;
          output.out(`parked${id} ${at}: ${describe(parkable)}`);
        } else {
          summary.alreadyParked++;
          output.out(
            `already parked${id}${row === undefined ? '' : ` (${row.status})`} ${at}: ${describe(parkable)}`,
          );
        }
      } catch (error) {
        // The database is likely down for the rest too. Parking is idempotent: re-run.
        const what = command.dryRun ? 'looking it up' : 'parking';
        output.err(`dlq: ${at}: ${what} failed: ${errorText(error)}`);
        output.err(formatSummary(summary, command.dryRun));
        output.err('dlq: stopped; re-run recover once the database answers (nothing parks twice)');
        return EXIT.failure;
      }
    }
  }
  if (summary.documents + summary.unreadableDocuments === 0) {
    output.err(`dlq: no on-failure documents in ${source.description}`);
  }
  output.err(formatSummary(summary, command.dryRun));
  if (summary.unreadableDocuments > 0) {
    output.err(
      `dlq: ${summary.unreadableDocuments} document(s) could not be read: their records are not parked`,
    );
    return EXIT.failure;
  }
  return EXIT.ok;
}

/** The `dead_letters_record_key` of a row, as one string. */
function keyOf(
  row: Pick<DeadLetterRow, 'source_topic' | 'source_partition' | 'source_offset' | 'record_digest'>,
): string {
  return JSON.stringify([
    row.source_topic,
    row.source_partition,
    row.source_offset,
    row.record_digest,
  ]);
}
