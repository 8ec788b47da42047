import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../tools/operations/cli';
import { DEFAULT_LIST_LIMIT, parseCommand } from '../../../../tools/operations/outbox/args';

const ID = '0b6a3c1e-8f2d-4e7a-9c11-2f4d5e6a7b8c';

describe('npm run outbox -- args', () => {
  it('prints help without a command', () => {
    for (const argv of [[], ['help'], ['--help'], ['-h']]) {
      expect(parseCommand(argv)).toEqual({ kind: 'help' });
    }
  });

  it('lists with a default limit, or the one given, optionally as JSON', () => {
    expect(parseCommand(['list'])).toEqual({
      kind: 'list',
      limit: DEFAULT_LIST_LIMIT,
      json: false,
    });
    expect(parseCommand(['list', '--limit', '5', '--json'])).toEqual({
      kind: 'list',
      limit: 5,
      json: true,
    });
  });

  it.each([['0'], ['-1'], ['1.5'], ['x'], ['10001']])('refuses --limit %s', (limit) => {
    expect(() => parseCommand(['list', `--limit=${limit}`])).toThrow(/--limit must be an integer/);
  });

  it('takes exactly one UUID for show, release and discard (lower-cased)', () => {
    expect(parseCommand(['show', ID.toUpperCase(), '--json'])).toEqual({
      kind: 'show',
      id: ID,
      json: true,
    });
    expect(parseCommand(['release', ID])).toEqual({ kind: 'release', id: ID });
    expect(() => parseCommand(['release'])).toThrow(/exactly one id/);
    expect(() => parseCommand(['release', ID, ID])).toThrow(/exactly one id/);
    expect(() => parseCommand(['show', '42'])).toThrow(/not an outbox row id/);
  });

  it('requires a non-empty --reason to discard', () => {
    expect(parseCommand(['discard', ID, '--reason', '  too big, resent as a link  '])).toEqual({
      kind: 'discard',
      id: ID,
      reason: 'too big, resent as a link',
    });
    expect(() => parseCommand(['discard', ID])).toThrow(/needs --reason/);
    expect(() => parseCommand(['discard', ID, '--reason', ' '])).toThrow(/needs --reason/);
    expect(() => parseCommand(['discard', ID, '--reason'])).toThrow(UsageError);
  });

  it('reports unknown commands, flags and stray arguments as usage errors', () => {
    expect(() => parseCommand(['purge'])).toThrow(/unknown command "purge"/);
    expect(() => parseCommand(['release', ID, '--force'])).toThrow(UsageError);
    expect(() => parseCommand(['list', 'extra'])).toThrow(/list takes no arguments/);
  });
});
