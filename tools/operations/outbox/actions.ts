// What each `npm run outbox` command does, over a pg pool and an output sink (the integration
// test drives it against a real database). Exit codes: 0 done, 1 failure, 2 usage.
import type { Pool } from 'pg';
import { toMessage } from '../../../lambdas/outbox-relay/relay';
import { estimateRecordBytes } from '../../../lambdas/shared/kafka/record-size';
import type { OutboxRow } from '../../../lambdas/shared/outbox/outbox';
import {
  discardSetAside,
  getOutboxRow,
  listSetAside,
  type ResolveResult,
  releaseSetAside,
} from '../../../lambdas/shared/outbox/set-aside';
import { EXIT, type Output, table } from '../cli';
import type { Command } from './args';

// The oversized drill reads the exit codes from here.
export { EXIT };

export interface OutboxCliDeps {
  readonly pool: Pick<Pool, 'query' | 'connect'>;
  readonly output: Output;
}

/** The record size the relay estimates for the row (what it compares with the topic's limit). */
function recordBytes(row: Pick<OutboxRow, 'aggregateId' | 'payload' | 'headers'>): number {
  return estimateRecordBytes(toMessage(row as OutboxRow));
}

function resolved(
  output: Output,
  id: string,
  verb: 'release' | 'discard',
  result: ResolveResult,
): number {
  if (!result.ok) {
    output.err(
      result.problem === 'not-found'
        ? `outbox: no outbox row ${id}`
        : `outbox: row ${id} is not set aside; nothing to ${verb}`,
    );
    return EXIT.failure;
  }
  output.err(
    `outbox: ${verb === 'release' ? 'released' : 'discarded'} ${id} (aggregate ${result.aggregateId}); ${result.released} held row(s) of the aggregate flow again`,
  );
  return EXIT.ok;
}

export async function run(command: Command, deps: OutboxCliDeps): Promise<number> {
  const { pool, output } = deps;
  switch (command.kind) {
    case 'help':
      return EXIT.ok;
    case 'list': {
      const rows = await listSetAside(pool, command.limit);
      const view = rows.map((r) => ({
        id: r.id,
        seq: r.seq,
        aggregateId: r.aggregateId,
        eventType: r.eventType,
        setAsideAt: r.setAsideAt.toISOString(),
        recordBytes: recordBytes(r),
        held: r.held,
        reason: r.reason,
      }));
      if (command.json) {
        output.out(JSON.stringify(view, null, 2));
      } else if (view.length === 0) {
        output.err('outbox: no row is set aside');
      } else {
        const header = [
          'ID',
          'SEQ',
          'AGGREGATE',
          'EVENT',
          'SET ASIDE AT',
          'BYTES',
          'HELD',
          'REASON',
        ];
        const cells = view.map((v) => [
          v.id,
          v.seq,
          v.aggregateId,
          v.eventType,
          v.setAsideAt,
          String(v.recordBytes),
          String(v.held),
          v.reason,
        ]);
        for (const line of table(header, cells)) output.out(line);
      }
      return EXIT.ok;
    }
    case 'show': {
      const row = await getOutboxRow(pool, command.id);
      if (row === undefined) {
        output.err(`outbox: no outbox row ${command.id}`);
        return EXIT.failure;
      }
      const state =
        row.publishedAt !== null
          ? 'published'
          : row.discardedAt !== null
            ? 'discarded'
            : row.setAsideAt !== null
              ? 'set aside'
              : 'pending';
      if (command.json) {
        output.out(JSON.stringify({ ...row, state, recordBytes: recordBytes(row) }, null, 2));
        return EXIT.ok;
      }
      const iso = (d: Date | null) => d?.toISOString() ?? '-';
      const value = JSON.stringify(row.payload);
      output.out(`id            ${row.id}`);
      output.out(`state         ${state}`);
      output.out(`seq           ${row.seq}`);
      output.out(`aggregate     ${row.aggregateId}`);
      output.out(`event type    ${row.eventType}`);
      output.out(`created at    ${iso(row.createdAt)}`);
      output.out(`set aside at  ${iso(row.setAsideAt)}`);
      output.out(`reason        ${row.setAsideReason ?? '-'}`);
      output.out(`published at  ${iso(row.publishedAt)}`);
      output.out(`discarded at  ${iso(row.discardedAt)}`);
      output.out(`discard why   ${row.discardReason ?? '-'}`);
      output.out(`record bytes  ${recordBytes(row)} (the relay's estimate)`);
      output.out(`headers       ${JSON.stringify(row.headers)}`);
      output.out(
        `value         ${value.length > 200 ? `${value.slice(0, 200)}… (${value.length} chars; --json for all)` : value}`,
      );
      output.out(`held behind   ${row.heldRows.length}`);
      for (const h of row.heldRows) {
        output.out(`  seq ${h.seq}  ${h.id}  ${h.eventType}  ${h.createdAt.toISOString()}`);
      }
      return EXIT.ok;
    }
    case 'release':
      return resolved(output, command.id, 'release', await releaseSetAside(pool, command.id));
    case 'discard':
      return resolved(
        output,
        command.id,
        'discard',
        await discardSetAside(pool, command.id, command.reason),
      );
  }
}
