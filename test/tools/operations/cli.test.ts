import { describe, expect, it } from 'vitest';
import { EnvError } from '../../../lambdas/shared/env';
import { loadStageConfig } from '../../../lib/config/stage-config';
import {
  type Cli,
  cliPool,
  EXIT,
  errorText,
  execute,
  isHelp,
  noArguments,
  oneId,
  parseFlags,
  positiveInt,
  table,
  UsageError,
} from '../../../tools/operations/cli';

describe('arguments', () => {
  it('help is no command, help, --help or -h', () => {
    for (const word of [undefined, 'help', '--help', '-h']) expect(isHelp(word)).toBe(true);
    for (const word of ['list', '-help', 'HELP', '']) expect(isHelp(word)).toBe(false);
  });

  it('parses flags (both --flag value and --flag=value, short aliases) and positionals', () => {
    const options = {
      limit: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
    } as const;
    expect(parseFlags(['7', '--limit', '5', '-y', '8'], options)).toEqual({
      values: { limit: '5', yes: true },
      positionals: ['7', '8'],
    });
    expect(parseFlags(['--limit=3'], options).values).toEqual({ limit: '3' });
  });

  it('reports unknown flags and missing values as usage errors', () => {
    expect(() => parseFlags(['--force'], {})).toThrow(UsageError);
    expect(() => parseFlags(['--force'], {})).toThrow(/--force/);
    expect(() => parseFlags(['--limit'], { limit: { type: 'string' } })).toThrow(UsageError);
  });

  it('refuses stray arguments, and anything but exactly one id', () => {
    expect(() => noArguments('list', [])).not.toThrow();
    expect(() => noArguments('list', ['a', 'b'])).toThrow(
      new UsageError('list takes no arguments: a'),
    );
    expect(oneId('show', ['42'])).toBe('42');
    for (const positionals of [[], ['1', '2']]) {
      expect(() => oneId('show', positionals)).toThrow(new UsageError('show takes exactly one id'));
    }
  });

  it.each(['0', '-1', '1.5', 'x', '', '11'])('refuses --limit %j', (text) => {
    expect(() => positiveInt('limit', text, 10)).toThrow(
      new UsageError(`--limit must be an integer from 1 to 10, got "${text}"`),
    );
  });

  it('accepts integers from 1 to the maximum', () => {
    expect(positiveInt('limit', '1', 10)).toBe(1);
    expect(positiveInt('limit', '10', 10)).toBe(10);
  });
});

describe('output', () => {
  it('aligns columns two spaces apart without padding the last one', () => {
    expect(
      table(
        ['ID', 'NAME', 'NOTE'],
        [
          ['1', 'a', 'short'],
          ['1234', 'bbbbbb', ''],
        ],
      ),
    ).toEqual(['ID    NAME    NOTE', '1     a       short', '1234  bbbbbb']);
  });

  it('gives an error its message, anything else as a string', () => {
    expect(errorText(new Error('boom'))).toBe('boom');
    expect(errorText('plain')).toBe('plain');
  });
});

describe('cliPool', () => {
  it("is the endpoint's, at most 2 connections named after the CLI, whatever PG_POOL_MAX says", async () => {
    const pool = cliPool('tool', { PGHOST: 'db.internal', PGPORT: '6432', PG_POOL_MAX: '10' });
    try {
      expect(pool.options).toMatchObject({
        host: 'db.internal',
        port: 6432,
        max: 2,
        application_name: 'tool-cli',
        // The stage's client timeouts (dev without STAGE).
        connectionTimeoutMillis: loadStageConfig('dev').database.connectTimeoutMs,
        idleTimeoutMillis: loadStageConfig('dev').database.idleTimeoutMs,
      });
    } finally {
      await pool.end();
    }
  });

  it('reports a wrong endpoint variable as a configuration error', () => {
    expect(() => cliPool('tool', { PGPORT: 'abc' })).toThrow(EnvError);
  });
});

type Command = { readonly kind: 'help' } | { readonly kind: 'go' };

function invoke(argv: string[], run: Cli<Command>['run'] = async () => 7) {
  const out: string[] = [];
  const err: string[] = [];
  const ran: Command[] = [];
  const cli: Cli<Command> = {
    name: 'tool',
    usage: 'usage: tool go',
    parse: ([word]) => {
      if (isHelp(word)) return { kind: 'help' };
      if (word === 'go') return { kind: 'go' };
      if (word === 'bug') throw new TypeError('parser bug');
      throw new UsageError(`unknown command "${word}"`);
    },
    run: (command) => {
      ran.push(command);
      return run(command);
    },
  };
  return execute(cli, argv, { out: (l) => out.push(l), err: (l) => err.push(l) }).then((code) => ({
    code,
    out,
    err,
    ran,
  }));
}

describe('execute', () => {
  it('prints the usage on stdout for help, without running anything', async () => {
    expect(await invoke(['--help'])).toEqual({
      code: EXIT.ok,
      out: ['usage: tool go'],
      err: [],
      ran: [],
    });
  });

  it('a usage error: the message and the usage on stderr, exit 2, nothing run', async () => {
    expect(await invoke(['purge'])).toEqual({
      code: EXIT.usage,
      out: [],
      err: ['tool: unknown command "purge"\n\nusage: tool go'],
      ran: [],
    });
  });

  it("runs the command and exits with the action's code", async () => {
    expect(await invoke(['go'])).toMatchObject({ code: 7, ran: [{ kind: 'go' }], err: [] });
  });

  it('a configuration or connection error: its message only, exit 1', async () => {
    const envError = new EnvError('PGPORT', 'must be an integer');
    const connection = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    for (const error of [envError, connection]) {
      const result = await invoke(['go'], () => Promise.reject(error));
      expect(result).toMatchObject({ code: EXIT.failure, out: [] });
      expect(result.err).toEqual([`tool: error: ${error.message}`]);
    }
  });

  it('an unexpected error, in the action or the parser: its message and stack, exit 1', async () => {
    const bug = await invoke(['go'], () => Promise.reject(new RangeError('off by one')));
    expect(bug.code).toBe(EXIT.failure);
    expect(bug.err[0]).toBe('tool: error: off by one');
    expect(bug.err[1]).toMatch(/^RangeError: off by one\n\s+at /);

    const parser = await invoke(['bug']);
    expect(parser).toMatchObject({ code: EXIT.failure, ran: [] });
    expect(parser.err[0]).toBe('tool: error: parser bug');
    expect(parser.err[1]).toMatch(/^TypeError: parser bug/);
  });

  it('a thrown non-Error: its text, exit 1', async () => {
    const result = await invoke(['go'], () => Promise.reject('gone'));
    expect(result).toMatchObject({ code: EXIT.failure, err: ['tool: error: gone'] });
  });
});
