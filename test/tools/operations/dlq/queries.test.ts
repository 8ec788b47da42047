import { describe, expect, it } from 'vitest';
import {
  byIdsQuery,
  claimForRedriveQuery,
  filterClause,
  listQuery,
  markDiscardedQuery,
  markReplayedQuery,
  selectionQuery,
} from '../../../../tools/operations/dlq/queries';

describe('filterClause', () => {
  it('status only', () => {
    expect(filterClause({ status: 'PARKED' })).toEqual({ text: 'status = $1', values: ['PARKED'] });
  });

  it('every filter becomes a numbered parameter, in order', () => {
    const q = filterClause({
      status: 'PARKED',
      type: 'TRANSIENT',
      olderThanMs: 7_200_000,
      newerThanMs: 1_800_000 * 48,
      aggregate: "o'1; DROP TABLE dead_letters",
    });
    expect(q.values).toEqual([
      'PARKED',
      'TRANSIENT',
      7_200,
      86_400,
      "o'1; DROP TABLE dead_letters",
    ]);
    expect(q.text).toBe(
      'status = $1 AND error_type = $2' +
        ' AND parked_at <= now() - make_interval(secs => $3::double precision)' +
        ' AND parked_at >= now() - make_interval(secs => $4::double precision)' +
        ' AND aggregate_id = $5',
    );
  });

  it('never puts a value into the SQL text', () => {
    const q = filterClause({ status: 'DISCARDED', type: 'SCHEMA_VIOLATION', aggregate: 'agg-xyz' });
    for (const value of ['DISCARDED', 'SCHEMA_VIOLATION', 'agg-xyz']) {
      expect(q.text).not.toContain(value);
    }
  });
});

describe('listQuery', () => {
  it('orders oldest first and binds the limit after the filters', () => {
    const q = listQuery({ status: 'PARKED', aggregate: 'a', limit: 50 });
    expect(q.values).toEqual(['PARKED', 'a', 50]);
    expect(q.text).toMatch(
      /WHERE status = \$1 AND aggregate_id = \$2 ORDER BY parked_at, id LIMIT \$3$/,
    );
  });

  it('has no LIMIT without a limit', () => {
    const q = listQuery({ status: 'PARKED', type: 'TRANSIENT' });
    expect(q.text).not.toContain('LIMIT');
    expect(q.values).toEqual(['PARKED', 'TRANSIENT']);
  });
});

describe('selection and updates', () => {
  it('ids bind as one bigint array', () => {
    expect(selectionQuery({ kind: 'ids', ids: ['1', '9'] })).toEqual(byIdsQuery(['1', '9']));
    expect(byIdsQuery(['1', '9']).values).toEqual([['1', '9']]);
    expect(byIdsQuery(['1']).text).toContain('id = ANY($1::bigint[])');
  });

  it('filters select PARKED rows through listQuery', () => {
    const filters = { status: 'PARKED', type: 'TRANSIENT' } as const;
    expect(selectionQuery({ kind: 'filters', filters })).toEqual(listQuery(filters));
  });

  it('the redrive claim locks only a PARKED row and skips locked ones', () => {
    const q = claimForRedriveQuery('5');
    expect(q.values).toEqual(['5']);
    expect(q.text).toMatch(/status = 'PARKED'\s+FOR UPDATE SKIP LOCKED/);
  });

  it('updates only change PARKED rows and set resolved_at, never delete', () => {
    for (const q of [markReplayedQuery('5'), markDiscardedQuery(['5', '6'])]) {
      expect(q.text).toMatch(
        /^UPDATE dead_letters SET status = '(REPLAYED|DISCARDED)', resolved_at = now\(\)/,
      );
      expect(q.text).toContain("AND status = 'PARKED'");
      expect(q.text).not.toMatch(/DELETE/i);
    }
    expect(markDiscardedQuery(['5', '6']).values).toEqual([['5', '6']]);
  });
});
